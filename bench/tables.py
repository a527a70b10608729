"""Questions answered from table cells: is the row found in the top 5, and does its header help? (search only)

    .venv/bin/python -m bench.tables
    .venv/bin/python -m bench.tables --show   # each question's rank and the hit's first line

The benchmark writes its documents: a PDF handbook with three ruled tables on three pages, an Excel
workbook with three sheets, an HTML page with two tables, and a Markdown note that talks about the
same things in prose (a distractor). Each question names a row and a column; it is found at rank k when
the k-th hit comes from the right file (and page, for the PDF) and holds, on one line, the row's key and
the answer's cell ("1,050 EUR"). Indexed through the real engine and embedder, in a temporary home,
twice: as Hushdocs reads tables now (each row with its header: "Boat length: 12-15 m | ... | Autumn:
1,050 EUR"), and with the loaders' table rendering swapped for the cells alone, the header row once, as
before (the baseline, in the same run).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.api import Engine, Hit
    from engine.records import ParsedDocument

PDF, XLSX, HTML = "handbook.pdf", "club.xlsx", "harbour.html"
MOORING = [["Boat length", "Spring", "Summer", "Autumn", "Winter"],
           ["under 8 m", "410 EUR", "520 EUR", "430 EUR", "620 EUR"],
           ["8-12 m", "560 EUR", "700 EUR", "590 EUR", "950 EUR"],
           ["12-15 m", "780 EUR", "940 EUR", "1,050 EUR", "1,310 EUR"],
           ["over 15 m", "1,020 EUR", "1,260 EUR", "1,180 EUR", "1,640 EUR"]]
CRANE = [["Service", "Weekday", "Weekend"],
         ["single lift", "80 EUR", "120 EUR"],
         ["lift and return", "140 EUR", "210 EUR"],
         ["mast stepping", "65 EUR", "95 EUR"],
         ["slipway use", "25 EUR", "40 EUR"]]
HOURS = [["Month", "Opens", "Closes"],
         ["January", "09:30", "15:00"], ["April", "08:00", "18:00"],
         ["July", "07:00", "21:30"], ["October", "08:30", "17:00"]]
FUEL = [["Fuel", "Price per litre", "Supplier"],
        ["Diesel", "1.62", "Nordoil"], ["Petrol 95", "1.84", "Baltic Energy"], ["Two-stroke mix", "2.31", "Marinol"]]
_FIRST = ["Ingrid", "Tomas", "Mia", "Erik", "Sofia", "Lars", "Nora", "Anders", "Freja", "Jonas", "Elin", "Karl"]
_LAST = ["Berg", "Lund", "Holm", "Dahl", "Strand", "Vik", "Nyberg", "Sund", "Aas", "Moe"]
_BOATS = ["Stormsvale", "Seagull", "Blue Otter", "Havørn", "Kestrel", "Little Auk", "Mistral", "Nordlys", "Pelican",
          "Sea Urchin", "Tern", "Vega", "Albatross", "Bris", "Cormorant", "Dolphin", "Eider", "Fulmar", "Gannet",
          "Heron", "Ibis", "Jolly Roger", "Kittiwake", "Loon", "Merlin", "Nautilus", "Osprey", "Puffin", "Quest",
          "Razorbill", "Skua", "Trident", "Undine", "Viking", "Wren", "Zephyr"]
_SUFFIXES = ["", " II", " III"]
MEMBERS = [["Member", "Boat name", "Berth"]] + [  # 120 members, boats named "Seagull", "Seagull II", ...
    [f"{_FIRST[n % 12]} {_LAST[n // 12]}", f"{_BOATS[n % 36]}{_SUFFIXES[n // 36 % 3]}",
     f"{'ABCD'[n % 4]}{n + 1:03d}"] for n in range(120)]
RACES = [["Race", "Date", "Start time"],
         ["Spring cup", "2026-05-09", "10:00"], ["Midsummer race", "2026-06-20", "18:30"],
         ["Autumn regatta", "2026-09-12", "11:15"]]
FERRY = [["Departure", "Destination", "Crossing time"],
         ["06:40", "Kalvø", "35 minutes"], ["09:15", "Lindholm", "1 hour 10 minutes"], ["13:50", "Søby", "55 minutes"]]
_DAYS = [datetime.date(2026, 1, 1) + datetime.timedelta(days=n) for n in range(365)]
TIDES = [["Date", "High water", "Low water"]] + [  # a year, the tide 50 minutes later each day
    [f"{day.day} {day:%B}", f"{(252 + 50 * n) // 60 % 12:02d}:{(252 + 50 * n) % 60:02d}",
     f"{(625 + 50 * n) // 60 % 12:02d}:{(625 + 50 * n) % 60:02d}"] for n, day in enumerate(_DAYS)]


@dataclass(frozen=True)
class Question:
    text: str
    file: str
    row_key: str  # a cell that names the row
    column: str  # the header of the answer's column
    value: str
    page: int | None = None


def ask(text: str, file: str, table: list[list[str]], row_key: str, column: str, *, page: int | None = None,
        ) -> Question:
    """A question about one cell: the row whose first cell is ``row_key`` (or holds it), under ``column``."""
    row = next(row for row in table[1:] if row_key in row)
    return Question(text, file, row_key, column, row[table[0].index(column)], page)


QUESTIONS = [
    ask("What is the mooring fee for a 12-15 m boat in autumn?", PDF, MOORING, "12-15 m", "Autumn", page=1),
    ask("How much does winter mooring cost for boats under 8 m?", PDF, MOORING, "under 8 m", "Winter", page=1),
    ask("What is the fee for 8-12 m boats in winter?", PDF, MOORING, "8-12 m", "Winter", page=1),
    ask("What does spring mooring cost for a boat over 15 m?", PDF, MOORING, "over 15 m", "Spring", page=1),
    ask("How much is mast stepping at the weekend?", PDF, CRANE, "mast stepping", "Weekend", page=2),
    ask("What does using the slipway cost on a weekday?", PDF, CRANE, "slipway use", "Weekday", page=2),
    ask("When does the harbour office close in July?", PDF, HOURS, "July", "Closes", page=3),
    ask("What time does the office open in January?", PDF, HOURS, "January", "Opens", page=3),
    ask("What is the price per litre of diesel?", XLSX, FUEL, "Diesel", "Price per litre"),
    ask("Who supplies the petrol?", XLSX, FUEL, "Petrol 95", "Supplier"),
    ask("Which berth does the boat Seagull have?", XLSX, MEMBERS, "Seagull", "Berth"),
    ask("Who owns the boat Puffin?", XLSX, MEMBERS, "Puffin", "Member"),
    ask("What is the name of Lars Lund's boat?", XLSX, MEMBERS, "Lars Lund", "Boat name"),
    ask("What time does the autumn regatta start?", XLSX, RACES, "Autumn regatta", "Start time"),
    ask("How long is the ferry crossing to Lindholm?", HTML, FERRY, "Lindholm", "Crossing time"),
    ask("When does the ferry to Kalvø leave?", HTML, FERRY, "Kalvø", "Departure"),
    ask("What time is high water on 14 March?", HTML, TIDES, "14 March", "High water"),
    ask("When is low water on 27 March?", HTML, TIDES, "27 March", "Low water"),
]

PROSE = {
    1: ("Mooring fees", "Fees are charged per season and fall due on the first day of the season. Electricity "
        "and fresh water are included in every mooring fee; winter storage on land is priced separately."),
    2: ("Crane and slipway", "The crane is booked at the harbour office at least a week ahead. Owners stay with "
        "their boat during a lift, and the slipway is closed at low water."),
    3: ("The harbour office", "The office sells fuel cards, takes bookings for the crane and keeps the lost "
        "property. Opening hours change with the season."),
}


def draw_table(page: object, top: float, rows: list[list[str]]) -> None:
    import pymupdf

    assert isinstance(page, pymupdf.Page)
    width = 480 / len(rows[0])
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            rect = pymupdf.Rect(60 + c * width, top + r * 22, 60 + (c + 1) * width, top + (r + 1) * 22)
            page.draw_rect(rect, color=(0, 0, 0), width=0.6)
            page.insert_text((rect.x0 + 4, rect.y1 - 7), cell, fontsize=10)


def write_documents(folder: Path) -> None:
    import openpyxl
    import pymupdf

    folder.mkdir(parents=True, exist_ok=True)
    handbook = pymupdf.open()
    for number, table in ((1, MOORING), (2, CRANE), (3, HOURS)):
        title, prose = PROSE[number]
        page = handbook.new_page()
        page.insert_text((60, 70), title, fontsize=16)
        page.insert_textbox(pymupdf.Rect(60, 90, 540, 170), prose, fontsize=11)
        draw_table(page, 180, table)
    handbook.save(folder / PDF)
    handbook.close()

    workbook = openpyxl.Workbook()
    for index, (name, rows) in enumerate((("Fuel", FUEL), ("Members", MEMBERS), ("Races", RACES))):
        sheet = workbook.active if index == 0 else workbook.create_sheet()
        assert sheet is not None
        sheet.title = name
        for row in rows:
            sheet.append(row)
    workbook.save(folder / XLSX)

    def html_table(rows: list[list[str]]) -> str:
        head = "".join(f"<th>{cell}</th>" for cell in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows[1:])
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    (folder / HTML).write_text(
        "<html><head><title>Harbour information</title></head><body><main>"
        "<h1>Ferries</h1><p>Ferries leave from the north quay; tickets are sold on board.</p>"
        f"{html_table(FERRY)}<h1>Tides</h1><p>Times are local. Spring tides run higher.</p>{html_table(TIDES)}"
        "</main></body></html>", encoding="utf-8")
    (folder / "notes.md").write_text(
        "# Notes from the board meeting\n\nThe board discussed the mooring fees for next winter and the price of "
        "diesel at the fuel berth. Ferry times to the islands change in March. The autumn regatta needs "
        "volunteers, and the office will stay open later in summer. Members asked about berth swaps.\n",
        encoding="utf-8")


def cells_only(rows: Iterable[Sequence[str]], header: Sequence[str] | None = None) -> str:
    """Tables as the loaders read them before: the header row once, then each row's cells, one line a row."""
    lines = [*([header] if header is not None else []), *rows]
    return "\n".join(" | ".join(cell.strip() for cell in line if cell.strip()) for line in lines)


def load_cells_only(path: Path, *, max_bytes: int, password: str = "") -> ParsedDocument:
    """The baseline loader, run in the parser child: every loader's ``render_table`` swapped for ``cells_only``."""
    from engine.ingest import loaders
    from engine.ingest.loaders import tables

    original = tables.render_table
    for module in list(sys.modules.values()):
        if module.__name__.startswith("engine.ingest.loaders") and getattr(module, "render_table", None) is original:
            module.render_table = cells_only  # type: ignore[attr-defined]
    return loaders.load(path, max_bytes=max_bytes, password=password)


def rank_of(hits: list[Hit], question: Question) -> int | None:
    """The rank of the first hit from the right file and page that holds the row: its key and the answer."""
    for rank, hit in enumerate(hits, start=1):
        if not hit.path.endswith(question.file) or (question.page is not None and hit.page != question.page):
            continue
        if any(question.row_key in line and question.value in line for line in hit.text.split("\n")):
            return rank
    return None


def rank_in(engine: Engine, collection: str, question: Question, *, show: bool) -> int | None:
    hits = engine.search(question.text, k=5, collection=collection)
    rank = rank_of(hits, question)
    if show:
        first = hits[0].text.split("\n")[0][:70] if hits else "(nothing)"
        print(f"  {rank or '-':>2}  {question.text:<56} top: {first}")
    return rank


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", action="store_true", help="print each question's rank and its best hit")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="hushdocs-bench-tables-"))
    from engine import paths

    os.environ.setdefault("HUSHDOCS_MODELS", str(paths.models_dir()))
    os.environ["HUSHDOCS_HOME"] = str(home)
    from engine.api import Engine, Settings

    corpus, baseline = home / "corpus", home / "baseline"
    write_documents(corpus)
    write_documents(baseline)
    with Engine(Settings()) as engine:
        started = time.perf_counter()
        list(engine.index([corpus], "header on every row"))
        print(f"indexed {corpus} in {time.perf_counter() - started:.1f} s")
        indexer = engine.indexer()
        indexer.loader = "bench.tables:load_cells_only"
        list(indexer.add([baseline], "cells only"))
        for document in engine.documents():
            print(f"  {document.collection:<20} {Path(document.path).name:<14} {document.status:<8} "
                  f"{document.chunks:>3} chunks")
        print(f"\n{len(QUESTIONS)} questions from table cells, search only (top 5)")
        print(f"{'tables read as':<34} {'recall@1':>9} {'recall@5':>9}")
        missed: dict[str, list[Question]] = {}
        for collection, label in (("header on every row", "rows, each with its header"),
                                  ("cells only", "cells only, header once (before)")):
            ranks = [rank_in(engine, collection, question, show=args.show) for question in QUESTIONS]
            at_1 = sum(1 for rank in ranks if rank == 1) / len(QUESTIONS)
            at_5 = sum(1 for rank in ranks if rank is not None) / len(QUESTIONS)
            print(f"{label:<34} {at_1:>9.2f} {at_5:>9.2f}")
            missed[label] = [q for q, rank in zip(QUESTIONS, ranks, strict=True) if rank is None]
        for label, questions in missed.items():
            for question in questions:
                print(f"  missed ({label}): {question.text} -> {question.row_key}, {question.column}: "
                      f"{question.value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
