"""Photos and scans saved as images (PNG, JPEG, TIFF): read by OCR, one page per image (per frame of a TIFF).

PyMuPDF opens an image as a document of pages, so the viewer renders and marks it like a PDF page and
citations name the TIFF frame they come from.
"""

from __future__ import annotations

from pathlib import Path

from engine.ingest.loaders import ocr, pdf
from engine.ingest.loaders.sniff import sniff
from engine.ingest.status import EMPTY, FAILED, NEEDS_OCR, LoadError
from engine.records import ParsedDocument

# Extension -> PyMuPDF filetype, and the format's name for people.
FILETYPES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff"}
EXTENSIONS = frozenset(FILETYPES)
_SNIFFED = {"png": "a PNG image", "jpeg": "a JPEG image", "tiff": "a TIFF image"}


def load_image(data: bytes, path: Path) -> ParsedDocument:
    import pymupdf  # noqa: PLC0415 - heavy, loaded on first use

    filetype = FILETYPES[path.suffix.lower()]
    label = f"{filetype.upper()} image"
    found = sniff(data)
    if found != _SNIFFED[filetype]:
        raise LoadError(FAILED, f"corrupt or unreadable {label}: not a {label}"
                                f"{', looks like ' + found if found else ''}")
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    try:
        document = pymupdf.open(stream=data, filetype=filetype)
        page_count = document.page_count
    except pdf.mupdf_errors() as exc:
        raise LoadError(FAILED, f"corrupt or unreadable {label}: {pdf.short_error(exc)}") from exc
    try:
        try:
            ocr.engine()
        except ocr.OcrUnavailableError as error:
            raise LoadError(NEEDS_OCR, f"an image: needs OCR, which is unavailable: {error}") from error
        reading = pdf.read_by_ocr(document, list(range(page_count)))
    finally:
        document.close()
    texts = [reading.texts.get(number, "") for number in range(page_count)]
    if not any(t.strip() for t in texts):
        if reading.failed:
            raise LoadError(FAILED, f"OCR could not read this {label}: {reading.failed[0]}")
        raise LoadError(EMPTY, f"no text found in this {label} (OCR read nothing)")
    text, pages = pdf.join_pages(pdf.dehyphenate(texts))
    return ParsedDocument(text=text, kind=filetype, title=pdf.first_line(text, path), pages=pages,
                          ocr_pages=tuple(sorted(n + 1 for n in reading.texts if reading.texts[n].strip())),
                          problems=reading.problems(page_count))
