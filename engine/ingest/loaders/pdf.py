"""PDF and the other text formats PyMuPDF opens: one PageSpan per page, blocks in reading order.

Reading order: MuPDF's blocks are cut into horizontal bands at vertical gaps; consecutive bands
that share a column gutter are merged, so a two-column page reads each column top to bottom even
where both columns happen to break paragraphs at the same height. Each band (or merged band) is
split into columns at horizontal gaps and read left to right, recursively.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.ingest.status import EMPTY, FAILED, NEEDS_OCR, NEEDS_PASSWORD, LoadError
from engine.records import PageSpan, ParsedDocument

# Extension -> PyMuPDF filetype.
FILETYPES = {".pdf": "pdf", ".epub": "epub", ".xps": "xps", ".oxps": "xps", ".fb2": "fb2", ".mobi": "mobi"}
EXTENSIONS = frozenset(FILETYPES)
PAGE_SEPARATOR = "\n\n"
_MIN_GUTTER = 4.0  # points of horizontal gap that separate columns
_BAND_OVERLAP = 1.0  # blocks whose boxes overlap vertically by less than this may sit in different bands
_LINE_END_HYPHEN = re.compile(r"((?:[^\W\d_]+-)*[^\W\d_]+)-\n([^\W\d_]+)")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


@dataclass(frozen=True)
class _Block:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    @property
    def lines(self) -> int:
        return self.text.count("\n") + 1


def load_pdf(data: bytes, path: Path, password: str = "") -> ParsedDocument:
    import pymupdf  # noqa: PLC0415 - heavy, loaded on first use

    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    ext = path.suffix.lower()
    filetype = FILETYPES.get(ext, "pdf")
    label = "PDF" if filetype == "pdf" else ext.lstrip(".").upper()
    try:
        document = pymupdf.open(stream=data, filetype=filetype)
    except _mupdf_errors() as exc:
        raise LoadError(FAILED, f"corrupt or unreadable {label}: {_short(exc)}") from exc
    try:
        return _extract(document, path, filetype, label, password)
    finally:
        document.close()


def _extract(document: Any, path: Path, filetype: str, label: str, password: str) -> ParsedDocument:
    if document.needs_pass and not document.authenticate(password):
        raise LoadError(NEEDS_PASSWORD, "encrypted: needs a password")
    try:
        page_count = document.page_count
    except _mupdf_errors() as exc:
        raise LoadError(FAILED, f"corrupt or unreadable {label}: {_short(exc)}") from exc
    if page_count == 0:
        raise LoadError(EMPTY, "no text in this document")
    texts: list[str] = []
    errors: list[str] = []
    for number in range(page_count):
        try:
            texts.append(page_text(document.load_page(number)))
        except _mupdf_errors() as exc:  # one broken page must not lose the others
            texts.append("")
            errors.append(_short(exc))
    if not any(t.strip() for t in texts):
        if errors and len(errors) == page_count:
            raise LoadError(FAILED, f"corrupt or unreadable {label}: {errors[0]}")
        if _has_images(document):
            raise LoadError(NEEDS_OCR, "no text layer: needs OCR")
        raise LoadError(EMPTY, "no text in this document")
    text, pages = _join(dehyphenate(texts))
    return ParsedDocument(text=text, kind=filetype, title=_title(document, text, path), pages=pages)


def _join(texts: list[str]) -> tuple[str, list[PageSpan]]:
    parts: list[str] = []
    pages: list[PageSpan] = []
    offset = 0
    for number, page in enumerate(texts, start=1):
        if number > 1:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        parts.append(page)
        pages.append(PageSpan(number, offset, offset + len(page)))
        offset += len(page)
    return "".join(parts), pages


def page_text(page: Any) -> str:
    """The page's text blocks in reading order, separated by blank lines."""
    import pymupdf  # noqa: PLC0415 - heavy, loaded on first use

    flags = pymupdf.TEXT_MEDIABOX_CLIP  # no ligatures or odd whitespace kept; no images
    tables = page_tables(page)  # each table one block, its rows carrying the header
    blocks = [_Block(t.x0, t.y0, t.x1, t.y1, t.text) for t in tables]
    for x0, y0, x1, y1, text, _number, block_type in page.get_text("blocks", flags=flags):
        cleaned = _clean_block(text) if block_type == 0 else ""
        if cleaned and not any(t.covers(x0, y0, x1, y1) for t in tables):
            blocks.append(_Block(x0, y0, x1, y1, cleaned))
    return "\n\n".join(block.text for block in reading_order(blocks))


def _clean_block(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def dehyphenate(pages: list[str]) -> list[str]:
    r"""Join words broken at a line-end hyphen, keeping the hyphen where it belongs to the word.

    The document's own words decide: "exam-\nple" becomes "example", but "polynomial-\ntime" stays
    "polynomial-time" when the document writes "polynomial-time" elsewhere more often than "polynomialtime".
    Where it writes neither, a compound already under way ("state-of-\nthe-art") or a capitalised second
    part ("Jean-\nPaul") keeps the hyphen.
    """
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update(word.lower() for word in _WORD.findall(_LINE_END_HYPHEN.sub(" ", page)))

    def mend(match: re.Match[str]) -> str:
        before, after = match.group(1), match.group(2)
        hyphenated, joined = f"{before}-{after}", before + after
        with_hyphen, without = counts[hyphenated.lower()], counts[joined.lower()]
        if with_hyphen != without:
            return hyphenated if with_hyphen > without else joined
        return joined if after.islower() and "-" not in before else hyphenated

    return [_LINE_END_HYPHEN.sub(mend, page) for page in pages]


def reading_order(blocks: list[_Block]) -> list[_Block]:
    if len(blocks) <= 1:
        return list(blocks)
    groups: list[list[_Block]] = []
    previous_band: list[_Block] = []
    for band in _bands(blocks):
        if groups and _mergeable(previous_band, band, groups[-1]):
            groups[-1].extend(band)
        else:
            groups.append(list(band))
        previous_band = band
    ordered: list[_Block] = []
    for group in groups:
        columns = _columns(group)
        if len(columns) == 1:
            ordered.extend(sorted(group, key=lambda b: (b.y0, b.x0)))
        else:
            for column in columns:
                ordered.extend(reading_order(column))
    return ordered


def _sweep(blocks: list[_Block], vertical: bool, slack: float) -> list[list[_Block]]:
    """Blocks grouped along one axis: a block joins the current group when it starts before the group's
    far edge plus ``slack``; otherwise it opens the next group."""
    def span(b: _Block) -> tuple[float, float, float]:
        return (b.y0, b.y1, b.x0) if vertical else (b.x0, b.x1, b.y0)

    groups: list[list[_Block]] = []
    edge = float("-inf")
    for block in sorted(blocks, key=lambda b: (span(b)[0], span(b)[2])):
        start, end, _ = span(block)
        if groups and start < edge + slack:
            groups[-1].append(block)
            edge = max(edge, end)
        else:
            groups.append([block])
            edge = end
    return groups


def _bands(blocks: list[_Block]) -> list[list[_Block]]:
    """Blocks grouped into horizontal bands separated by vertical gaps, top to bottom."""
    return _sweep(blocks, vertical=True, slack=-_BAND_OVERLAP)


def _columns(blocks: list[_Block]) -> list[list[_Block]]:
    """Blocks grouped into columns separated by horizontal gaps, left to right."""
    return _sweep(blocks, vertical=False, slack=_MIN_GUTTER)


def _mergeable(previous: list[_Block], band: list[_Block], group: list[_Block]) -> bool:
    """Two multi-line bands continue the same columns when together they still have a gutter.

    Single-line bands (table rows, titles, page numbers) stay separate, so tables read by row.
    """
    if max(b.lines for b in previous) < 2 or max(b.lines for b in band) < 2:
        return False
    return len(_columns(group + band)) > 1


def _has_images(document: Any) -> bool:
    for number in range(document.page_count):
        try:
            page = document.load_page(number)
            if page.get_images(full=False) or page.get_image_info():
                return True
        except _mupdf_errors():
            continue
    return False


def _title(document: Any, text: str, path: Path) -> str:
    metadata = document.metadata or {}
    title = " ".join(str(metadata.get("title") or "").split())
    if title.lower().startswith("microsoft word - "):
        title = title[len("microsoft word - ") :]
    if title and title.lower() not in ("untitled", "title"):
        return title
    for line in text.split("\n"):
        if line.strip():
            return line.strip()[:200]
    return path.stem


def _mupdf_errors() -> tuple[type[Exception], ...]:
    """What MuPDF raises on bad input: FileDataError (a RuntimeError), its C++ errors, ValueError."""
    import pymupdf  # noqa: PLC0415 - heavy, loaded on first use

    return (RuntimeError, ValueError, IndexError, pymupdf.mupdf.FzErrorBase)


def _short(exc: BaseException) -> str:
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return detail[:160]
