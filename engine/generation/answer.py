"""Grounded answers: retrieve, fit passages to the window, stream, resolve citations, refuse honestly."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from engine.generation.evidence import focus_passages
from engine.generation.llm import Generator
from engine.generation.prompt import REFUSAL, answer_messages, condense_messages, fit_passages
from engine.records import Citation, Hit
from engine.retrieval.search import Retriever
from engine.settings import Settings

NOT_FOUND_MESSAGE = "I could not find the answer to this in your documents."
NO_DOCUMENTS_MESSAGE = "There are no indexed documents to answer from yet. Add a folder or files first."
# Below this cosine and with no keyword match, nothing retrieved is about the question.
MIN_SIMILARITY = 0.2

_REFUSAL_PATTERNS = re.compile(
    r"documents? (do|does) not (say|contain|mention|provide|include|specify)|not (mentioned|stated|specified|"
    r"provided|found) in the (documents?|text|context)|no (information|mention) (about|of|on|regarding)|"
    r"(cannot|can't|could not|couldn't) (find|determine|answer)", re.IGNORECASE)
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass
class Answer:
    question: str
    standalone_question: str
    text: str
    citations: list[Citation]
    grounded: bool
    passages: list[Hit]
    timings: dict[str, float]
    model: str
    stopped: bool = False
    notice: str = ""  # a plain reason when the answer is a refusal (no documents, nothing relevant)

    def to_json(self) -> dict[str, object]:
        return {"answer": self.text, "citations": [c.to_json() for c in self.citations], "grounded": self.grounded,
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


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) > 2}


def resolve_citations(text: str, passages: Sequence[Hit]) -> tuple[str, list[Citation]]:
    """Keep valid [n] markers (dropping ones that point nowhere); when the model cited nothing, tie each
    sentence to the passage it shares the most words with."""
    valid = set(range(1, len(passages) + 1))

    def keep_valid(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*,\s*", match.group(1)) if int(n) in valid]
        return "".join(f"[{n}]" for n in dict.fromkeys(numbers))

    text = _MARKER.sub(keep_valid, text).strip()
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", text)]
    if not cited and passages:
        sentences = re.split(r"(?<=[.!?])\s+", text)
        attributed = []
        for sentence in sentences:
            overlaps = [len(_words(sentence) & _words(p.text)) for p in passages]
            best = max(range(len(passages)), key=lambda i: overlaps[i])
            if overlaps[best] > 0:
                match = re.match(r"^(.*?)([.!?]*)$", sentence, re.DOTALL)
                assert match is not None
                attributed.append(f"{match.group(1)} [{best + 1}]{match.group(2)}")
                cited.append(best + 1)
            else:
                attributed.append(sentence)
        text = " ".join(attributed)
    citations = []
    for n in dict.fromkeys(cited):
        hit = passages[n - 1]
        citations.append(Citation(n=n, path=hit.path, page=hit.page, start=hit.start, end=hit.end, text=hit.text,
                                  title=hit.title, section=hit.section, document_id=hit.document_id))
    return text, citations


class Answerer:
    def __init__(self, retriever: Retriever, generator: Callable[[], Generator], settings: Settings) -> None:
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

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), collection: str | None = None,
            stop: threading.Event | None = None) -> Iterator[AnswerEvent]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        if not self.retriever.has_documents(collection):
            timings.update(retrieval_ms=0.0, first_token_ms=0.0, total_ms=(time.perf_counter() - started) * 1000)
            yield AnswerEvent("done", answer=Answer(question, question, NO_DOCUMENTS_MESSAGE, [], False, [], timings,
                                                    "", notice=NO_DOCUMENTS_MESSAGE))
            return
        yield AnswerEvent("status", "Loading the chat model…")
        generator = self._generator_factory()
        timings["model_load_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        standalone = self.standalone(question, history, generator, stop)
        yield AnswerEvent("status", "Searching your documents…", extra={"standalone": standalone})
        hits = self.retriever.search(standalone, k=max(self.settings.passages * 2, 8), collection=collection)
        timings["retrieval_ms"] = (time.perf_counter() - started) * 1000

        relevant = [h for h in hits if h.similarity >= MIN_SIMILARITY or "keyword" in h.ranks]
        if not relevant:
            total = (time.perf_counter() - started) * 1000
            timings.update(first_token_ms=total, total_ms=total)
            yield AnswerEvent("done", answer=Answer(question, standalone, NOT_FOUND_MESSAGE, [], False, [], timings,
                                                    generator.name, notice=NOT_FOUND_MESSAGE))
            return

        budget = generator.n_ctx - self.settings.max_answer_tokens - 64
        focused = focus_passages(standalone, relevant, generator.count_tokens, self.settings.passage_tokens)
        passages = fit_passages(standalone, focused, generator.count_tokens, budget, history)
        passages = passages[: self.settings.passages]
        messages = answer_messages(standalone, passages, history)
        yield AnswerEvent("status", "Writing the answer…", extra={"passages": len(passages)})

        pieces: list[str] = []
        for piece in generator.stream_chat(messages, max_tokens=self.settings.max_answer_tokens,
                                           temperature=self.settings.temperature, stop=stop):
            if not pieces:
                timings["first_token_ms"] = (time.perf_counter() - started) * 1000
            pieces.append(piece)
            yield AnswerEvent("token", piece)
        stopped = stop is not None and stop.is_set()
        raw = "".join(pieces)
        timings.setdefault("first_token_ms", (time.perf_counter() - started) * 1000)
        citations: list[Citation] = []
        if is_refusal(raw) and not stopped:
            text, grounded, notice = NOT_FOUND_MESSAGE, False, NOT_FOUND_MESSAGE
        else:
            text, citations = resolve_citations(raw, passages)
            grounded, notice = bool(citations) and not stopped, ""
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        yield AnswerEvent("done", answer=Answer(question, standalone, text, citations, grounded, passages, timings,
                                                generator.name, stopped=stopped, notice=notice))
