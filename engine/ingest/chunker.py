"""Structure-aware chunking: spans of a ParsedDocument's text that fit the embedder's window.

Sections are cut at every page boundary and heading; no chunk crosses one. Inside a section whole
paragraphs are packed greedily up to ``max_tokens``. A paragraph that is too long is split into
sentences, a sentence into lines, a line into words and, as a last resort, a word into characters.

Token counts are taken once per piece and summed: WordPiece splits at whitespace, so the count of
pieces joined by whitespace is the sum of their counts. Packed chunks close to the limit are
recounted anyway, so a tokenizer that is not quite additive still never overflows.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from engine.records import ChunkSpan, ParsedDocument

CountTokens = Callable[[str], int]

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|[。！？]+")
_WORD = re.compile(r"\S+")
_WORD_GROUP = 8  # words counted together before falling back to single words
# Text longer than this many characters per allowed token is split without being counted first:
# it is over the limit for any real text, and tokenizing megabytes in one call costs gigabytes.
_CHARS_PER_TOKEN_CEILING = 64

# Split levels, coarse to fine.
_SENTENCES, _LINES, _WORD_GROUPS, _WORDS, _CHARACTERS = range(5)


@dataclass(slots=True)
class _Unit:
    """A piece of text that is packed whole: ``text[start:end]`` with its token count."""

    start: int
    end: int
    tokens: int
    paragraph: int  # index of the paragraph it belongs to, for overlap decisions
    level: int = -1  # split level that produced it (-1: a whole paragraph)
    glued: bool = False  # continues the previous unit without whitespace (a split word)


def chunk_document(
    doc: ParsedDocument,
    count_tokens: CountTokens,
    *,
    max_tokens: int = 200,
    overlap_tokens: int = 32,
) -> list[ChunkSpan]:
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    chunker = _Chunker(doc.text, count_tokens, max_tokens, max(0, min(overlap_tokens, max_tokens // 2)))
    locate = _Locator(doc)
    chunks: list[ChunkSpan] = []
    for start, end in _sections(doc):
        for chunk_start, chunk_end in chunker.chunk(start, end):
            chunks.append(ChunkSpan(
                start=chunk_start,
                end=chunk_end,
                text=doc.text[chunk_start:chunk_end],
                page=locate.page(chunk_start),
                section=locate.section(chunk_start),
            ))
    return chunks


def _sections(doc: ParsedDocument) -> Iterator[tuple[int, int]]:
    """Spans between consecutive page boundaries and headings."""
    cuts = {0, len(doc.text)}
    for page in doc.pages:
        cuts.update((page.start, page.end))
    cuts.update(heading.offset for heading in doc.headings)
    ordered = sorted(cut for cut in cuts if 0 <= cut <= len(doc.text))
    yield from itertools.pairwise(ordered)


class _Locator:
    """``doc.page_at`` / ``doc.heading_at`` by bisection (both scan linearly; too slow per chunk)."""

    def __init__(self, doc: ParsedDocument) -> None:
        self._pages = sorted(doc.pages, key=lambda p: p.start)
        self._page_starts = [p.start for p in self._pages]
        headings = sorted(doc.headings, key=lambda h: h.offset)
        self._heading_offsets = [h.offset for h in headings]
        self._heading_titles = [h.title for h in headings]

    def page(self, offset: int) -> int | None:
        index = bisect.bisect_right(self._page_starts, offset) - 1
        if index < 0:
            return None
        page = self._pages[index]
        if offset < page.end or (offset == page.end and index == len(self._pages) - 1):
            return page.number
        return None

    def section(self, offset: int) -> str:
        index = bisect.bisect_right(self._heading_offsets, offset) - 1
        return self._heading_titles[index] if index >= 0 else ""


class _Chunker:
    def __init__(self, text: str, count: CountTokens, max_tokens: int, overlap: int) -> None:
        self.text = text
        self.count = count
        self.max = max_tokens
        self.overlap = overlap

    def chunk(self, start: int, end: int) -> list[tuple[int, int]]:
        units: list[_Unit] = []
        for index, (s, e) in enumerate(_paragraphs(self.text, start, end)):
            units.extend(self._split(s, e, self._measure(s, e), _SENTENCES, index))
        return [span for group in self._pack(units) for span in self._verified(group)]

    # --- splitting ------------------------------------------------------------------------------

    def _split(self, start: int, end: int, tokens: int, level: int, paragraph: int) -> list[_Unit]:
        """``text[start:end]`` as units of at most max tokens, splitting at ``level`` or finer."""
        if tokens <= self.max:
            return [_Unit(start, end, tokens, paragraph, level - 1)]
        if level == _CHARACTERS:
            return self._characters(start, end, paragraph)
        pieces = list(_PIECES[level](self.text, start, end))
        if len(pieces) == 1 and pieces[0] == (start, end):
            return self._split(start, end, tokens, level + 1, paragraph)  # nothing to split here
        units: list[_Unit] = []
        for s, e in pieces:
            units.extend(self._split(s, e, self._measure(s, e), level + 1, paragraph))
        return units

    def _measure(self, start: int, end: int) -> int:
        """Token count of ``text[start:end]``, or just "too many" for a huge span."""
        if end - start > self.max * _CHARS_PER_TOKEN_CEILING:
            return self.max + 1
        return self.count(self.text[start:end])

    def _characters(self, start: int, end: int, paragraph: int) -> list[_Unit]:
        units: list[_Unit] = []
        width = self.max
        position = start
        while position < end:
            stop = min(end, position + width)
            tokens = self.count(self.text[position:stop])
            if tokens > self.max and stop - position > 1:
                width = max(1, (stop - position) // 2)
                continue
            units.append(_Unit(position, stop, tokens, paragraph, _CHARACTERS, glued=position > start))
            position = stop
        return units

    # --- packing --------------------------------------------------------------------------------

    def _pack(self, units: list[_Unit]) -> list[list[_Unit]]:
        groups: list[list[_Unit]] = []
        current: list[_Unit] = []
        total = 0
        for unit in units:
            if current and (unit.glued or total + unit.tokens > self.max):
                groups.append(current)
                current = self._overlap(current, unit)
                total = sum(u.tokens for u in current)
            current.append(unit)
            total += unit.tokens
        if current:
            groups.append(current)
        return groups

    def _overlap(self, previous: list[_Unit], following: _Unit) -> list[_Unit]:
        """Trailing sentences (or words) of ``previous`` to repeat before ``following``.

        Only inside a paragraph: a chunk that ends at a paragraph break needs no context carried.
        """
        budget = min(self.overlap, self.max - following.tokens)
        last = previous[-1]
        if budget <= 0 or following.glued or following.paragraph != last.paragraph:
            return []
        taken: list[_Unit] = []
        used = 0
        for unit in reversed(previous[1:]):  # never the whole previous chunk
            if unit.paragraph != following.paragraph or used + unit.tokens > budget:
                break
            taken.append(unit)
            used += unit.tokens
        if taken:
            return taken[::-1]
        if last.level == _CHARACTERS:
            return []
        return self._trailing_words(last, budget)

    def _trailing_words(self, unit: _Unit, budget: int) -> list[_Unit]:
        words = list(_WORD.finditer(self.text, unit.start, unit.end))
        start = unit.end
        used = 0
        for word in reversed(words[1:]):  # never the whole unit
            tokens = self.count(word.group())
            if used + tokens > budget:
                break
            start = word.start()
            used += tokens
        if start == unit.end:
            return []
        return [_Unit(start, unit.end, used, unit.paragraph, _WORDS)]

    def _verified(self, group: list[_Unit]) -> list[tuple[int, int]]:
        """The group's span, recounted when the summed estimate is near the limit."""
        start, end = group[0].start, group[-1].end
        if len(group) > 1:
            estimate = sum(u.tokens for u in group)
            if estimate > self.max - len(group) and self.count(self.text[start:end]) > self.max:
                middle = len(group) // 2
                return self._verified(group[:middle]) + self._verified(group[middle:])
        return [(start, end)]


# --- pieces: trimmed (start, end) spans of text[start:end] ------------------------------------


def trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``(start, end)`` with the whitespace at either end left out; None when nothing else is there."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _between(text: str, start: int, end: int, cuts: Iterator[int]) -> Iterator[tuple[int, int]]:
    previous = start
    for cut in cuts:
        span = trimmed(text, previous, cut)
        if span:
            yield span
        previous = cut
    span = trimmed(text, previous, end)
    if span:
        yield span


def _paragraphs(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    return _between(text, start, end, (m.start() for m in _PARAGRAPH_BREAK.finditer(text, start, end)))


def _sentences(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    return _between(text, start, end, (m.end() for m in _SENTENCE_END.finditer(text, start, end)))


def _lines(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    cuts = (i for i in _find_all(text, "\n", start, end))
    return _between(text, start, end, cuts)


def _word_groups(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    words = list(_WORD.finditer(text, start, end))
    for i in range(0, len(words), _WORD_GROUP):
        group = words[i : i + _WORD_GROUP]
        yield group[0].start(), group[-1].end()


def _words(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    return (m.span() for m in _WORD.finditer(text, start, end))


def _find_all(text: str, needle: str, start: int, end: int) -> Iterator[int]:
    position = text.find(needle, start, end)
    while position >= 0:
        yield position
        position = text.find(needle, position + 1, end)


_PIECES: dict[int, Callable[[str, int, int], Iterator[tuple[int, int]]]] = {
    _SENTENCES: _sentences,
    _LINES: _lines,
    _WORD_GROUPS: _word_groups,
    _WORDS: _words,
}
