"""Rich Text Format with striprtf: the text of the document, code pages and Unicode escapes decoded.

striprtf is a small, maintained converter that follows the specification's destinations (fonts,
pictures, headers and footers are left out) and honours ``\\ansicpg`` and font charsets.
"""

from __future__ import annotations

from pathlib import Path

from engine.ingest.loaders.assemble import DocumentText
from engine.ingest.status import FAILED, LoadError
from engine.records import ParsedDocument

EXTENSIONS = frozenset({".rtf"})


def load_rtf(data: bytes, path: Path) -> ParsedDocument:
    from striprtf.striprtf import rtf_to_text  # noqa: PLC0415 - loaded on first use

    if not data.lstrip().startswith(b"{\\rtf"):
        raise LoadError(FAILED, "corrupt RTF file: it does not start with {\\rtf")
    # RTF is 7-bit text; bytes above 127 that a writer left unescaped keep their value until striprtf
    # decodes the escapes in the document's code page.
    text = rtf_to_text(data.decode("latin-1"), errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    out = DocumentText()
    for paragraph in text.split("\n"):  # one line per \par
        out.paragraph(paragraph)
    document = out.document("rtf", path.stem)
    document.title = next((line.strip()[:200] for line in document.text.split("\n") if line.strip()), path.stem)
    return document
