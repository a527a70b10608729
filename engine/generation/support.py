"""The evidence for each sentence of an answer, found by the app rather than trusted from the model.

For every answer sentence, the sentences of its cited passages that hold its words are its quotes:
what the app shows under the answer and highlights on the page. A sentence whose words are mostly
not in any passage is unsupported: the model wrote it from memory, or misread. When the passage the
model cited does not hold the sentence's words but another passage given to it does, the citation
moves there (small models often cite [1] for everything).

Words are compared by their first letters (``stem``), so "stored" matches "storage"; numbers count as
words (the same in figures or written out to twenty): a figure the passage does not hold is exactly what must not
pass as supported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.generation.sentences import sentence_spans
from engine.records import Hit, Quote
from engine.retrieval.search import content_words

STEM_LENGTH = 6  # words sharing their first six letters count as one ("conquered", "conquest" do not)
MAX_QUOTES = 3  # per answer sentence
# A further quote must add this share of the sentence's words to be worth showing.
MIN_QUOTE_GAIN = 0.2
# A sentence is supported when its quotes hold at least this share of its words (measured: bench.answers).
SUPPORTED_SHARE = 0.6
# Words that say what form the answer takes, not what it is about: a passage that answers "What is the harbour
# master's name?" need not hold "name".
QUESTION_FORM_WORDS = frozenset(
    (  # noqa: SIM905 - a word list reads better as prose
        "much many name named names called call mean means meaning stand stands kind kinds type types long far "
        "old often big large small used use uses year years date happen happened does did done give given get"
    ).split())
MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


# A number written out and in figures is one word: the model writes "2 customaries" of "two customaries", "up to
# eight metres" of "up to 8 metres".
NUMBER_WORDS = {word: str(value) for value, word in enumerate(
    (  # noqa: SIM905 - a word list reads better as prose
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty"
    ).split())}


def stem(word: str) -> str:
    word = word.lower()
    return NUMBER_WORDS.get(word) or word[:STEM_LENGTH]


FORM_STEMS = frozenset(stem(w) for w in QUESTION_FORM_WORDS)


def stems_of(text: str) -> set[str]:
    """Content-word stems of ``text``, citation markers left out."""
    return {stem(w) for w in content_words(MARKER.sub(" ", text))}


@dataclass
class AnswerSentence:
    text: str  # as shown, markers included
    citations: tuple[int, ...]
    quotes: list[Quote] = field(default_factory=list)
    support: float = 0.0  # share of the sentence's words its quotes hold
    supported: bool = False
    # Share of the words it shares with the question (what it is about) that its quotes hold. Not a rule: as one
    # (at least 0.75) it left out the model's restatements of the question and so 0.40 of right answers
    # (bench/answers.py, squad-dev and realdocs alike); recorded for calibration.
    subject: float = 1.0

    def to_json(self) -> dict[str, object]:
        return {"text": self.text, "citations": list(self.citations), "supported": self.supported,
                "support": round(self.support, 3), "quotes": [q.to_json() for q in self.quotes]}


@dataclass(frozen=True)
class _Candidate:
    n: int
    start: int  # offsets in the passage text
    end: int
    stems: frozenset[str]


def answer_sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences of an answer; a run of markers after the full stop ("… river. [2]") stays with its sentence."""
    spans: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        if spans and not MARKER.sub("", text[start:end]).strip(" .,;:"):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def markers_in(text: str) -> tuple[int, ...]:
    found = [int(n) for group in MARKER.findall(text) for n in re.split(r"\s*,\s*", group)]
    return tuple(dict.fromkeys(found))


class SupportFinder:
    """Finds quotes in the passages given to the model (numbered from 1, as in the prompt)."""

    def __init__(self, passages: Sequence[Hit]) -> None:
        self.passages = list(passages)
        self._candidates = [
            _Candidate(n, a, b, frozenset(stems_of(hit.text[a:b])))
            for n, hit in enumerate(self.passages, start=1) for a, b in sentence_spans(hit.text)]
        self._passage_stems = frozenset(s for c in self._candidates for s in c.stems)

    def support(self, sentence: str, cited: Sequence[int] = (), question: str = "") -> AnswerSentence:
        """Quotes for ``sentence`` from its cited passages, or from any passage when those do not hold it.

        Words the sentence shares with the question say nothing about whether the passage answers it,
        so only the sentence's other words are checked, unless it has no others.
        """
        wanted = stems_of(sentence)
        new = wanted - stems_of(question)
        wanted = new or wanted
        valid = tuple(n for n in cited if 1 <= n <= len(self.passages))
        if not wanted:
            return AnswerSentence(sentence, valid)
        best = self._quotes(wanted, valid) if valid else ([], 0.0)
        if best[1] < SUPPORTED_SHARE:
            anywhere = self._quotes(wanted, ())
            if anywhere[1] > best[1]:
                best = anywhere
        quotes, share = best
        numbers = tuple(dict.fromkeys(q.n for q in quotes)) or valid
        return AnswerSentence(sentence, numbers, quotes, share, share >= SUPPORTED_SHARE,
                              self._subject_share(sentence, question, quotes))

    def _subject_share(self, sentence: str, question: str, quotes: Sequence[Quote]) -> float:
        """The share of the words the sentence shares with the question that its quotes (with the sentence
        before each) hold; 1.0 when it shares none. Only words the passages use count: "keeps" in "Who keeps
        the lighthouse?" is the question's wording when the passage says "kept", but a passage that speaks of
        the clubhouse elsewhere does not support "the clubhouse is closed during storms" with a sentence about
        the slipway."""
        subject = stems_of(sentence) & stems_of(question) & self._passage_stems - FORM_STEMS
        if not subject:
            return 1.0
        around: set[str] = set()
        for text in self.with_context(quotes):
            around |= stems_of(text)
        return len(subject & around) / len(subject)

    def with_context(self, quotes: Sequence[Quote]) -> list[str]:
        """Each quote with the sentence before it in its passage (where "it" or "he" is usually named)."""
        texts = []
        for quote in quotes:
            sentences = [c for c in self._candidates if c.n == quote.n]
            hit = self.passages[quote.n - 1]
            index = next((i for i, c in enumerate(sentences) if hit.document_offset(c.start) == quote.start), None)
            if index is None:
                texts.append(quote.text)
            else:
                texts.append(hit.text[sentences[max(0, index - 1)].start:sentences[index].end])
        return texts

    def _quotes(self, wanted: set[str], within: Sequence[int]) -> tuple[list[Quote], float]:
        pool = [c for c in self._candidates if not within or c.n in within]
        chosen: list[_Candidate] = []
        covered: set[str] = set()
        while pool and len(chosen) < MAX_QUOTES:
            best = max(pool, key=lambda c: (len((c.stems & wanted) - covered), -c.n))
            gain = len((best.stems & wanted) - covered) / len(wanted)
            if gain <= 0 or (chosen and gain < MIN_QUOTE_GAIN):
                break
            chosen.append(best)
            covered |= best.stems & wanted
            pool.remove(best)
        chosen.sort(key=lambda c: (c.n, c.start))
        return [self._quote(c) for c in chosen], len(covered) / len(wanted)

    def _quote(self, candidate: _Candidate) -> Quote:
        hit = self.passages[candidate.n - 1]
        start, end = hit.document_offset(candidate.start), hit.document_offset(candidate.end)
        return Quote(candidate.n, hit.text[candidate.start:candidate.end], start, end, hit.page)
