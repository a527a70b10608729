"""File loaders: ``load(path)`` turns a supported file into a ParsedDocument or raises LoadError.

Dispatch is by extension, checked against the content's magic number, so a ``.txt`` that is
really a PDF (or a ``.pdf`` that is really an HTML error page) is reported, not indexed as
garbage. Every bad input raises ``LoadError`` with a status from ``engine.ingest.status``. Every loader's
text comes out with split accents joined to their letters (``engine.ingest.accents``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.ingest.accents import normalise_document
from engine.ingest.loaders import (
    delimited,
    docx,
    html,
    images,
    mail,
    opendocument,
    pdf,
    rtf,
    slides,
    text,
    workbook,
)
from engine.ingest.loaders.archive import check_archive
from engine.ingest.loaders.sniff import is_pdf, is_zip, sniff
from engine.ingest.regular import NotRegularFileError, open_regular
from engine.ingest.status import EMPTY, FAILED, SKIPPED, LoadError
from engine.records import ParsedDocument

Loader = Callable[[bytes, Path], ParsedDocument]

_LOADERS: dict[str, Loader] = {}
for _extensions, _loader in (
    (text.EXTENSIONS, text.load_text),
    (html.EXTENSIONS, html.load_html),
    (docx.EXTENSIONS, docx.load_docx),
    (pdf.EXTENSIONS, pdf.load_pdf),
    (images.EXTENSIONS, images.load_image),
    (slides.EXTENSIONS, slides.load_pptx),
    (workbook.EXTENSIONS, workbook.load_xlsx),
    (delimited.EXTENSIONS, delimited.load_csv),
    (opendocument.EXTENSIONS, opendocument.load_opendocument),
    (rtf.EXTENSIONS, rtf.load_rtf),
    (mail.EXTENSIONS, mail.load_mail),
):
    _LOADERS.update(dict.fromkeys(_extensions, _loader))

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_LOADERS)
_MUPDF_ARCHIVES = frozenset({".epub", ".xps", ".oxps"})
# Archives a library unpacks itself (MuPDF, python-pptx, openpyxl): bounded whole before it opens them.
_UNPACKED_BY_LIBRARY = _MUPDF_ARCHIVES | slides.EXTENSIONS | workbook.EXTENSIONS
_ZIP_FORMATS = _UNPACKED_BY_LIBRARY | docx.EXTENSIONS | opendocument.EXTENSIONS
_ZIP_LABELS = {**dict.fromkeys(docx.EXTENSIONS, "Word file"), **dict.fromkeys(slides.EXTENSIONS, "PowerPoint file"),
               **dict.fromkeys(workbook.EXTENSIONS, "Excel file"),
               **dict.fromkeys(opendocument.EXTENSIONS, "OpenDocument file")}


def load(path: Path, *, max_bytes: int, password: str = "") -> ParsedDocument:
    """Read and parse ``path`` (an encrypted PDF with ``password``); raises LoadError for anything that cannot be
    indexed."""
    ext = path.suffix.lower()
    loader = _LOADERS.get(ext)
    if loader is None:
        raise LoadError(SKIPPED, f"unsupported file type: {ext or path.name}")
    data = read_bytes(path, max_bytes=max_bytes)
    _check(data, ext)
    if loader is pdf.load_pdf:
        return normalise_document(pdf.load_pdf(data, path, password))
    return normalise_document(loader(data, path))


def load_attachment(data: bytes, name: str) -> ParsedDocument:
    """Parse a file held inside another (a mail's attachment), checked as ``load`` checks a file on disk."""
    path = Path(name)
    ext = path.suffix.lower()
    loader = _LOADERS.get(ext)
    if loader is None:
        raise LoadError(SKIPPED, f"unsupported file type: {ext or name}")
    _check(data, ext)
    return normalise_document(loader(data, path))


def _check(data: bytes, ext: str) -> None:
    """Refuse empty content, content that contradicts the extension, and archives that unpack too far."""
    if not data.strip():
        raise LoadError(EMPTY, "empty file")
    _check_content(data, ext)
    if ext in _UNPACKED_BY_LIBRARY:
        check_archive(data, _ZIP_LABELS.get(ext, f"{ext.lstrip('.').upper()} file"))  # bound that first


def read_bytes(path: Path, *, max_bytes: int) -> bytes:
    """The file's bytes, refusing files over ``max_bytes`` before reading them."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(SKIPPED, f"too large: {format_size(size)} (limit {format_size(max_bytes)})")
        with open_regular(path) as handle:  # a FIFO or a device is refused, never waited on
            data = handle.read(max_bytes + 1)
    except NotRegularFileError as exc:
        raise LoadError(SKIPPED, str(exc)) from exc
    except PermissionError as exc:
        raise LoadError(FAILED, "cannot read: permission denied") from exc
    except FileNotFoundError as exc:
        raise LoadError(FAILED, "cannot read: file not found") from exc
    except IsADirectoryError as exc:
        raise LoadError(FAILED, "cannot read: is a directory") from exc
    except OSError as exc:
        raise LoadError(FAILED, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # grew since stat
        raise LoadError(SKIPPED, f"too large: over {format_size(max_bytes)} (limit {format_size(max_bytes)})")
    return data


def format_size(size: int) -> str:
    """Binary units with the everyday names: 200 * 2**20 is "200 MB"."""
    if size < 1024:
        return f"{size} bytes"
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{size} bytes"


def _check_content(data: bytes, ext: str) -> None:
    """Refuse content that contradicts the extension of a binary format (text formats check their own)."""
    if ext == ".pdf" and not is_pdf(data):
        raise LoadError(FAILED, f"corrupt or unreadable PDF: {_not_a(data, 'PDF')}")
    if ext in _ZIP_FORMATS and not is_zip(data):
        kind = _ZIP_LABELS.get(ext, ext.lstrip(".").upper() + " file")
        found = sniff(data)
        if found and found.startswith("an old Office file"):
            raise LoadError(SKIPPED, f"{kind} is in the old binary or encrypted Office format")
        raise LoadError(FAILED, f"corrupt {kind}: {_not_a(data, 'zip archive')}")


def _not_a(data: bytes, expected: str) -> str:
    found = sniff(data)
    if found:
        return f"not a {expected}, looks like {found}"
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return f"not a {expected}, looks like an HTML page"
    return f"not a {expected}"
