"""A document's view for the viewer: a page rendered with the quoted sentences marked, a text, a search.

These run in the viewer's sandboxed child process (``engine/render_child.py``, started by
``engine/render_process.py``), never in the app: a file that hangs or crashes MuPDF costs that view only.
Nothing here touches Qt.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.ingest import loaders
from engine.ingest.accents import compose_accents
from engine.ingest.loaders import html, images, ocr, pdf, text
from engine.ingest.loaders.archive import check_archive
from engine.ingest.status import FAILED, SKIPPED, LoadError

_WORD = re.compile(r"\w+", re.UNICODE)
ACTUAL_SIZE = 96 / 72  # logical pixels per PDF point at 100 % (a 96 dpi screen)
MIN_ZOOM, MAX_ZOOM = 0.25, 4.0
READABLE_ZOOM = 1.0  # fitting the width never shrinks the page below this: small text stays legible
MAX_PIXELS = 40_000_000  # a rendered page is at most this big (RGB: 120 MB); past it, the screen scales it up
# Markup over this size is shown as plain text: laying it out would stall the app's window.
MAX_MARKUP_CHARS = 2_000_000
_MUPDF_ARCHIVES = frozenset({".epub", ".xps", ".oxps"})
FIND_OCR_BUDGET_S = 12.0  # a search reads no more scans by OCR after this long (the viewer's call has 20 s)

Rectangle = tuple[float, float, float, float]
Word = tuple[float, float, float, float, str, int, int]
FitMode = Literal["fit-width", "fit-page", "zoom"]


@dataclass(frozen=True)
class PageView:
    """How big the viewer wants the page: as wide as its area, whole inside it, or at a zoom (1.0 = 100 %)."""

    mode: FitMode = "fit-width"
    zoom: float = 1.0
    width: int = 900  # the viewer's free area, in logical pixels
    height: int = 1200
    pixel_ratio: float = 1.0  # device pixels per logical pixel
    min_zoom: float = READABLE_ZOOM  # "fit-width" only: the smallest zoom it may choose


def page_zoom(view: PageView, page_width: float, page_height: float) -> float:
    """The zoom (1.0 = 100 %) a page of that size in points is shown at."""
    if view.mode == "zoom":
        zoom = view.zoom
    elif view.mode == "fit-page":
        zoom = min(view.width / max(page_width, 1.0), view.height / max(page_height, 1.0)) / ACTUAL_SIZE
    else:
        zoom = max(view.width / max(page_width, 1.0) / ACTUAL_SIZE, view.min_zoom)
    return min(max(zoom, MIN_ZOOM), MAX_ZOOM)


@dataclass
class RenderedPage:
    path: str
    page: int  # 1-based
    page_count: int
    zoom: float  # 1.0 = 100 %
    pixels_per_point: float  # zoom in device pixels (the image's scale)
    width: int
    height: int
    stride: int
    samples: bytes  # RGB888
    highlights: list[Rectangle] = field(default_factory=list)  # the quoted sentences, pixel rectangles
    found: list[Rectangle] = field(default_factory=list)  # the find text's matches on this page, in reading order


@dataclass
class LoadedText:
    path: str
    text: str  # the loader's own text: citation offsets index into it
    spans: list[tuple[int, int]]  # the quoted passages in ``text``, in UTF-16 code units (what Qt counts)
    markup: Literal["markdown", "html", ""] = ""  # how ``source`` is meant to be shown
    source: str = ""  # the file's markup (Markdown or HTML) when it can be rendered


def _normal(word: str) -> str:
    """A word as matched against a passage's: accents joined as the loaders join them ("erkl¨art"), lower case."""
    return "".join(_WORD.findall(compose_accents(word).lower()))


def passage_words(words: list[Word], passage: str) -> list[Word]:
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


def line_rectangles(words: list[Word]) -> list[Rectangle]:
    """One rectangle per text line of the marked words."""
    lines: dict[tuple[int, int], list[float]] = {}
    for x0, y0, x1, y1, _text, block, line in words:
        box = lines.setdefault((block, line), [x0, y0, x1, y1])
        box[0], box[1] = min(box[0], x0), min(box[1], y0)
        box[2], box[3] = max(box[2], x1), max(box[3], y1)
    return [(b[0], b[1], b[2], b[3]) for b in lines.values()]


# -- opening a document -------------------------------------------------------------------------------

# The last document opened, kept open while its file is unchanged: turning pages does not re-read it.
_open: dict[tuple[str, int, int], Any] = {}


def open_document(path: str, max_bytes: int, password: str = "") -> Any:
    """The PyMuPDF document of ``path`` with at least one page, or LoadError with the true reason; an encrypted
    one is opened with ``password`` (given by the person for this session)."""
    import pymupdf  # noqa: PLC0415 - heavy, loaded on first use

    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise LoadError(FAILED, "the file is no longer there (moved or deleted?)") from None
    except OSError as error:
        raise LoadError(FAILED, f"cannot read: {error.strerror or error}") from None
    key = (path, status.st_mtime_ns, status.st_size)
    if key in _open:
        return _open[key]
    for document in _open.values():
        document.close()
    _open.clear()

    ext = Path(path).suffix.lower()
    label = "PDF" if ext == ".pdf" else ext.lstrip(".").upper()
    data = loaders.read_bytes(Path(path), max_bytes=max_bytes)  # regular files only, the size limit
    if ext in _MUPDF_ARCHIVES:
        check_archive(data, f"{label} file")  # MuPDF unpacks it: bound that first
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    pymupdf.TOOLS.reset_mupdf_warnings()
    try:
        document = pymupdf.open(stream=data, filetype=pdf.FILETYPES.get(ext) or images.FILETYPES.get(ext, "pdf"))
        if document.needs_pass and not (password and document.authenticate(password)):
            raise LoadError(SKIPPED, "encrypted: the password given is wrong" if password
                            else "encrypted: needs a password")
        count = document.page_count
    except (RuntimeError, ValueError, IndexError, pymupdf.mupdf.FzErrorBase) as error:
        raise LoadError(FAILED, f"corrupt or unreadable {label}: {' '.join(str(error).split())[:160]}") from error
    if count == 0:
        document.close()
        raise LoadError(FAILED, f"no page of this {label} can be read: the file is damaged or cut short"
                                f"{_first_complaint(pymupdf.TOOLS.mupdf_warnings())}")
    _open[key] = document
    return document


def _first_complaint(warnings: str) -> str:
    """MuPDF's first error line, as " (MuPDF: ...)", or "" when it said nothing."""
    errors = [line for line in warnings.splitlines() if "error" in line]
    return f" (MuPDF: {errors[0].strip()[:120]})" if errors else ""


# -- the three views -------------------------------------------------------------------------------------


def render_page(path: str, page_number: int, quotes: Sequence[str] = (), view: PageView | None = None, *,
                find: str = "", max_bytes: int = 200 * 1024 * 1024, password: str = "") -> RenderedPage:
    """Page ``page_number`` (1-based, clamped) at the view's size, each quote marked, ``find``'s matches found."""
    import pymupdf  # noqa: PLC0415 - heavy, loaded on first use

    view = view or PageView()
    document = open_document(path, max_bytes, password)
    count = document.page_count
    number = min(max(page_number, 1), count)
    page = document[number - 1]
    zoom = page_zoom(view, page.rect.width, page.rect.height)
    scale = zoom * ACTUAL_SIZE * view.pixel_ratio
    area = page.rect.width * page.rect.height * scale * scale
    if area > MAX_PIXELS:
        scale *= (MAX_PIXELS / area) ** 0.5
    pixmap = page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), alpha=False)

    def scaled(box: Sequence[float]) -> Rectangle:
        return (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)

    highlights: list[Rectangle] = []
    wanted = [quote for quote in quotes if quote.strip()]
    if wanted:
        words = (ocr.page_words(page) if ocr.needs_ocr(page) else  # a scan: the words OCR read, as indexed
                 [(w[0], w[1], w[2], w[3], str(w[4]), int(w[5]), int(w[6])) for w in page.get_text("words")])
        for quote in wanted:
            highlights.extend(scaled(box) for box in line_rectangles(passage_words(words, quote)))
    found = [scaled(box) for box in _matches(page, find)] if find.strip() else []
    return RenderedPage(path, number, count, zoom, scale, pixmap.width, pixmap.height, pixmap.stride,
                        bytes(pixmap.samples), highlights, found)


def _matches(page: Any, query: str) -> list[Rectangle]:
    """``query``'s matches on a page, one rectangle per line: in its text layer, or in the words OCR reads on a scan."""
    if ocr.needs_ocr(page):
        return ocr.find_in_words(ocr.page_words(page), query)
    return [(rect.x0, rect.y0, rect.x1, rect.y1) for rect in page.search_for(query)]


def find_pages(path: str, query: str, max_bytes: int = 200 * 1024 * 1024,
               password: str = "") -> list[tuple[int, int]]:
    """(page, matches) for every page holding ``query`` (case-insensitive, as MuPDF searches).

    Scanned pages are searched in the words OCR reads, a second or more a page the first time; past
    ``FIND_OCR_BUDGET_S`` the search stops with a LoadError saying how far it got. The pages read so far are
    kept, so searching again goes on from there."""
    document = open_document(path, max_bytes, password)
    pages: list[tuple[int, int]] = []
    if query.strip():
        deadline = time.monotonic() + FIND_OCR_BUDGET_S
        read_now = 0  # scanned pages this search read by OCR: at least one, so each search gets further
        for number in range(document.page_count):
            page = document[number]
            if ocr.needs_ocr(page) and not ocr.has_reading(page):
                if read_now and time.monotonic() > deadline:
                    raise LoadError(FAILED, f"searched {number} of {document.page_count} pages: the rest are scans "
                                            "still to be read by OCR; search again to go on")
                read_now += 1
            matches = len(_matches(page, query))
            if matches:
                pages.append((number + 1, matches))
    return pages


def load_text(path: str, spans: Sequence[tuple[int, int]] = (), max_bytes: int = 200 * 1024 * 1024) -> LoadedText:
    """The loader's own text (the citation offsets index into it) with the quoted spans in Qt's units, and the
    Markdown or HTML source to render when the file is one."""
    file = Path(path)
    if not file.exists():
        raise LoadError(FAILED, "the file is no longer there (moved or deleted?)")
    document = loaders.load(file, max_bytes=max_bytes)
    loaded = document.text

    def utf16(offset: int) -> int:
        offset = min(max(offset, 0), len(loaded))
        return offset + sum(1 for ch in loaded[:offset] if ord(ch) > 0xFFFF)

    result = LoadedText(path, loaded, [(utf16(start), utf16(end)) for start, end in spans if end > start])
    ext = file.suffix.lower()
    if ext in text.MARKDOWN_EXTENSIONS and len(loaded) <= MAX_MARKUP_CHARS:
        result.markup, result.source = "markdown", loaded  # the loader keeps Markdown as written
    elif ext in html.EXTENSIONS:
        markup = html.decode_markup(loaders.read_bytes(file, max_bytes=max_bytes), file)
        if len(markup) <= MAX_MARKUP_CHARS:
            result.markup, result.source = "html", markup
    return result
