"""Sentences of extracted document text, as character spans.

Text from PDFs keeps the page's line breaks inside sentences ("IDL stands for\\nInterface Description
Language"), so a line end is not a sentence end: cutting there once cut the answer off its subject. A
sentence ends at closing punctuation followed by the start of another sentence, at a paragraph break,
or at a line break that starts a list item. Known abbreviations ("e.g.", "Fig.") and initials do not
end a sentence. A run of lines with no closing punctuation (a listing, a table, a heading glued to
its paragraph) that grows past ``MAX_SENTENCE_CHARS`` is cut at its line breaks instead.
"""

from __future__ import annotations

import re

from engine.ingest.chunker import trimmed

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# Closing punctuation, optional closing quotes or brackets, then whitespace.
_CLOSING = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|[。！？]+")
_ABBREVIATIONS = frozenset(
    (  # noqa: SIM905 - a word list reads better as prose
        "e.g i.e etc vs cf al fig figs eq eqs no nos ch sec vol pp p mr mrs ms dr prof st jr sr inc ltd co approx "
        "resp ca"
    ).split())
_LIST_ITEM = re.compile(r"[^\S\n]*(?:[•◦▪‣·*–—-]\s|\d{1,3}[.)]\s|[a-zA-Z][.)]\s|\(\w{1,3}\)\s)")
MAX_SENTENCE_CHARS = 300


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, whitespace trimmed, in order."""
    spans: list[tuple[int, int]] = []
    previous = 0
    for brk in _PARAGRAPH_BREAK.finditer(text):
        spans.extend(_paragraph_sentences(text, previous, brk.start()))
        previous = brk.end()
    spans.extend(_paragraph_sentences(text, previous, len(text)))
    return spans


def _paragraph_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    cuts = sorted(set(_punctuation_cuts(text, start, end)) | set(_list_item_cuts(text, start, end)))
    spans = []
    previous = start
    for cut in [*cuts, end]:
        span = trimmed(text, previous, cut)
        if span is not None:
            spans.extend(_lines_if_too_long(text, *span))
        previous = cut
    return spans


def _lines_if_too_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    if end - start <= MAX_SENTENCE_CHARS or "\n" not in text[start:end]:
        return [(start, end)]
    spans = []
    position = start
    for line in text[start:end].split("\n"):
        span = trimmed(text, position, position + len(line))
        if span is not None:
            spans.append(span)
        position += len(line) + 1
    return spans


def _punctuation_cuts(text: str, start: int, end: int) -> list[int]:
    cuts = []
    for match in _CLOSING.finditer(text, start, end):
        if match.group().startswith(".") and _is_abbreviation(text, match.start(), start):
            continue
        following = _next_visible(text, match.end(), end)
        if following is not None and following.islower():
            continue  # "approx. the", "(see p. 3) and": the sentence goes on
        cuts.append(match.end())
    return cuts


def _is_abbreviation(text: str, dot: int, floor: int) -> bool:
    word_start = dot
    while word_start > floor and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:dot].lower()
    if len(word) == 1 and text[word_start].isupper():
        return True  # an initial: "J. Smith"
    return word in _ABBREVIATIONS


def _list_item_cuts(text: str, start: int, end: int) -> list[int]:
    cuts = []
    newline = text.find("\n", start, end)
    while newline >= 0:
        if _LIST_ITEM.match(text, newline + 1, end):
            cuts.append(newline)
        newline = text.find("\n", newline + 1, end)
    return cuts


def _next_visible(text: str, position: int, end: int) -> str | None:
    while position < end and text[position].isspace():
        position += 1
    return text[position] if position < end else None
