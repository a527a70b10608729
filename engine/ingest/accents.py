"""Accents split from their letters put back: "erkl¨art" and "Ex´ecution" become "erklärt" and "Exécution".

PDFs typeset with fonts that lack accented letters draw the accent as a glyph of its own, and their text layer
then gives a spacing diacritic before (sometimes after) the letter it sits on. Neither keyword search nor the
viewer's highlight would match the properly spelt word. Every loader's output passes through
``normalise_document``: each accent is joined to the neighbouring letter it composes with, and the text is put
in NFC, with the pages' and headings' offsets moved to match.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import replace

from engine.records import Heading, PageSpan, ParsedDocument

# Spacing diacritics (what the text layers write) and the combining accents they stand for.
_SPACING = {
    "\u00a8": "\u0308",  # ¨ diaeresis
    "\u00b4": "\u0301",  # ´ acute
    "\u02ca": "\u0301",  # ˊ modifier acute
    "\u02cb": "\u0300",  # ˋ modifier grave
    "\u02c6": "\u0302",  # ˆ modifier circumflex
    "\u02dc": "\u0303",  # ˜ small tilde
    "\u00af": "\u0304",  # ¯ macron
    "\u02d8": "\u0306",  # ˘ breve
    "\u02d9": "\u0307",  # ˙ dot above
    "\u02da": "\u030a",  # ˚ ring above
    "\u02dd": "\u030b",  # ˝ double acute
    "\u02c7": "\u030c",  # ˇ caron
    "\u00b8": "\u0327",  # ¸ cedilla
    "\u02db": "\u0328",  # ˛ ogonek
}
# ASCII stand-ins, common in code and formulas ("x^2", "~/notes", "`name`"): joined only inside a word, to the
# letter after them ("r^ole", "probl`eme").
_ASCII = {"`": "\u0300", "^": "\u0302", "~": "\u0303"}
_APOSTROPHE_LIKE = frozenset("\u00b4\u02ca`\u02cb")
# What follows an apostrophe typed as an accent ("don´t", "it´s", "we´re"): left alone.
_CONTRACTIONS = frozenset({"s", "t", "d", "m", "ll", "re", "ve"})
_MARK = re.compile("[" + "".join(_SPACING) + re.escape("".join(_ASCII)) + "\u0300-\u036f]")
_LETTERS = re.compile(r"[^\W\d_]*")


def _combined(letter: str, accent: str) -> str | None:
    """The one precomposed character for ``letter`` with ``accent``, or None when Unicode has none."""
    if not letter.isalpha():
        return None
    composed = unicodedata.normalize("NFC", letter + accent)
    return composed if len(composed) == 1 else None


def _is_apostrophe(text: str, position: int) -> bool:
    """Whether the acute or grave at ``position`` ends a contraction: a letter before, "s", "t", "ll"... after."""
    if text[position] not in _APOSTROPHE_LIKE or position == 0 or not text[position - 1].isalpha():
        return False
    rest = _LETTERS.match(text, position + 1)
    end = rest.end() if rest else position + 1
    word_ends = end == len(text) or not _MARK.match(text, end)
    return word_ends and text[position + 1:end].lower() in _CONTRACTIONS


def compose_accents(text: str) -> str:
    """``text`` with each split accent joined to its letter, in NFC."""
    if text.isascii() and not any(mark in text for mark in _ASCII):
        return text
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces
    for match in _MARK.finditer(text):
        position = match.start()
        if position < done:
            continue
        mark = text[position]
        before = text[position - 1] if position - 1 >= done else ""
        after = text[position + 1] if position + 1 < len(text) else ""
        if mark in _ASCII:
            onto_next = _combined(after, _ASCII[mark]) if before.isalpha() else None
            onto_previous = None
        elif mark in _SPACING:
            if _is_apostrophe(text, position):
                continue
            onto_next, onto_previous = _combined(after, _SPACING[mark]), _combined(before, _SPACING[mark])
        else:  # a combining accent: it belongs after its letter; moved only when that letter cannot take it
            if before and (unicodedata.combining(before) or _combined(before, mark)):
                continue
            onto_next, onto_previous = _combined(after, mark), None
        if onto_next:
            pieces += [text[done:position], onto_next]
            done = position + 2
        elif onto_previous:
            pieces += [text[done:position - 1], onto_previous]
            done = position + 1
    pieces.append(text[done:])
    return unicodedata.normalize("NFC", "".join(pieces))


def normalise_document(document: ParsedDocument) -> ParsedDocument:
    """The document with its text through ``compose_accents``; pages and headings still point at their text."""
    text = document.text
    if text.isascii() and not any(mark in text for mark in _ASCII):
        return document
    # Each stretch between two offsets the document refers to is composed on its own, so offsets map exactly.
    cuts = sorted({0, len(text)} | {p.start for p in document.pages} | {p.end for p in document.pages}
                  | {h.offset for h in document.headings})
    moved: dict[int, int] = {0: 0}
    parts: list[str] = []
    length = 0
    for start, end in itertools.pairwise(cuts):
        parts.append(compose_accents(text[start:end]))
        length += len(parts[-1])
        moved[end] = length
    composed = "".join(parts)
    return replace(
        document,
        text=composed,
        title=compose_accents(document.title),
        pages=[PageSpan(p.number, moved[p.start], moved[p.end]) for p in document.pages],
        headings=[Heading(moved[h.offset], h.level, compose_accents(h.title)) for h in document.headings],
    )
