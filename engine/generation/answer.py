"""Grounded answers: retrieve, read the best sentences, stream, check every sentence against its passage.

The model writes; the app checks. Each answer sentence gets quotes, the sentences of the passages
given to the model that hold its words (``support.py``); a sentence none of them holds is left out,
and an answer left with no supported sentence, or whose quoted sentences miss what the question asks
about while its passages speak of it elsewhere (``checks.coverage``), is declined with what was searched
and the closest passages.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Literal

from engine.generation import speeds
from engine.generation.checks import coverage, stem_weights
from engine.generation.evidence import focus_passages, rank_passages
from engine.generation.llm import Generator
from engine.generation.models import reading_for
from engine.generation.prompt import REFUSAL, answer_messages, condense_messages, fit_passages
from engine.generation.sentences import sentence_spans
from engine.generation.support import (
    MARKER,
    QUESTION_FORM_WORDS,
    AnswerSentence,
    SupportFinder,
    answer_sentence_spans,
    markers_in,
)
from engine.library import Searcher
from engine.records import Citation, Hit, Quote
from engine.retrieval.search import Scope, content_words
from engine.settings import Settings

NOT_FOUND_MESSAGE = "I could not find the answer to this in your documents."
NO_DOCUMENTS_MESSAGE = "There are no indexed documents to answer from yet. Add a folder or files first."
# Below this cosine and with no keyword match, nothing retrieved is about the question.
MIN_SIMILARITY = 0.2
CANDIDATES = 8  # passages retrieved before the best are chosen for the prompt
CLOSEST_SHOWN = 3  # passages a decline offers

_REFUSAL_PATTERNS = re.compile(
    r"documents? (do|does) not (say|contain|mention|provide|include|specify)|not (mentioned|stated|specified|"
    r"provided|found) in the (documents?|text|context)|no (information|mention) (about|of|on|regarding)|"
    r"(cannot|can't|could not|couldn't) (find|determine|answer)", re.IGNORECASE)

Decision = Literal["answered", "refused by the model", "no support", "question not covered",
                   "restates the question", "only list numbers", "the model was unsure",
                   "the model doubted the documents", "stopped"]


@dataclass
class Answer:
    question: str
    standalone_question: str
    text: str
    citations: list[Citation]
    grounded: bool
    passages: list[Hit]  # what the model read; for a decline, the closest passages found
    timings: dict[str, float]
    model: str
    stopped: bool = False
    notice: str = ""  # a plain reason when the answer is a refusal (no documents, nothing relevant)
    sentences: list[AnswerSentence] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # sentences of the reply no passage supports
    checks: dict[str, float] = field(default_factory=dict)  # the signals the decision rests on
    decision: Decision = "answered"

    @property
    def closest(self) -> list[Hit]:
        """For a decline: the passages that came nearest, for the person to look at themselves."""
        return [] if self.grounded else self.passages[:CLOSEST_SHOWN]

    def to_json(self) -> dict[str, object]:
        return {"answer": self.text, "citations": [c.to_json() for c in self.citations], "grounded": self.grounded,
                "sentences": [s.to_json() for s in self.sentences], "left_out": self.left_out,
                "decision": self.decision, "notice": self.notice,
                "closest": [{"path": h.path, "page": h.page, "start": h.start, "end": h.end, "text": h.text}
                            for h in self.closest],
                "checks": {k: round(v, 3) for k, v in self.checks.items()},
                "timings": {k: round(v, 1) for k, v in self.timings.items()}, "model": self.model}


@dataclass
class AnswerEvent:
    kind: Literal["status", "token", "done"]
    text: str = ""
    answer: Answer | None = None
    extra: dict[str, object] = field(default_factory=dict)


def is_refusal(text: str) -> bool:
    stripped = text.strip()
    return not stripped or REFUSAL.lower().rstrip(".") in stripped.lower() or bool(
        _REFUSAL_PATTERNS.search(stripped[:200]))


# The model starting the next turn itself ("Question: …", "User: …") or repeating a sentence it already wrote: small
# models do both (SmolLM2-135M repeated "The document does not say. / Question: …" thirty times until stopped).
_NEXT_TURN = re.compile(r"(?:\n|(?<=[.!?])[^\S\n]+)\s*(?:question|user|human|assistant)\s*:", re.IGNORECASE)
MIN_REPEATED_CHARS = 20


def runaway_end(text: str) -> int | None:
    """Where the reply stops being an answer: the start of an invented next turn or of a sentence's second
    occurrence; None while it is still an answer."""
    turn = _NEXT_TURN.search(text)
    seen: set[str] = set()
    for start, end in sentence_spans(text):
        sentence = " ".join(MARKER.sub("", text[start:end]).lower().split())
        if len(sentence) >= MIN_REPEATED_CHARS and sentence in seen and end < len(text):
            return min(start, turn.start()) if turn else start
        seen.add(sentence)
    return turn.start() if turn else None


def with_markers(sentence: str, numbers: Sequence[int]) -> str:
    """``sentence`` with its markers replaced by ``numbers``, placed before its closing punctuation."""
    bare = re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", sentence)).strip()
    if not numbers:
        return bare
    markers = "".join(f"[{n}]" for n in numbers)
    match = re.match(r"^(.*?)([.!?…:]*)$", bare, re.DOTALL)
    assert match is not None
    return f"{match.group(1)} {markers}{match.group(2)}"


def check_sentences(reply: str, finder: SupportFinder, question: str) -> tuple[list[AnswerSentence], list[str]]:
    """Each sentence of the reply with its quotes and citation numbers; the sentences no passage supports."""
    kept: list[AnswerSentence] = []
    left_out: list[str] = []
    for start, end in answer_sentence_spans(reply):
        checked = finder.support(reply[start:end], markers_in(reply[start:end]), question)
        if checked.supported:
            checked.text = with_markers(checked.text, checked.citations)
            kept.append(checked)
        elif MARKER.sub("", checked.text).strip(" .,;:"):
            left_out.append(MARKER.sub("", checked.text).strip())
    return kept, left_out


# "Is it 720 or 950 euros?" is answered with words of the question.
_OFFERS_A_CHOICE = re.compile(r"\bor\b", re.IGNORECASE)


def word_form(word: str) -> str:
    """A word as the restated-question rule compares it: lower case, a plural "s" dropped. Not the six-letter
    stem the support check uses, which made "Normandy" the same word as the question's "Normans" and declined
    the right answer."""
    word = word.lower()
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def word_forms(text: str) -> set[str]:
    return {word_form(w) for w in content_words(MARKER.sub(" ", text))}


# Words a reply uses about the documents rather than from them ("the options in the documents make ...").
_ABOUT_THE_DOCUMENTS = frozenset(word_form(w) for w in ("document", "passage", "text"))
_QUESTION_FORMS = frozenset(word_form(w) for w in QUESTION_FORM_WORDS)


def words_beyond(question: str, sentences: Sequence[str]) -> set[str]:
    """Content words of the answer's sentences (as ``word_form``) that the question does not hold."""
    said: set[str] = set()
    for sentence in sentences:
        said |= word_forms(sentence)
    return said - word_forms(question) - _QUESTION_FORMS - _ABOUT_THE_DOCUMENTS


def restates_the_question(question: str, new_words: AbstractSet[str]) -> bool:
    """The reply (``new_words``: its ``words_beyond`` the question) only says the question back ("The parameter
    sets the font used for Japanese text [2]" to "Which parameter sets the font used for Japanese text?"), which
    the small models write when the passages lack the answer. On the saved benchmark runs (0.5B and 1.5B,
    squad-dev and realdocs, 96 replies; measured when words were compared by six-letter stems) this caught 4
    answers to unanswerable questions and no right answer: a
    right one holds the name, number or word asked for, unless the question offers a choice."""
    return not new_words and not _OFFERS_A_CHOICE.search(question)


def confidence_signals(tokens: Sequence[tuple[str, float]], new_words: AbstractSet[str]) -> dict[str, float]:
    """How sure the model was of its reply (``tokens``: each token's text and log-probability): the geometric
    mean of all its tokens' probabilities, and over the first token of each word it did not take from the
    question (the words that answer it) their geometric mean and the least of them. Empty where unknown."""
    if not tokens:
        return {}
    logprobs = [lp for _, lp in tokens]
    text, starts = "", []
    for piece, _ in tokens:
        starts.append(len(text))
        text += piece
    answering = [logprobs[bisect.bisect_right(starts, m.start()) - 1] for m in re.finditer(r"\w+", text)
                 if word_form(m.group()) in new_words]
    found = {"confidence": math.exp(sum(logprobs) / len(logprobs))}
    if answering:
        found.update(answer_confidence=math.exp(sum(answering) / len(answering)),
                     weakest_answer_word=math.exp(min(answering)))
    return found


def not_covered(checks: dict[str, float], settings: Settings) -> bool:
    """The sentences the answer rests on miss what the question asks about: they hold too little of its rarer
    words (only where the model's own doubt is not known, from a server: where it is, it takes this check's place;
    on two runs of bench.answers the doubt declined more unanswerable questions than the coverage floor, for no
    more answerable ones), or its cited passages hold them elsewhere while the model was unsure of its answer."""
    too_little = "doubt" not in checks and checks["quote_coverage"] < settings.min_question_coverage
    return (too_little
            or (checks["misplaced"] > settings.max_misplaced_coverage
                and checks.get("answer_confidence", 0.0) < settings.sure_of_misplaced))


_BARE_NUMBER = re.compile(r"[\d\s.,:;()\-]*")


def only_list_numbers(sentences: Sequence[str]) -> bool:
    """The reply is a list of bare numbers ("1 [1]. 2 [1]. 3 [1]."): the small model starting a numbered list
    and writing nothing after each number. Every support check passes it (the digits are on the page); on the
    saved benchmark runs it was only ever the reply to an unanswerable "how do I" question. A single number can
    be an answer ("How many...?" "70 [1]"), so one is left to the other checks."""
    return len(sentences) > 1 and all(_BARE_NUMBER.fullmatch(MARKER.sub("", s)) for s in sentences)


def decline_reason(question: str, sentences: Sequence[str], new_words: AbstractSet[str], checks: dict[str, float],
                   settings: Settings) -> Decision | None:
    """Why an answer whose sentences are all supported is declined all the same, or None to give it: the rules in
    the order the app applies them (``sentences``: their text; ``new_words``: their ``words_beyond`` the question;
    ``checks``: the signals, ``confidence_signals`` among them). bench.answers --rescore applies the same."""
    if not_covered(checks, settings):
        return "question not covered"
    if restates_the_question(question, new_words):
        return "restates the question"
    if only_list_numbers(sentences):
        return "only list numbers"
    if checks.get("answer_confidence", 1.0) < settings.min_answer_confidence:
        return "the model was unsure"
    if checks.get("doubt", 0.0) > settings.max_doubt:
        return "the model doubted the documents"
    return None


def citations_for(sentences: Sequence[AnswerSentence], passages: Sequence[Hit]) -> list[Citation]:
    quotes: dict[int, list[Quote]] = {}
    for sentence in sentences:
        for n in sentence.citations:
            quotes.setdefault(n, [])
        for quote in sentence.quotes:
            if quote not in quotes[quote.n]:
                quotes[quote.n].append(quote)
    citations = []
    for n in sorted(quotes):
        hit = passages[n - 1]
        citations.append(Citation(n=n, path=hit.path, page=hit.page, start=hit.start, end=hit.end, text=hit.text,
                                  title=hit.title, section=hit.section, document_id=hit.document_id,
                                  quotes=tuple(sorted(quotes[n], key=lambda q: q.start))))
    return citations


def join_sentences(sentences: Sequence[AnswerSentence], reply: str) -> str:
    """The kept sentences, on separate lines where the reply was a list, else as one paragraph."""
    separator = "\n" if "\n" in reply.strip() else " "
    return separator.join(s.text for s in sentences)


def decline_notice(question: str, passages: Sequence[Hit]) -> str:
    """What a decline says: that nothing answered, what was searched for, where the nearest passages are."""
    words = [w for w in dict.fromkeys(content_words(question)) if w not in QUESTION_FORM_WORDS]
    searched = f" I searched for: {', '.join(words)}." if words else ""
    nearest = ""
    if passages:
        closest = passages[:CLOSEST_SHOWN]
        documents = len({h.path for h in closest})
        nearest = (f" The closest passages ({len(closest)}, from {documents} "
                   f"document{'s' if documents != 1 else ''}) are listed below; they do not say it.")
    return f"{NOT_FOUND_MESSAGE}{searched}{nearest}"


class Answerer:
    def __init__(self, retriever: Searcher, generator: Callable[[], Generator], settings: Settings) -> None:
        self.retriever = retriever
        self._generator_factory = generator
        self.settings = settings

    def standalone(self, question: str, history: Sequence[tuple[str, str]], generator: Generator,
                   stop: threading.Event | None) -> str:
        """The question rewritten to stand alone (for retrieval), when there is a conversation."""
        if not history:
            return question
        reply = "".join(generator.stream_chat(condense_messages(question, history), max_tokens=64, temperature=0.0,
                                              stop=stop)).strip().strip('"')
        rewritten = reply.splitlines()[0].strip() if reply else ""
        if not rewritten or len(rewritten) > 4 * len(question) + 200:
            return f"{history[-1][0]} {question}"  # fall back: the previous question gives the topic
        return rewritten

    def candidates(self, standalone: str, collection: Scope) -> list[Hit]:
        """The passages found for the question that are about it at all (a keyword match or a fair cosine)."""
        hits = self.retriever.search(standalone, k=max(self.settings.passages * 2, CANDIDATES), collection=collection)
        return [h for h in hits if h.similarity >= MIN_SIMILARITY or "keyword" in h.ranks]

    def choose_passages(self, standalone: str, relevant: Sequence[Hit], generator: Generator,
                        history: Sequence[tuple[str, str]]) -> tuple[list[Hit], dict[str, float]]:
        """The passages the model reads, each focused on its best sentences, re-ranked (the best one then focused
        again within ``best_passage_tokens`` where that is set), fitted to the context; and the question's word
        weights (one lookup of the library's counts per question)."""
        budget = generator.n_ctx - self.settings.max_answer_tokens - 64
        count, best_tokens = self.reading(generator)
        focused = focus_passages(standalone, relevant, generator.count_tokens, self.settings.passage_tokens)
        weights = stem_weights(standalone, self.retriever)
        ranked = rank_passages(standalone, focused, weights,
                               self.retriever.embedder if self.settings.rerank else None)
        if ranked and best_tokens != self.settings.passage_tokens:
            best = next(i for i, hit in enumerate(focused) if hit is ranked[0])
            # focused among all the candidates again, so that its words weigh what they weighed in the ranking
            ranked[0] = focus_passages(standalone, relevant, generator.count_tokens, best_tokens)[best]
        passages = fit_passages(standalone, ranked, generator.count_tokens, budget, history)
        return passages[:count], weights

    def reading(self, generator: Generator) -> tuple[int, int]:
        """How many passages the model reads and the best one's length: the settings', else its measured ones."""
        measured = reading_for(generator.name)
        count = self.settings.passages if self.settings.passages > 0 else measured.passages
        best_tokens = (self.settings.best_passage_tokens if self.settings.best_passage_tokens >= 0
                       else measured.best_passage_tokens)
        return count, best_tokens if best_tokens >= 0 else self.settings.passage_tokens

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), collection: Scope = None,
            stop: threading.Event | None = None) -> Iterator[AnswerEvent]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        if not self.retriever.has_documents(collection):
            timings.update(retrieval_ms=0.0, first_token_ms=0.0, total_ms=(time.perf_counter() - started) * 1000)
            yield AnswerEvent("done", answer=Answer(question, question, NO_DOCUMENTS_MESSAGE, [], False, [], timings,
                                                    "", notice=NO_DOCUMENTS_MESSAGE))
            return
        yield AnswerEvent("status", "Loading the chat model…", extra={"stage": "loading"})
        generator = self._generator_factory()
        timings["model_load_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        if history:
            yield AnswerEvent("status", "Reading the conversation…", extra={"stage": "rewriting"})
        standalone = self.standalone(question, history, generator, stop)
        if stop is not None and stop.is_set():  # stopped before a word was written: nothing more to prepare
            yield AnswerEvent("done", answer=self._stopped(question, standalone, generator, timings))
            return
        yield AnswerEvent("status", "Searching your documents…", extra={"stage": "searching", "standalone": standalone})
        relevant = self.candidates(standalone, collection)
        timings["retrieval_ms"] = (time.perf_counter() - started) * 1000
        if not relevant:
            total = (time.perf_counter() - started) * 1000
            timings.update(first_token_ms=total, total_ms=total)
            yield AnswerEvent("done", answer=Answer(question, standalone, NOT_FOUND_MESSAGE, [], False, [], timings,
                                                    generator.name, notice=decline_notice(standalone, []),
                                                    decision="question not covered"))
            return

        passages, weights = self.choose_passages(standalone, relevant, generator, history)
        if stop is not None and stop.is_set():
            yield AnswerEvent("done", answer=self._stopped(question, standalone, generator, timings))
            return
        messages = answer_messages(standalone, passages, history)
        yield AnswerEvent("status", f"Reading {len(passages)} passage{'s' if len(passages) != 1 else ''}…",
                          extra={"stage": "reading", "passages": passages})

        pieces: list[str] = []
        stream = generator.stream_chat(messages, max_tokens=self.settings.max_answer_tokens,
                                       temperature=self.settings.temperature, stop=stop, withhold=REFUSAL)
        try:
            for piece in stream:
                if not pieces:
                    timings["first_token_ms"] = (time.perf_counter() - started) * 1000
                pieces.append(piece)
                yield AnswerEvent("token", piece)
                if piece.strip() and runaway_end("".join(pieces)) is not None:
                    break  # the model repeats itself or writes the next turn: what follows is not an answer
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # releases the model's lock now, not when the generator is collected
        stopped = stop is not None and stop.is_set()
        raw = "".join(pieces)
        raw = raw[: runaway_end(raw) or len(raw)]
        timings.setdefault("first_token_ms", (time.perf_counter() - started) * 1000)
        if generator.last_speed is not None:
            speeds.record(generator.name, generator.last_speed)
        answer = self._decide(question, standalone, raw, passages, stopped, weights=weights,
                              tokens=generator.reply_tokens, doubt=generator.withheld_probability)
        answer.model = generator.name
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        answer.timings = timings
        yield AnswerEvent("done", answer=answer)

    @staticmethod
    def _stopped(question: str, standalone: str, generator: Generator, timings: dict[str, float]) -> Answer:
        return Answer(question, standalone, "", [], False, [], timings, generator.name, stopped=True,
                      decision="stopped")

    def _decide(self, question: str, standalone: str, raw: str, passages: list[Hit], stopped: bool, *,
                weights: dict[str, float], tokens: Sequence[tuple[str, float]] = (),
                doubt: float | None = None) -> Answer:
        """Keep what the passages support; decline what they do not."""
        def declined(decision: Decision, checks: dict[str, float], left_out: list[str] | None = None) -> Answer:
            return Answer(question, standalone, NOT_FOUND_MESSAGE, [], False, passages, {}, "",
                          notice=decline_notice(standalone, passages), checks=checks, left_out=left_out or [],
                          decision=decision)

        if stopped:  # a fragment is shown as it is, never as a grounded answer
            return Answer(question, standalone, raw.strip(), [], False, passages, {}, "", stopped=True,
                          decision="stopped")
        if is_refusal(raw):
            return declined("refused by the model", {})
        finder = SupportFinder(passages)
        sentences, left_out = check_sentences(raw, finder, standalone)
        cited = sorted({n for s in sentences for n in s.citations})
        quotes = [q for s in sentences for q in s.quotes]
        passage_coverage = coverage(weights, [passages[n - 1].text for n in cited]) if cited else 0.0
        quote_coverage = coverage(weights, finder.with_context(quotes)) if quotes else 0.0
        checks = {"support": min((s.support for s in sentences), default=0.0),
                  "subject": min((s.subject for s in sentences), default=0.0),
                  "coverage": passage_coverage, "quote_coverage": quote_coverage,
                  # what the cited passages say about the question but not in the sentences the answer rests on
                  "misplaced": max(0.0, passage_coverage - quote_coverage),
                  "similarity": max((h.similarity for h in passages), default=0.0),
                  "left_out": float(len(left_out))}
        if not sentences:
            return declined("no support", checks, left_out)
        texts = [s.text for s in sentences]
        new_words = words_beyond(standalone, texts)
        checks["new_words"] = float(len(new_words))
        checks.update(confidence_signals(tokens, new_words))
        if doubt is not None:
            checks["doubt"] = doubt
        reason = decline_reason(standalone, texts, new_words, checks, self.settings)
        if reason is not None:
            return declined(reason, checks, left_out)
        return Answer(question, standalone, join_sentences(sentences, raw), citations_for(sentences, passages), True,
                      passages, {}, "", sentences=sentences, left_out=left_out, checks=checks)
