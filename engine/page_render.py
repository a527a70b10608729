"""A citation's source for the viewer: render a cited page with the passage marked, or load a text document.

The viewer calls these from a worker (PyMuPDF is slow on big pages and one document may not be shared
between threads) and turns the result into an image; nothing here touches Qt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.ingest import loaders
from engine.ingest.loaders import ocr

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class RenderedPage:
    path: str
    page: int  # 1-based
    page_count: int
    width: int
    height: int
    stride: int
    samples: bytes  # RGB888
    highlights: list[tuple[float, float, float, float]] = field(default_factory=list)  # pixel rectangles


@dataclass
class LoadedText:
    path: str
    text: str
    start: int  # the passage in UTF-16 code units (what Qt's text cursor counts)
    end: int


def _normal(word: str) -> str:
    return "".join(_WORD.findall(word.lower()))


def passage_words(words: list[tuple[float, float, float, float, str, int, int]], passage: str,
                  ) -> list[tuple[float, float, float, float, str, int, int]]:
    """The page's words that belong to the passage: the best-scoring contiguous run (Kadane's algorithm),
    where a word of the passage scores +1 and any other word -2, so stray common words are not marked."""
    vocabulary = {_normal(w) for w in passage.split()} - {""}
    best, best_span, score, start = 0, (0, -1), 0, 0
    for i, word in enumerate(words):
        score += 1 if _normal(word[4]) in vocabulary else -2
        if score <= 0:
            score, start = 0, i + 1
        elif score > best:
            best, best_span = score, (start, i)
    if best < 3:
        return []
    first, last = best_span
    # The run may reach one common word past either end of the passage ("... are written. The"): trim it to
    # the passage's own first and last words where the run holds them.
    wanted = [w for w in (_normal(w) for w in passage.split()) if w]
    opening, closing = wanted[0], wanted[-1]
    while first < last and _normal(words[first][4]) != opening and any(
            _normal(w[4]) == opening for w in words[first:last + 1]):
        first += 1
    while last > first and _normal(words[last][4]) != closing and any(
            _normal(w[4]) == closing for w in words[first:last + 1]):
        last -= 1
    return words[first: last + 1]


def line_rectangles(words: list[tuple[float, float, float, float, str, int, int]],
                    ) -> list[tuple[float, float, float, float]]:
    """One rectangle per text line of the marked words."""
    lines: dict[tuple[int, int], list[float]] = {}
    for x0, y0, x1, y1, _text, block, line in words:
        box = lines.setdefault((block, line), [x0, y0, x1, y1])
        box[0], box[1] = min(box[0], x0), min(box[1], y0)
        box[2], box[3] = max(box[2], x1), max(box[3], y1)
    return [(b[0], b[1], b[2], b[3]) for b in lines.values()]


def render_page(path: str, page_number: int, passage: str = "", target_width: int = 1200) -> RenderedPage:
    """Render page ``page_number`` (1-based, clamped) about ``target_width`` pixels wide, passage marked."""
    import pymupdf  # noqa: PLC0415 - heavy, loaded on first use

    document = pymupdf.open(path)
    try:
        count = document.page_count
        number = min(max(page_number, 1), count)
        page = document[number - 1]
        zoom = min(max(target_width / max(page.rect.width, 1), 0.5), 4.0)
        pixmap = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
        highlights: list[tuple[float, float, float, float]] = []
        if passage.strip():
            words = (ocr.page_words(page) if ocr.needs_ocr(page) else  # a scan: the words OCR read, as indexed
                     [(w[0], w[1], w[2], w[3], str(w[4]), int(w[5]), int(w[6])) for w in page.get_text("words")])
            marked = passage_words(words, passage)
            highlights = [(x0 * zoom, y0 * zoom, x1 * zoom, y1 * zoom) for x0, y0, x1, y1 in line_rectangles(marked)]
        return RenderedPage(path, number, count, pixmap.width, pixmap.height, pixmap.stride, bytes(pixmap.samples),
                            highlights)
    finally:
        document.close()


def load_text(path: str, start: int, end: int, max_bytes: int) -> LoadedText:
    """The loader's own text (the citation offsets index into it), with the passage in Qt's units."""
    document = loaders.load(Path(path), max_bytes=max_bytes)
    text = document.text

    def utf16(offset: int) -> int:
        offset = min(max(offset, 0), len(text))
        return offset + sum(1 for ch in text[:offset] if ord(ch) > 0xFFFF)

    return LoadedText(path, text, utf16(start), utf16(end))
