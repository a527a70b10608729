"""CSV and TSV with the standard library's csv module: the delimiter sniffed, every row with its header.

The bytes are decoded as the text loader decodes them (BOM, UTF-8, else charset detection).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from engine.ingest.loaders.assemble import DocumentText
from engine.ingest.loaders.tables import render_table
from engine.ingest.loaders.text import decode, normalize_newlines
from engine.ingest.status import FAILED, LoadError
from engine.records import ParsedDocument

EXTENSIONS = frozenset({".csv", ".tsv"})
_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 64 * 1024


def load_csv(data: bytes, path: Path) -> ParsedDocument:
    ext = path.suffix.lower()
    text = normalize_newlines(decode(data, ext))
    dialect = _dialect(text, ext)
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise LoadError(FAILED, f"malformed {ext.lstrip('.').upper()} file: {exc}") from exc
    out = DocumentText()
    out.paragraph(render_table(rows))
    return out.document(ext.lstrip("."), path.stem, empty="no values in this file")


def _dialect(text: str, ext: str) -> type[csv.Dialect] | csv.Dialect:
    """The sniffed dialect; the extension's usual one when the sample is too regular or too odd to tell."""
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=_DELIMITERS)
    except csv.Error:
        return csv.excel_tab if ext == ".tsv" else csv.excel
