"""OpenDocument text, spreadsheet and presentation (.odt, .ods, .odp) read from content.xml with defusedxml.

The format is one documented XML schema, so the walk is short and keeps what search needs: headings
(sections), paragraphs, lists, tables with their header on every row, one section per sheet, one page
per slide with its speaker notes. odfpy, the long-standing library, has had no release since 2020 and
adds a DOM and no text extraction; its parser is defusedxml's too. Parts are read through
``archive.read_member``, bounded whatever the zip headers claim.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from engine.ingest.loaders.archive import open_archive, read_member
from engine.ingest.loaders.assemble import DocumentText
from engine.ingest.loaders.safe_xml import parse_part
from engine.ingest.loaders.tables import merge_header_rows, render_table
from engine.ingest.status import FAILED, SKIPPED, LoadError
from engine.records import ParsedDocument

EXTENSIONS = frozenset({".odt", ".ods", ".odp"})
_KINDS = {".odt": "odt", ".ods": "ods", ".odp": "odp"}
_LABEL = "OpenDocument file"

_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_PRESENTATION = "{urn:oasis:names:tc:opendocument:xmlns:presentation:1.0}"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
# Repeated rows and columns are how a sheet says "empty to the end": expand only this many of one run.
_MAX_REPEAT = 1000
_MAX_CELLS = 2_000_000  # cells of one table once repeats are expanded
# Inline elements whose text is not the document's own (tracked deletions, note markers, annotations).
_SKIPPED_INLINE = frozenset({f"{_TEXT}tracked-changes", f"{_TEXT}note-citation", f"{_OFFICE}annotation",
                             f"{_TEXT}bookmark-ref", f"{_TEXT}sequence-decls"})


def load_opendocument(data: bytes, path: Path) -> ParsedDocument:
    with open_archive(data, _LABEL) as archive:
        names = set(archive.namelist())
        if "content.xml" not in names:
            raise LoadError(FAILED, f"corrupt {_LABEL}: no content.xml inside")
        content = parse_part(read_member(archive, archive.getinfo("content.xml"), _LABEL), _LABEL, "content.xml")
        meta = (parse_part(read_member(archive, archive.getinfo("meta.xml"), _LABEL), _LABEL, "meta.xml")
                if "meta.xml" in names else None)
    body = content.find(f"{_OFFICE}body")
    if body is None:
        raise LoadError(FAILED, f"corrupt {_LABEL}: content.xml has no body")
    out = DocumentText()
    for part in body:
        if part.tag == f"{_OFFICE}spreadsheet":
            _spreadsheet(part, out)
        elif part.tag == f"{_OFFICE}presentation":
            _presentation(part, out)
        else:
            _blocks(part, out)
    title = _meta_title(meta) or next((h.title for h in out.headings), "") or path.stem
    return out.document(_KINDS.get(path.suffix.lower(), "odt"), title)


def _blocks(container: ET.Element, out: DocumentText) -> None:
    """Headings, paragraphs, lists, tables and sections of a text body, in order."""
    for child in container:
        tag = child.tag
        if tag == f"{_TEXT}h":
            level = child.get(f"{_TEXT}outline-level", "1")
            out.heading(inline_text(child), int(level) if level.isdigit() else 1)
        elif tag == f"{_TEXT}p":
            out.paragraph(inline_text(child))
            for frame in (*child.findall(f"{_DRAW}frame"), *child.findall(f"{_TEXT}span/{_DRAW}frame")):
                _blocks(frame, out)  # text boxes anchored in the paragraph
        elif tag == f"{_TABLE}table":
            out.paragraph(_table_text(child))
        elif tag in (f"{_DRAW}frame", f"{_DRAW}text-box"):
            _blocks(child, out)
        elif tag not in (f"{_TEXT}tracked-changes", f"{_TEXT}sequence-decls", f"{_OFFICE}forms"):
            _blocks(child, out)  # lists, list items, sections, index bodies


def inline_text(element: ET.Element) -> str:
    """A paragraph's text: spans and links followed, ``text:s`` spaces, tabs and line breaks kept."""
    out: list[str] = [element.text or ""]
    for child in element:
        tag = child.tag
        if tag == f"{_TEXT}s":
            count = child.get(f"{_TEXT}c", "1")
            out.append(" " * min(int(count) if count.isdigit() else 1, 64))
        elif tag == f"{_TEXT}tab":
            out.append("\t")
        elif tag == f"{_TEXT}line-break":
            out.append("\n")
        elif tag == f"{_DRAW}frame":
            out.append(" ")  # a picture or text box anchored in the paragraph: its own paragraphs follow
        elif tag not in _SKIPPED_INLINE:
            out.append(inline_text(child))
        out.append(child.tail or "")
    return "".join(out)


def _cell_text(cell: ET.Element) -> str:
    return " ".join(inline_text(p) for p in cell.iter(f"{_TEXT}p"))


def _table_rows(table: ET.Element) -> tuple[list[list[str]], list[list[str]]]:
    """(header rows, body rows) of a table, repeated rows and columns expanded, trailing blanks dropped."""
    header: list[list[str]] = []
    body: list[list[str]] = []
    budget = _MAX_CELLS
    for group, rows in _row_groups(table):
        target = header if group == "header" else body
        for row in rows:
            cells: list[str] = []
            for cell in row:
                if cell.tag in (f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"):
                    cells.extend([_cell_text(cell)] * _repeat(cell, f"{_TABLE}number-columns-repeated"))
                    if len(cells) > budget:
                        _too_many_cells(table)
            while cells and not cells[-1].strip():
                cells.pop()
            repeat = _repeat(row, f"{_TABLE}number-rows-repeated") if cells else 1
            budget -= len(cells) * repeat
            if budget < 0:
                _too_many_cells(table)
            target.extend([cells] * repeat)
    while body and not body[-1]:
        body.pop()
    return header, body


def _too_many_cells(table: ET.Element) -> None:
    name = table.get(f"{_TABLE}name", "a table")
    raise LoadError(SKIPPED, f"too large: {name} holds over {_MAX_CELLS:,} cells")


def _row_groups(table: ET.Element) -> Iterator[tuple[str, list[ET.Element]]]:
    for child in table:
        if child.tag == f"{_TABLE}table-header-rows":
            yield "header", child.findall(f"{_TABLE}table-row")
        elif child.tag == f"{_TABLE}table-row":
            yield "body", [child]
        elif child.tag in (f"{_TABLE}table-rows", f"{_TABLE}table-row-group"):
            yield from _row_groups(child)


def _repeat(element: ET.Element, attribute: str) -> int:
    value = element.get(attribute, "1")
    return min(int(value), _MAX_REPEAT) if value.isdigit() and int(value) > 0 else 1


def _table_text(table: ET.Element) -> str:
    header, body = _table_rows(table)
    if header and body:
        return render_table(body, header=merge_header_rows(header))
    return render_table(header + body)


def _spreadsheet(spreadsheet: ET.Element, out: DocumentText) -> None:
    for sheet in spreadsheet.iter(f"{_TABLE}table"):
        out.heading(sheet.get(f"{_TABLE}name", ""))
        out.paragraph(_table_text(sheet))


def _presentation(presentation: ET.Element, out: DocumentText) -> None:
    for number, slide in enumerate(presentation.iter(f"{_DRAW}page"), start=1):
        out.start_page(number)
        frames = [f for f in slide if f.tag == f"{_DRAW}frame"]
        titles = [f for f in frames if f.get(f"{_PRESENTATION}class") == "title"]
        title = " ".join(_frame_text(titles[0]).split()) if titles else ""
        out.heading(title or f"Slide {number}", written=bool(title))
        for frame in frames:
            if not titles or frame is not titles[0]:
                out.paragraph(_frame_text(frame))
        for notes in slide.iter(f"{_PRESENTATION}notes"):
            text = "\n".join(_frame_text(f) for f in notes.iter(f"{_DRAW}frame")
                             if f.get(f"{_PRESENTATION}class") == "notes")
            if text.strip():
                out.paragraph(f"Notes: {text}")
        out.end_page()


def _frame_text(frame: ET.Element) -> str:
    parts: list[str] = []
    for child in frame:
        if child.tag == f"{_DRAW}text-box":
            parts.extend(inline_text(p) for p in child.iter() if p.tag in (f"{_TEXT}p", f"{_TEXT}h"))
        elif child.tag == f"{_TABLE}table":
            parts.append(_table_text(child))
    return "\n".join(part for part in parts if part.strip())


def _meta_title(meta: ET.Element | None) -> str:
    if meta is None:
        return ""
    element = meta.find(f".//{_DC_TITLE}")
    return " ".join((element.text or "").split()) if element is not None else ""
