"""Office and mail formats on real files the tests write: PowerPoint, Excel, CSV, OpenDocument, RTF, e-mail.

The four the issue names (a slide deck, a workbook, an OpenDocument text, a mailbox) are indexed through
the real engine with the real embedder and searched: the hit names the right slide or section.
Hostile and broken files are refused with the reason.
"""

from __future__ import annotations

import datetime
import email.message
import io
import mailbox
import zipfile
from pathlib import Path

import pytest

from engine.api import Engine, Hit, Settings
from engine.ingest import loaders
from engine.ingest.status import EMPTY, FAILED, SKIPPED, LoadError
from engine.records import ParsedDocument


def _load(path: Path) -> ParsedDocument:
    return loaders.load(path, max_bytes=200 * 2**20)


def _error(path: Path) -> LoadError:
    with pytest.raises(LoadError) as caught:
        _load(path)
    return caught.value


def _search(folder: Path, embedder, question: str) -> Hit:  # type: ignore[no-untyped-def]
    with Engine(Settings(), embedder=embedder) as engine:
        list(engine.index([folder]))
        problems = [d for d in engine.documents() if d.status != "indexed"]
        assert not problems, problems
        hits = engine.search(question, k=3)
    assert hits, f"nothing found for {question!r}"
    return hits[0]


# --- PowerPoint --------------------------------------------------------------------------------


def write_deck(path: Path) -> Path:
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    deck.core_properties.title = "Season opening"
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Launch day"
    first.placeholders[1].text = "Boats go back in the water on the first Saturday of April."
    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "Crane bookings"
    second.placeholders[1].text = "Book the crane a week ahead."
    notes = "Remind owners that the crane cannot lift catamarans wider than six metres."
    second.notes_slide.notes_text_frame.text = notes
    third = deck.slides.add_slide(deck.slide_layouts[5])
    third.shapes.title.text = "Fees"
    table = third.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    for r, row in enumerate([["Boat length", "Winter"], ["8-12 m", "950 EUR"], ["over 12 m", "1,400 EUR"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    blank = deck.slides.add_slide(deck.slide_layouts[6])
    box = blank.shapes.add_textbox(Inches(1), Inches(1), Inches(5), Inches(1))
    box.text_frame.text = "Questions to the harbour master."
    deck.save(str(path))
    return path


def test_slide_deck_slides_are_pages_with_titles_and_notes(tmp_path: Path) -> None:
    doc = _load(write_deck(tmp_path / "opening.pptx"))
    assert doc.kind == "pptx" and doc.title == "Season opening"
    assert [p.number for p in doc.pages] == [1, 2, 3, 4]
    notes = doc.text.index("Notes: Remind owners")
    assert doc.page_at(notes) == 2 and doc.heading_at(notes) == "Crane bookings"
    row = doc.text.index("Boat length: 8-12 m | Winter: 950 EUR")
    assert doc.page_at(row) == 3 and doc.heading_at(row) == "Fees"
    untitled = doc.text.index("Questions to the harbour master.")
    assert doc.page_at(untitled) == 4 and doc.heading_at(untitled) == "Slide 4"
    for page in doc.pages:  # no page starts or ends on the blank line between slides
        assert doc.text[page.start:page.end] == doc.text[page.start:page.end].strip()


def test_slide_deck_indexed_and_a_speaker_note_found_on_its_slide(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    write_deck(folder / "opening.pptx")
    hit = _search(folder, embedder, "can the crane lift a wide catamaran?")
    assert hit.path.endswith("opening.pptx")
    assert (hit.page, hit.section) == (2, "Crane bookings")
    assert "cannot lift catamarans wider than six metres" in hit.text


# --- Excel and CSV -----------------------------------------------------------------------------


def write_workbook(path: Path) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    prices = workbook.active
    prices.title = "Prices"
    prices.append(["Boat length", "Summer", "Winter"])
    prices.append(["under 8 m", 500, 700.0])
    prices.append(["8-12 m", 700, 950.5])
    staff = workbook.create_sheet("Staff")
    staff.append(["Name", "Role", "Since"])
    staff.append(["Ada Lovelace", "harbour master", datetime.datetime(2019, 3, 1)])
    staff.append(["Grace Hopper", "crane operator", datetime.datetime(2021, 6, 15)])
    staff["E9"] = "=1+1"  # a formula never computed by Excel: no cached value, nothing to read
    workbook.save(path)
    return path


def test_workbook_sheets_are_sections_and_rows_keep_their_header(tmp_path: Path) -> None:
    doc = _load(write_workbook(tmp_path / "marina.xlsx"))
    assert doc.kind == "xlsx"
    assert [h.title for h in doc.headings] == ["Prices", "Staff"]
    assert "Boat length: 8-12 m | Summer: 700 | Winter: 950.5" in doc.text
    row = doc.text.index("Name: Grace Hopper | Role: crane operator | Since: 2021-06-15")
    assert doc.heading_at(row) == "Staff"
    assert "=1+1" not in doc.text


def test_workbook_indexed_and_a_row_found_in_its_sheet(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    write_workbook(folder / "marina.xlsx")
    hit = _search(folder, embedder, "who is the crane operator?")
    assert hit.path.endswith("marina.xlsx") and hit.section == "Staff"
    assert "Name: Grace Hopper | Role: crane operator" in hit.text


def test_csv_delimiter_sniffed_and_rows_keep_their_header(tmp_path: Path) -> None:
    path = tmp_path / "fees.csv"
    path.write_text('Boat length;Winter;Note\n8-12 m;950 €;"paid; in advance"\nover 12 m;1 400 €;\n',
                    encoding="utf-8-sig")
    doc = _load(path)
    assert doc.text == ("Boat length: 8-12 m | Winter: 950 € | Note: paid; in advance\n\n"
                        "Boat length: over 12 m | Winter: 1 400 €")


def test_csv_of_bare_numbers_has_no_header_to_repeat(tmp_path: Path) -> None:
    path = tmp_path / "readings.tsv"
    path.write_text("1\t20.5\n2\t21.0\n", encoding="utf-8")
    assert _load(path).text == "1 | 20.5\n\n2 | 21.0"


# --- OpenDocument ------------------------------------------------------------------------------


def write_odt(path: Path) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.table import Table, TableCell, TableRow
    from odf.text import H, List, ListItem, P, S, Span

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Winter storage"))
    paragraph = P(text="Boats are lifted in October and ")
    paragraph.addElement(Span(text="stored on trestles"))
    paragraph.addElement(S(c=2))
    paragraph.addText("until spring.")
    document.text.addElement(paragraph)
    document.text.addElement(H(outlinelevel=2, text="Antifouling"))
    items = List()
    for text in ("Scrape the hull before the new coat.", "Copper paint is banned on lakes."):
        item = ListItem()
        item.addElement(P(text=text))
        items.addElement(item)
    document.text.addElement(items)
    table = Table(name="Fees")
    for values in (["Boat length", "Winter"], ["8-12 m", "950 EUR"]):
        row = TableRow()
        table.addElement(row)
        for value in values:
            cell = TableCell()
            cell.addElement(P(text=value))
            row.addElement(cell)
    document.text.addElement(table)
    document.save(str(path))
    return path


def test_opendocument_text_headings_lists_and_tables(tmp_path: Path) -> None:
    doc = _load(write_odt(tmp_path / "storage.odt"))
    assert doc.kind == "odt" and doc.title == "Winter storage"
    assert [(h.level, h.title) for h in doc.headings] == [(1, "Winter storage"), (2, "Antifouling")]
    assert "Boats are lifted in October and stored on trestles  until spring." in doc.text
    banned = doc.text.index("Copper paint is banned on lakes.")
    assert doc.heading_at(banned) == "Antifouling"
    assert "Boat length: 8-12 m | Winter: 950 EUR" in doc.text


def test_opendocument_text_indexed_and_found_in_its_section(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    write_odt(folder / "storage.odt")
    hit = _search(folder, embedder, "is copper paint allowed on lakes?")
    assert hit.path.endswith("storage.odt") and hit.section == "Antifouling"
    assert "Copper paint is banned on lakes." in hit.text


def test_opendocument_spreadsheet_repeated_cells_and_header_rows(tmp_path: Path) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableHeaderRows, TableRow
    from odf.text import P

    def row(*values: str, repeat: int = 1) -> TableRow:
        element = TableRow(numberrowsrepeated=repeat) if repeat > 1 else TableRow()
        for value in values:
            cell = TableCell(valuetype="string")
            cell.addElement(P(text=value))
            element.addElement(cell)
        element.addElement(TableCell(numbercolumnsrepeated=16000))  # "empty to the last column"
        return element

    document = OpenDocumentSpreadsheet()
    sheet = Table(name="Berths")
    header = TableHeaderRows()
    header.addElement(row("Pontoon", "Free berths"))
    sheet.addElement(header)
    sheet.addElement(row("A", "3"))
    sheet.addElement(row("B", "none", repeat=2))
    sheet.addElement(TableRow(numberrowsrepeated=1048000))  # the empty rest of the sheet
    document.spreadsheet.addElement(sheet)
    path = tmp_path / "berths.ods"
    document.save(str(path))
    doc = _load(path)
    assert doc.kind == "ods" and [h.title for h in doc.headings] == ["Berths"]
    assert doc.text == ("Berths\n\nPontoon: A | Free berths: 3\n\nPontoon: B | Free berths: none\n\n"
                        "Pontoon: B | Free berths: none")


def test_opendocument_presentation_slides_and_notes(tmp_path: Path) -> None:
    from odf.draw import Frame, Page, TextBox
    from odf.namespaces import PRESENTATIONNS
    from odf.opendocument import OpenDocumentPresentation
    from odf.presentation import Notes
    from odf.style import MasterPage, PageLayout
    from odf.text import P

    def frame(parent: object, text: str, role: str = "") -> None:
        element = Frame(width="20cm", height="4cm", x="1cm", y="1cm")
        if role:
            element.setAttrNS(PRESENTATIONNS, "class", role)
        box = TextBox()
        box.addElement(P(text=text))
        element.addElement(box)
        parent.addElement(element)  # type: ignore[attr-defined]

    document = OpenDocumentPresentation()
    layout = PageLayout(name="PM1")
    document.automaticstyles.addElement(layout)
    master = MasterPage(name="Default", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    for title, body, note in (("Launch day", "Boats go in on the first of April.", "Remind about insurance."),
                              ("Crane", "The crane lifts up to 20 tonnes.", "")):
        slide = Page(masterpagename=master)
        document.presentation.addElement(slide)
        frame(slide, title, "title")
        frame(slide, body)
        if note:
            notes = Notes()
            slide.addElement(notes)
            frame(notes, note, "notes")
    path = tmp_path / "opening.odp"
    document.save(str(path))
    doc = _load(path)
    assert doc.kind == "odp" and [p.number for p in doc.pages] == [1, 2]
    noted = doc.text.index("Notes: Remind about insurance.")
    assert doc.page_at(noted) == 1 and doc.heading_at(noted) == "Launch day"
    crane = doc.text.index("The crane lifts up to 20 tonnes.")
    assert doc.page_at(crane) == 2 and doc.heading_at(crane) == "Crane"


def test_opendocument_declaring_entities_is_refused_unexpanded(tmp_path: Path) -> None:
    laughs = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
              '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
              'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
              "<text:p>&b;</text:p></office:text></office:body></office:document-content>")
    path = tmp_path / "laughs.odt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", laughs)
    error = _error(path)
    assert error.status == FAILED and "content.xml declares XML entities" in error.reason


def test_slide_deck_with_an_entity_bomb_is_refused_unexpanded(tmp_path: Path) -> None:
    laughs = '<!DOCTYPE d [<!ENTITY a0 "hahahahaha">' + "".join(
        f'<!ENTITY a{n} "{f"&a{n - 1};" * 10}">' for n in range(1, 10)) + "]>"  # 10 GB once expanded
    source, path = write_deck(tmp_path / "plain.pptx"), tmp_path / "laughs.pptx"
    with zipfile.ZipFile(source) as plain, zipfile.ZipFile(path, "w") as hostile:
        for info in plain.infolist():
            data = plain.read(info)
            if info.filename == "ppt/slides/slide1.xml":
                data = data.replace(b"?>", b"?>" + laughs.encode(), 1).replace(b"Launch day", b"&a9;")
            hostile.writestr(info, data)
    error = _error(path)
    assert error.status == FAILED and error.reason.startswith("corrupt PowerPoint file:")


# --- RTF ---------------------------------------------------------------------------------------


def test_rtf_code_page_and_unicode_escapes(tmp_path: Path) -> None:
    path = tmp_path / "letter.rtf"
    path.write_bytes(rb"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0\fswiss Arial;}}{\info{\title Letter}}"
                     rb"\f0 Caf\'e9 cr\'e8me at the harbour\par "
                     rb"The fee is 950 \u8364? per winter.\par}")
    doc = _load(path)
    assert doc.kind == "rtf" and doc.title == "Café crème at the harbour"
    assert doc.text == "Café crème at the harbour\n\nThe fee is 950 € per winter."


def test_rtf_that_is_not_rtf(tmp_path: Path) -> None:
    path = tmp_path / "fake.rtf"
    path.write_text("just words")
    error = _error(path)
    assert error.status == FAILED and "does not start with {\\rtf" in error.reason


# --- e-mail ------------------------------------------------------------------------------------


def _message(subject: str, body: str, sender: str = "Ada Lovelace <ada@harbour.example>") -> email.message.EmailMessage:
    message = email.message.EmailMessage()
    message["From"] = sender
    message["To"] = "owners@harbour.example"
    message["Date"] = "Tue, 01 Dec 2026 10:00:00 +0000"
    message["Subject"] = subject
    message.set_content(body)
    return message


def write_mailbox(path: Path) -> Path:
    import docx

    attachment = docx.Document()
    attachment.add_paragraph("The slipway is closed for repairs until the twentieth of March.")
    data = io.BytesIO()
    attachment.save(data)
    box = mailbox.mbox(str(path))
    box.add(_message("Crane booking", "The crane is booked for Saturday morning.\nFrom now on, book a week ahead."))
    with_attachment = _message("Slipway notice", "Please read the notice attached.", "Bo <bo@harbour.example>")
    with_attachment.add_attachment(data.getvalue(), maintype="application",
                                   subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                                   filename="notice.docx")
    with_attachment.add_attachment(b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", filename="map.png")
    box.add(with_attachment)
    box.add(_message("Winter fees", "Winter fees are due before the first of November."))
    box.flush()
    box.close()
    return path


def test_mailbox_one_section_per_message_with_headers_and_attachments(tmp_path: Path) -> None:
    doc = _load(write_mailbox(tmp_path / "harbour.mbox"))
    assert doc.kind == "mbox"
    assert [h.title for h in doc.headings] == ["Crane booking", "Slipway notice",
                                               "Attachment: notice.docx (Slipway notice)",
                                               "Attachment: map.png (Slipway notice)", "Winter fees"]
    assert ("From: Ada Lovelace <ada@harbour.example>\nTo: owners@harbour.example\n"
            "Date: Tue, 01 Dec 2026 10:00:00 +0000\nSubject: Crane booking") in doc.text
    assert "Saturday morning.\nFrom now on, book a week ahead." in doc.text  # a body line "From ...", unquoted
    due = doc.text.index("Winter fees are due")
    assert doc.heading_at(due) == "Winter fees"
    assert doc.heading_at(doc.text.index("The slipway is closed")) == "Attachment: notice.docx (Slipway notice)"
    assert "Attachment: map.png" in doc.text


def test_mailbox_indexed_and_an_attachment_found_in_its_message(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    write_mailbox(folder / "harbour.mbox")
    hit = _search(folder, embedder, "when does the slipway reopen after repairs?")
    assert hit.path.endswith("harbour.mbox")
    assert hit.section == "Attachment: notice.docx (Slipway notice)"
    assert "closed for repairs until the twentieth of March" in hit.text


def test_eml_with_a_message_forwarded_as_an_attachment(tmp_path: Path) -> None:
    message = _message("Fwd: berth swap", "See the request below.")
    message.add_attachment(_message("Berth swap", "Could I swap berth B002 for a berth nearer the crane?",
                                    "Tomas Berg <tomas@harbour.example>"))
    path = tmp_path / "forward.eml"
    path.write_bytes(message.as_bytes())
    doc = _load(path)
    assert [h.title for h in doc.headings] == ["Fwd: berth swap", "Forwarded: Berth swap"]
    request = doc.text.index("Could I swap berth B002")
    assert doc.heading_at(request) == "Forwarded: Berth swap"
    assert "From: Tomas Berg <tomas@harbour.example>" in doc.text


def test_eml_with_only_an_html_body(tmp_path: Path) -> None:
    message = email.message.EmailMessage()
    message["From"] = "office@harbour.example"
    message["Subject"] = "Opening hours"
    message.set_content("<html><body><p>The office opens at <b>eight</b>.</p><script>x()</script></body></html>",
                        subtype="html")
    path = tmp_path / "hours.eml"
    path.write_bytes(message.as_bytes())
    doc = _load(path)
    assert doc.kind == "eml" and doc.title == "Opening hours"
    assert doc.text == "From: office@harbour.example\nSubject: Opening hours\n\nThe office opens at eight."


# --- archives, damage and emptiness --------------------------------------------------------------


def test_office_archive_bomb_refused_before_the_library_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    write_workbook(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/padding.xml", b"<a>" + b" " * (40 * 2**20) + b"</a>")  # 40 MB of markup
    error = _error(path)
    assert error.status == SKIPPED and "of text and markup inside (limit 32 MB)" in error.reason


@pytest.mark.parametrize("name", ["old.pptx", "old.xlsx", "old.odt"])
def test_not_a_zip_is_named(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))  # the old binary Office container
    error = _error(path)
    assert error.status == SKIPPED and "old binary or encrypted Office format" in error.reason


def test_workbook_without_values_is_empty(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "blank.xlsx"
    openpyxl.Workbook().save(path)
    assert _error(path).status == EMPTY
