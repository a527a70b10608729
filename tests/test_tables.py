"""Tables keep their header with every row: PDF (ruled tables), Word, HTML; long tables cut between rows.

Real files written here (PyMuPDF, python-docx), indexed through the real engine and embedder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pymupdf
import pytest

from engine.api import Engine, Settings
from engine.ingest import loaders
from engine.ingest.chunker import chunk_document

HARBOUR_FEES = [
    ["Boat length", "Summer", "Winter"],
    ["under 8 m", "500 EUR", "700 EUR"],
    ["8-12 m", "700 EUR", "950 EUR"],
    ["over 12 m", "1,100 EUR", "1,400 EUR"],
]
CRANE_FEES = [
    ["Lift", "Weekday", "Weekend"],
    ["single lift", "80 EUR", "120 EUR"],
    ["lift and return", "140 EUR", "210 EUR"],
]


def draw_table(page: pymupdf.Page, top: float, rows: Sequence[Sequence[str]], width: float = 150) -> None:
    """A ruled table: every cell boxed, as office programs print tables to PDF."""
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            rect = pymupdf.Rect(60 + c * width, top + r * 22, 60 + (c + 1) * width, top + (r + 1) * 22)
            page.draw_rect(rect, color=(0, 0, 0), width=0.6)
            page.insert_text((rect.x0 + 4, rect.y1 - 7), cell, fontsize=10)


def write_fee_pdf(path: Path) -> Path:
    document = pymupdf.open()
    first = document.new_page()
    first.insert_text((60, 70), "Marina handbook", fontsize=16)
    first.insert_textbox(pymupdf.Rect(60, 90, 540, 300),
                         "The marina opens at seven. Visitors report to the harbour office on arrival and "
                         "pay the crane fees listed below before a boat is lifted.", fontsize=11)
    draw_table(first, 200, CRANE_FEES)
    second = document.new_page()
    second.insert_text((60, 70), "Mooring fees", fontsize=16)
    second.insert_textbox(pymupdf.Rect(60, 90, 540, 160),
                          "Fees are charged per season and are due on the first day of the season.", fontsize=11)
    draw_table(second, 170, HARBOUR_FEES)
    second.insert_textbox(pymupdf.Rect(60, 300, 540, 400), "Electricity is included in every mooring fee.",
                          fontsize=11)
    document.save(path)
    document.close()
    return path


def test_pdf_table_rows_carry_their_header(tmp_path: Path) -> None:
    doc = loaders.load(write_fee_pdf(tmp_path / "marina.pdf"), max_bytes=10**8)
    assert "Boat length: 8-12 m | Summer: 700 EUR | Winter: 950 EUR" in doc.text
    assert "Lift: single lift | Weekday: 80 EUR | Weekend: 120 EUR" in doc.text
    row = doc.text.index("Boat length: 8-12 m")
    assert doc.page_at(row) == 2
    # the table sits where it is on the page: after the text above it, before the text below
    assert doc.text.index("due on the first day") < row < doc.text.index("Electricity is included")


def test_pdf_table_row_found_by_a_question_naming_a_column(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    write_fee_pdf(folder / "marina.pdf")
    with Engine(Settings(), embedder=embedder) as engine:
        list(engine.index([folder]))
        hits = engine.search("what is the fee for 8-12 m boats in winter?", k=3)
    assert hits, "nothing found"
    best = hits[0]
    assert best.path.endswith("marina.pdf") and best.page == 2
    assert "Boat length: 8-12 m | Summer: 700 EUR | Winter: 950 EUR" in best.text


def test_word_table_header_rows_marked_to_repeat(tmp_path: Path) -> None:
    import docx
    from docx.oxml import OxmlElement

    document = docx.Document()
    document.add_paragraph("Winter storage prices.")
    table = document.add_table(rows=4, cols=2)
    for r, row in enumerate([["Storage", "Price"], ["per season", "per month"], ["indoor", "90 EUR"],
                             ["outdoor", "40 EUR"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    for header_row in table.rows[:2]:  # Word's "repeat as header row at the top of each page"
        header_row._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
    path = tmp_path / "storage.docx"
    document.save(str(path))
    doc = loaders.load(path, max_bytes=10**8)
    assert "Storage per season: indoor | Price per month: 90 EUR" in doc.text
    assert "Storage per season: outdoor | Price per month: 40 EUR" in doc.text


def test_html_table_with_thead_and_a_cell_left_blank(tmp_path: Path) -> None:
    path = tmp_path / "fees.html"
    path.write_text(
        "<html><body><main><h1>Fees</h1><p>Prices for the season.</p>"
        "<table><thead><tr><th>Boat length</th><th>Summer</th><th>Winter</th></tr></thead>"
        "<tbody><tr><td>8&ndash;12 m</td><td>700 &euro;</td><td>950 &euro;</td></tr>"
        "<tr><td>over 12 m<td><td>1,400 &euro;</tbody></table><p>After the table.</p></main></body></html>",
        encoding="utf-8")
    doc = loaders.load(path, max_bytes=10**8)
    assert doc.text == ("Fees\n\nPrices for the season.\n\n"
                        "Boat length: 8–12 m | Summer: 700 € | Winter: 950 €\n\n"
                        "Boat length: over 12 m | Winter: 1,400 €\n\nAfter the table.")


@pytest.mark.parametrize("max_tokens", [60, 200])
def test_a_long_table_is_cut_between_rows_each_with_its_header(tmp_path: Path, embedder, max_tokens: int,  # type: ignore[no-untyped-def]
                                                               ) -> None:
    rows = "".join(f"<tr><td>berth {n}</td><td>pontoon {'ABCD'[n % 4]}</td><td>{300 + 7 * n} EUR</td></tr>"
                   for n in range(1, 81))
    path = tmp_path / "berths.html"
    path.write_text(f"<table><tr><th>Berth</th><th>Pontoon</th><th>Yearly fee</th></tr>{rows}</table>",
                    encoding="utf-8")
    doc = loaders.load(path, max_bytes=10**8)
    chunks = chunk_document(doc, embedder.count_tokens, max_tokens=max_tokens)
    assert len(chunks) > 1
    seen = []
    for chunk in chunks:
        for row in chunk.text.split("\n\n"):
            assert row.startswith("Berth: berth ") and " | Pontoon: pontoon " in row and " | Yearly fee: " in row
            assert row.endswith(" EUR")
            seen.append(row)
    assert seen == doc.text.split("\n\n")  # every row once, whole, in order: no row cut or repeated
