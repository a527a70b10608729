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
_SNAP = 3.0  # points: find_tables' snap tolerance, edges closer than this are one
_MAX_EDGE_PAIRS = 250_000  # past this many edge pairs the ruling check would cost more than find_tables


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
    """Whether the page's strokes and boxes rule at least one row of two cells.

    That is a horizontal edge met by vertical edges at three places, and a vertical edge met by
    horizontal edges at two heights. As in find_tables, edges in line with each other that touch are
    one edge (a row of boxed cells), and edges closer than its snapping distance count as one.
    Framed or shaded code listings and boxed notes have only their two sides, and are left alone.
    """
    horizontal: list[tuple[float, float, float]] = []  # (y, x0, x1)
    vertical: list[tuple[float, float, float]] = []  # (x, y0, y1)
    for drawing in page.get_drawings():
        for item in drawing["items"]:
            if item[0] == "re":
                r = item[1]
                horizontal += ((r.y0, r.x0, r.x1), (r.y1, r.x0, r.x1))
                vertical += ((r.x0, r.y0, r.y1), (r.x1, r.y0, r.y1))
            elif item[0] == "l":
                a, b = item[1], item[2]
                if abs(a.y - b.y) < 1:
                    horizontal.append((a.y, min(a.x, b.x), max(a.x, b.x)))
                elif abs(a.x - b.x) < 1:
                    vertical.append((a.x, min(a.y, b.y), max(a.y, b.y)))
    if len(horizontal) * len(vertical) > _MAX_EDGE_PAIRS:
        return True  # a drawing-heavy page: let find_tables decide
    horizontal, vertical = _joined(horizontal), _joined(vertical)
    return _met_at(horizontal, vertical, 3) and _met_at(vertical, horizontal, 2)


def _joined(edges: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Edges in line (within the snapping distance) that touch or overlap, merged into one."""
    joined: list[tuple[float, float, float]] = []
    for position, low, high in sorted(edges, key=lambda e: (round(e[0] / _SNAP), e[1])):
        if joined:
            last_position, last_low, last_high = joined[-1]
            if abs(position - last_position) <= _SNAP and low <= last_high + _SNAP:
                joined[-1] = (last_position, last_low, max(last_high, high))
                continue
        joined.append((position, low, high))
    return joined


def _met_at(edges: list[tuple[float, float, float]], across: list[tuple[float, float, float]], places: int) -> bool:
    """Whether one of ``edges`` is met by edges of ``across`` at ``places`` distinct positions."""
    for position, low, high in edges:
        met = sorted(a for a, a_low, a_high in across
                     if low - _SNAP <= a <= high + _SNAP and a_low - _SNAP <= position <= a_high + _SNAP)
        distinct = sum(1 for i, a in enumerate(met) if i == 0 or a - met[i - 1] > _SNAP)
        if distinct >= places:
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
