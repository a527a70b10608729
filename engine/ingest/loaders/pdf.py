"""PDF and the other text formats PyMuPDF opens: one PageSpan per page, blocks in reading order.

Reading order: MuPDF's blocks are cut into horizontal bands at vertical gaps; consecutive bands
that share a column gutter are merged, so a two-column page reads each column top to bottom even
where both columns happen to break paragraphs at the same height. Each band (or merged band) is
split into columns at horizontal gaps and read left to right, recursively.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.ingest.loaders import ocr
from engine.ingest.loaders.tables import page_tables
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
    except mupdf_errors() as exc:
        detail = short_error(exc.__cause__ or exc)  # MuPDF's own words ("array not closed before end of file")
        if filetype == "pdf" and b"%%EOF" not in data[-1024:]:
            raise LoadError(FAILED, f"damaged: the file is cut short and the reader could not repair it ({detail})"
                            ) from exc
        raise LoadError(FAILED, f"corrupt or unreadable {label}: {detail}") from exc
    try:
        return _extract(document, path, filetype, label, password)
    finally:
        document.close()


def _extract(document: Any, path: Path, filetype: str, label: str, password: str) -> ParsedDocument:
    if document.needs_pass and not document.authenticate(password):
        raise LoadError(NEEDS_PASSWORD, "encrypted: needs a password")
    repaired = document.is_pdf and document.is_repaired  # MuPDF rebuilt a broken file (cut short, corrupt)
    try:
        page_count = document.page_count
    except mupdf_errors() as exc:
        raise LoadError(FAILED, f"corrupt or unreadable {label}: {short_error(exc)}") from exc
    if page_count == 0:
        if repaired:
            raise LoadError(FAILED, "damaged: repaired by the reader, but no page could be read "
                                    "(the file is cut short or corrupt)")
        raise LoadError(EMPTY, "no text in this document")
    texts: list[str] = []
    errors: list[str] = []
    unreadable: list[int] = []  # 0-based
    scans: list[int] = []
    for number in range(page_count):
        texts.append("")
        try:
            page = document.load_page(number)
            if repaired and not _is_real_page(document, page):
                unreadable.append(number)  # a stand-in MuPDF made for a page object the damage lost
            elif ocr.needs_ocr(page):
                scans.append(number)
            else:
                texts[number] = page_text(page)
        except mupdf_errors() as exc:  # one broken page must not lose the others
            unreadable.append(number)
            errors.append(short_error(exc))
    problems = list(_damage(repaired, unreadable, page_count))
    ocr_pages: tuple[int, ...] = ()
    if scans:
        try:
            ocr.engine()
        except ocr.OcrUnavailableError as error:
            if not any(t.strip() for t in texts):
                raise LoadError(NEEDS_OCR, f"no text layer: needs OCR, which is unavailable: {error}") from error
            problems.append(f"{_pages(scans)} not read: {'they need' if len(scans) > 1 else 'it needs'} OCR, "
                            f"which is unavailable: {error}")
        else:
            reading = read_by_ocr(document, scans)
            for number, page_ocr in reading.texts.items():
                texts[number] = page_ocr
            ocr_pages = tuple(n + 1 for n in sorted(reading.texts) if reading.texts[n].strip())
            problems.extend(reading.problems(page_count))
    if not any(t.strip() for t in texts):
        if repaired:
            raise LoadError(FAILED, problems[0] + (", the rest hold no text" if len(unreadable) < page_count else ""))
        if errors and len(errors) == page_count:
            raise LoadError(FAILED, f"corrupt or unreadable {label}: {errors[0]}")
        if scans:
            raise LoadError(EMPTY, f"no text found: OCR read nothing on {_pages(scans)}")
        raise LoadError(EMPTY, "no text in this document")
    if errors and not repaired:
        problems.insert(0, f"{_pages(unreadable)} unreadable ({errors[0]})")
    text, pages = join_pages(dehyphenate(texts))
    return ParsedDocument(text=text, kind=filetype, title=_title(document, text, path), pages=pages,
                          ocr_pages=ocr_pages, problems=tuple(problems))


def _is_real_page(document: Any, page: Any) -> bool:
    """Whether a page of a repaired PDF still has its page object (MuPDF stands in a blank one for a lost one)."""
    try:
        return bool(0 < page.xref < document.xref_length() and document.xref_get_key(page.xref, "Type")[1] == "/Page")
    except mupdf_errors():
        return False


def _damage(repaired: bool, unreadable: list[int], page_count: int) -> list[str]:
    if not repaired:
        return []
    if not unreadable:
        return [f"damaged: repaired by the reader, all {page_count} pages read"]
    if len(unreadable) == page_count:
        return ["damaged: repaired by the reader, but no page could be read (the file is cut short or corrupt)"]
    return [f"damaged: repaired by the reader, {len(unreadable)} of {page_count} pages unreadable "
            f"({_pages(unreadable)})"]


def _pages(numbers: list[int]) -> str:
    """0-based page numbers for people: "page 3", "pages 3–5, 9"."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    named = ", ".join(f"{r[0] + 1}–{r[-1] + 1}" if len(r) > 1 else str(r[0] + 1) for r in runs)
    return f"page{'s' if len(numbers) > 1 else ''} {named}"


@dataclass
class OcrReading:
    """What OCR made of some pages of a document: each page's text (by 0-based number), and what went wrong."""

    texts: dict[int, str]
    failed: list[str]  # one reason per page OCR could not read, "page 7: ..."
    blank: list[int]  # pages where OCR found no text
    late: list[int]  # pages left unread at the time limit

    def problems(self, page_count: int) -> tuple[str, ...]:
        notes = list(self.failed)
        if self.blank:
            notes.append(f"{_pages(self.blank)}: OCR found no text")
        if self.late:
            notes.append(f"{_pages(self.late)} not read: OCR stopped at its time limit "
                         f"({ocr.TIME_LIMIT_S:.0f} s a document)")
        return tuple(notes)


def ocr_text(page: ocr.OcrPage) -> str:
    """The paragraphs OCR read on a page, in reading order, as ``page_text`` gives a text layer's."""
    blocks = [_Block(b.x0, b.y0, b.x1, b.y1, b.text) for b in page.blocks]
    return "\n\n".join(block.text for block in reading_order(blocks))


def read_by_ocr(document: Any, numbers: list[int]) -> OcrReading:
    """OCR of the given pages (0-based), in reading order, within the document's OCR time limit."""
    reading = OcrReading({}, [], [], [])
    page_errors: tuple[type[Exception], ...] = (*mupdf_errors(), ocr.OcrFailedError)
    deadline = time.monotonic() + ocr.TIME_LIMIT_S
    for position, number in enumerate(numbers):
        if time.monotonic() > deadline:
            reading.late = numbers[position:]
            break
        try:
            page_ocr = ocr.read_page(document.load_page(number))
        except page_errors as exc:
            reading.failed.append(f"page {number + 1}: OCR could not read it ({short_error(exc)})")
            continue
        reading.texts[number] = ocr_text(page_ocr)
        if not reading.texts[number].strip():
            reading.blank.append(number)
    return reading


def join_pages(texts: list[str]) -> tuple[str, list[PageSpan]]:
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


def _title(document: Any, text: str, path: Path) -> str:
    metadata = document.metadata or {}
    title = " ".join(str(metadata.get("title") or "").split())
    if title.lower().startswith("microsoft word - "):
        title = title[len("microsoft word - ") :]
    if title and title.lower() not in ("untitled", "title"):
        return title
    return first_line(text, path)


def first_line(text: str, path: Path) -> str:
    """A document's title when it names none: its first line of text, else the file's name."""
    for line in text.split("\n"):
        if line.strip():
            return line.strip()[:200]
    return path.stem


def mupdf_errors() -> tuple[type[Exception], ...]:
    """What MuPDF raises on bad input: FileDataError (a RuntimeError), its C++ errors, ValueError."""
    import pymupdf  # noqa: PLC0415 - heavy, loaded on first use

    return (RuntimeError, ValueError, IndexError, pymupdf.mupdf.FzErrorBase)


def short_error(exc: BaseException) -> str:
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return detail[:160]
