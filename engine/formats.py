"""The file formats Hushdocs reads, named for people: file dialogs, the empty library's text, the viewer.

Each loader registers its own extensions (``engine.ingest.loaders``); this module only groups them
under the names a person knows and says which formats have pages (the viewer renders those as
images). Nothing here repeats an extension list, so a format a loader learns appears everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.ingest.loaders import (
    SUPPORTED_EXTENSIONS,
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


@dataclass(frozen=True)
class Format:
    name: str
    extensions: frozenset[str]
    paged: bool = False  # pages of their own (PDF and what PyMuPDF opens): citations name a page


def _paged_formats() -> tuple[Format, ...]:
    """One Format per PyMuPDF file type (``.xps`` and ``.oxps`` are both XPS), in the loader's order."""
    by_type: dict[str, set[str]] = {}
    for extension, filetype in pdf.FILETYPES.items():
        by_type.setdefault(filetype, set()).add(extension)
    return tuple(Format(filetype.upper(), frozenset(extensions), paged=True)
                 for filetype, extensions in by_type.items())


FORMATS: tuple[Format, ...] = (
    *_paged_formats(),
    Format("image (PNG, JPEG, TIFF)", images.EXTENSIONS, paged=True),  # read by OCR
    Format("Word", docx.EXTENSIONS),
    Format("PowerPoint", slides.EXTENSIONS),
    Format("Excel", workbook.EXTENSIONS),
    Format("CSV", delimited.EXTENSIONS),
    Format("OpenDocument", opendocument.EXTENSIONS),
    Format("RTF", rtf.EXTENSIONS),
    Format("e-mail", mail.EXTENSIONS),
    Format("HTML", html.EXTENSIONS),
    Format("Markdown", text.MARKDOWN_EXTENSIONS),
    Format("reStructuredText", text.RST_EXTENSIONS),
    Format("plain text", text.PLAIN_EXTENSIONS),
    Format("source code", text.CODE_EXTENSIONS),
)
PAGED_EXTENSIONS: frozenset[str] = frozenset().union(*(f.extensions for f in FORMATS if f.paged))


def is_supported(path: str | Path) -> bool:
    return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


def is_paged(path: str | Path) -> bool:
    """Whether the file has pages of its own (the viewer renders the cited page)."""
    return Path(path).suffix.lower() in PAGED_EXTENSIONS


def format_names() -> str:
    """"PDF, EPUB, …, plain text and source code": every readable format, for a sentence."""
    names = [f.name for f in FORMATS]
    return ", ".join(names[:-1]) + " and " + names[-1]


def file_patterns() -> list[str]:
    """``*.ext`` for every supported extension, sorted (a file dialog's filter)."""
    return sorted(f"*{extension}" for extension in SUPPORTED_EXTENSIONS)
