"""Word .docx with the standard library and defusedxml: paragraphs, headings and tables in body order."""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path

from engine.ingest.loaders.archive import open_archive, read_member
from engine.ingest.loaders.safe_xml import parse_part
from engine.ingest.loaders.tables import merge_header_rows, render_table
from engine.ingest.status import EMPTY, FAILED, SKIPPED, LoadError
from engine.records import Heading, ParsedDocument

EXTENSIONS = frozenset({".docx", ".docm", ".dotx"})

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_LABEL = "Word file"
_HEADING_NAME = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)


def load_docx(data: bytes, path: Path) -> ParsedDocument:
    with open_archive(data, _LABEL) as archive:
        body = _part(archive, _main_part(archive), required=True)
        styles = _style_levels(_part(archive, "word/styles.xml"))
        core = _part(archive, "docProps/core.xml")
    assert body is not None
    text, headings = _render(body, styles)
    if not text.strip():
        raise LoadError(EMPTY, "no text in this document")
    title = _core_title(core) or (headings[0].title if headings else path.stem)
    return ParsedDocument(text=text, kind="docx", title=title, headings=headings)


def _main_part(archive: zipfile.ZipFile) -> str:
    """The officeDocument part named in _rels/.rels (almost always word/document.xml)."""
    rels = _part(archive, "_rels/.rels")
    if rels is not None:
        for rel in rels.iter(_REL):
            if rel.get("Type", "").endswith("/officeDocument"):
                target = rel.get("Target", "").lstrip("/")
                if target in archive.namelist():
                    return posixpath.normpath(target)
    return "word/document.xml"


def _part(archive: zipfile.ZipFile, name: str, *, required: bool = False) -> ET.Element | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        if required:
            raise LoadError(FAILED, f"corrupt Word file: no {name} inside") from None
        return None
    try:
        return parse_part(read_member(archive, info, _LABEL), _LABEL, name)  # bounded however the header lies
    except LoadError as exc:
        if required or exc.status == SKIPPED:
            raise
        return None


def _style_levels(styles: ET.Element | None) -> dict[str, int]:
    """Heading level of each paragraph style id (Title, Heading 1-9, outline levels, inherited)."""
    if styles is None:
        return {}
    own: dict[str, int] = {}
    parent: dict[str, str] = {}
    for style in styles.iter(f"{_W}style"):
        style_id = style.get(f"{_W}styleId", "")
        name = _val(style.find(f"{_W}name")).strip()
        level = _outline_level(style.find(f"{_W}pPr"))
        heading = _HEADING_NAME.match(name)
        if heading:
            level = int(heading.group(1))
        elif name.lower() == "title":
            level = 1
        if level:
            own[style_id] = level
        based = style.find(f"{_W}basedOn")
        if based is not None:
            parent[style_id] = _val(based)
    levels: dict[str, int] = {}
    for style_id in parent.keys() | own.keys():
        seen: set[str] = set()
        current = style_id
        while current not in own and current in parent and current not in seen:
            seen.add(current)
            current = parent[current]
        if current in own:
            levels[style_id] = own[current]
    return levels


def _val(element: ET.Element | None) -> str:
    return "" if element is None else element.get(f"{_W}val", "")


def _outline_level(ppr: ET.Element | None) -> int:
    if ppr is None:
        return 0
    value = _val(ppr.find(f"{_W}outlineLvl"))
    # Level 9 means "body text" in Word.
    return int(value) + 1 if value.isdigit() and int(value) < 9 else 0


def _heading_level(paragraph: ET.Element, styles: dict[str, int]) -> int:
    ppr = paragraph.find(f"{_W}pPr")
    level = _outline_level(ppr)
    if level or ppr is None:
        return level
    style_id = _val(ppr.find(f"{_W}pStyle"))
    if style_id in styles:
        return styles[style_id]
    match = re.match(r"^heading\s*([1-9])$", style_id, re.IGNORECASE)
    if match:
        return int(match.group(1))
    return 1 if style_id.lower() == "title" else 0


def _render(document: ET.Element, styles: dict[str, int]) -> tuple[str, list[Heading]]:
    body = document.find(f"{_W}body")
    parts: list[str] = []
    headings: list[Heading] = []
    length = 0
    for kind, block, element in _blocks(body if body is not None else document):
        text = block.strip()
        if not text:
            continue
        if parts:
            parts.append("\n\n")
            length += 2
        if kind == "p":
            level = _heading_level(element, styles)
            if level:
                headings.append(Heading(length, level, " ".join(text.split())))
        parts.append(text)
        length += len(text)
    return "".join(parts), headings


def _blocks(container: ET.Element) -> Iterator[tuple[str, str, ET.Element]]:
    """("p" | "tbl", text, element) for each body-level paragraph and table, in order."""
    for child in container:
        if child.tag == f"{_W}p":
            yield "p", _paragraph_text(child), child
        elif child.tag == f"{_W}tbl":
            yield "tbl", _table_text(child), child
        elif child.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}smartTag"):
            yield from _blocks(child)


def _paragraph_text(paragraph: ET.Element) -> str:
    out: list[str] = []
    _collect(paragraph, out)
    return "".join(out)


def _collect(element: ET.Element, out: list[str]) -> None:
    for child in element:
        tag = child.tag
        if tag == f"{_W}t":
            out.append(child.text or "")
        elif tag == f"{_W}tab":
            out.append("\t")
        elif tag in (f"{_W}br", f"{_W}cr"):
            out.append("\n")
        elif tag == f"{_W}noBreakHyphen":
            out.append("-")
        elif tag == f"{_W}p":
            out.append("\n")  # a paragraph inside a text box
            _collect(child, out)
        elif tag not in (_MC_FALLBACK, f"{_W}pPr", f"{_W}rPr", f"{_W}instrText", f"{_W}delText"):
            _collect(child, out)  # runs, hyperlinks, insertions, fields, drawings' text boxes


def _table_text(table: ET.Element) -> str:
    """The table's rows with their header: the rows Word repeats on each page, else a header-like first row."""
    rows: list[list[str]] = []
    header_rows = 0
    for row in table.findall(f"{_W}tr"):
        cells = [" ".join(" ".join(_paragraph_text(p).split()) for p in cell.iter(f"{_W}p"))
                 for cell in row.findall(f"{_W}tc")]
        if header_rows == len(rows) and row.find(f"{_W}trPr/{_W}tblHeader") is not None:
            header_rows += 1
        rows.append(cells)
    if header_rows and header_rows < len(rows):
        return render_table(rows[header_rows:], header=merge_header_rows(rows[:header_rows]))
    return render_table(rows)


def _core_title(core: ET.Element | None) -> str:
    if core is None:
        return ""
    element = core.find(_DC_TITLE)
    return " ".join((element.text or "").split()) if element is not None else ""
