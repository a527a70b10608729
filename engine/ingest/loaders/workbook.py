"""Excel .xlsx with openpyxl (read-only, cached values): one section per sheet, every row with its header.

openpyxl is the maintained reader of the format; read-only mode streams each sheet instead of building
it whole, ``data_only`` gives the values Excel last computed rather than the formulas, and openpyxl
parses with defusedxml when it is installed (it is a dependency). The archive is bounded by
``archive.check_archive`` before it is opened (the dispatcher does that).
"""

from __future__ import annotations

import datetime
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.ingest.loaders.assemble import DocumentText
from engine.ingest.loaders.tables import render_table
from engine.ingest.status import FAILED, LoadError
from engine.records import ParsedDocument

EXTENSIONS = frozenset({".xlsx", ".xlsm"})
_LABEL = "Excel file"


def load_xlsx(data: bytes, path: Path) -> ParsedDocument:
    import openpyxl  # noqa: PLC0415 - heavy, loaded on first use
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    out = DocumentText()
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            for sheet in workbook.worksheets:
                out.heading(sheet.title)
                out.paragraph(render_table(_rows(sheet)))
            title = " ".join((workbook.properties.title or "").split())
        finally:
            workbook.close()
    except (InvalidFileException, KeyError, ValueError, TypeError, zipfile.BadZipFile, SyntaxError) as exc:
        raise LoadError(FAILED, f"corrupt {_LABEL}: {type(exc).__name__}: {str(exc)[:160]}") from exc
    return out.document("xlsx", title or path.stem, empty="no values in any sheet")


def _rows(sheet: Any) -> Iterator[list[str]]:
    for row in sheet.iter_rows(values_only=True):
        yield [cell_text(value) for value in row]


def cell_text(value: object) -> str:
    """A cell's value as a person reads it: 950 not 950.0, a date without a midnight time."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)
