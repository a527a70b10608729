"""Tables as text in which every row carries its header: "Boat length: 8–12 m | Winter: 950 €".

Every loader that meets a table (PDF, Word, spreadsheets, OpenDocument, PowerPoint, HTML) renders it
here. Each row is a paragraph of its own (rows are separated by a blank line, a cell's own line breaks
are folded into spaces), so the chunker packs whole rows: a table longer than a chunk is cut between
rows, and every row of every piece still names its columns.

PDF tables are found by PyMuPDF's ``find_tables`` on the ruling lines a page draws; a table without
lines reads as ordinary text, row by row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

ROW_SEPARATOR = "\n\n"
CELL_SEPARATOR = " | "
_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"^[-+−]?[\d.,' \u00a0]*\d[\d.,' \u00a0]*%?$")
_MIN_RULES = 2  # horizontal and vertical strokes a page must draw before it is searched for tables


def render_table(rows: Iterable[Sequence[str]], header: Sequence[str] | None = None) -> str:
    """The table's rows, each "Header: value | Header: value"; blank cells and blank rows left out.

    ``header`` names the columns when the format marks its header rows; otherwise the first row is
    the header when it looks like one (every cell filled, no cell a bare number).
    """
    cleaned = [[clean_cell(cell) for cell in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if header is None and cleaned and looks_like_header(cleaned[0]) and len(cleaned) > 1:
        header, cleaned = cleaned[0], cleaned[1:]
    names = [clean_cell(name) for name in header] if header is not None else []
    return ROW_SEPARATOR.join(_render_row(row, names) for row in cleaned)


def clean_cell(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def looks_like_header(row: Sequence[str]) -> bool:
    """Every cell up to the last filled one is filled, with words rather than a bare number."""
    filled = list(row)
    while filled and not filled[-1]:
        filled.pop()
    return len(filled) > 1 and all(filled) and not any(_NUMBER.match(cell) for cell in filled)


def _render_row(row: Sequence[str], names: Sequence[str]) -> str:
    cells = []
    for column, value in enumerate(row):
        if not value:
            continue
        name = names[column] if column < len(names) else ""
        cells.append(f"{name}: {value}" if name and name != value else value)
    return CELL_SEPARATOR.join(cells)


def merge_header_rows(rows: Sequence[Sequence[str]]) -> list[str]:
    """Several header rows as one name per column ("Fee" over "Winter" is "Fee Winter")."""
    width = max((len(row) for row in rows), default=0)
    names = []
    for column in range(width):
        parts: list[str] = []
        for row in rows:
            part = clean_cell(row[column]) if column < len(row) else ""
            if part and part not in parts:
                parts.append(part)
        names.append(" ".join(parts))
    return names


# --- PDF ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageTable:
    """A table found on a PDF page: where it lies (points) and its rendered text."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    def covers(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        """Whether a text block with this box belongs to the table (its centre lies inside)."""
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return self.x0 <= cx <= self.x1 and self.y0 <= cy <= self.y1


def page_tables(page: Any) -> list[PageTable]:
    """The ruled tables of a PyMuPDF page, each rendered with its header on every row."""
    if not _draws_rules(page):
        return []  # find_tables costs about half a second on a page of dense text: only where lines are
    found = page.find_tables(use_layout=False)  # the layout model is slow and needs no lines to be ruled
    if not found.tables:
        return []
    words = page.get_text("words")
    tables = []
    for table in found.tables:
        rows = [[_cell_text(words, cell) for cell in row.cells] for row in table.rows]
        text = render_table(rows)
        if text:
            x0, y0, x1, y1 = table.bbox
            tables.append(PageTable(x0, y0, x1, y1, text))
    return tables


def _draws_rules(page: Any) -> bool:
    """Whether the page draws at least a couple of horizontal and vertical strokes or boxes."""
    horizontal = vertical = 0
    for drawing in page.get_drawings():
        for item in drawing["items"]:
            if item[0] == "re":
                horizontal, vertical = horizontal + 2, vertical + 2
            elif item[0] == "l":
                start, end = item[1], item[2]
                horizontal += abs(start.y - end.y) < 1
                vertical += abs(start.x - end.x) < 1
        if horizontal >= _MIN_RULES and vertical >= _MIN_RULES:
            return True
    return False


def _cell_text(words: list[tuple[Any, ...]], cell: tuple[float, float, float, float] | None) -> str:
    """The words whose centre lies in the cell, in reading order (a merged cell's extra slots are None)."""
    if cell is None:
        return ""
    x0, y0, x1, y1 = cell
    inside = [w for w in words if x0 <= (w[0] + w[2]) / 2 <= x1 and y0 <= (w[1] + w[3]) / 2 <= y1]
    inside.sort(key=lambda w: (w[5], w[6], w[7]))  # block, line, word
    return " ".join(str(w[4]) for w in inside)
