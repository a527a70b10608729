"""PowerPoint .pptx with python-pptx: one page per slide, its title as the section, speaker notes included.

python-pptx is the maintained reader of the format and parses its XML with entity resolution off; the
archive is bounded by ``archive.check_archive`` before it is opened (the dispatcher does that).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.ingest.loaders.assemble import DocumentText
from engine.ingest.loaders.tables import render_table
from engine.ingest.status import FAILED, LoadError
from engine.records import ParsedDocument

EXTENSIONS = frozenset({".pptx"})
_LABEL = "PowerPoint file"


def load_pptx(data: bytes, path: Path) -> ParsedDocument:
    import pptx  # noqa: PLC0415 - heavy, loaded on first use
    from pptx.exc import PythonPptxError  # noqa: PLC0415

    try:
        presentation = pptx.Presentation(io.BytesIO(data))
        out = DocumentText()
        slide_titles = [_add_slide(out, number, slide) for number, slide in enumerate(presentation.slides, start=1)]
        title = " ".join((presentation.core_properties.title or "").split())
    except (PythonPptxError, KeyError, ValueError, zipfile.BadZipFile, SyntaxError) as exc:
        # lxml's XMLSyntaxError is a SyntaxError; a missing part is a KeyError
        raise LoadError(FAILED, f"corrupt {_LABEL}: {type(exc).__name__}: {str(exc)[:160]}") from exc
    title = title or next((t for t in slide_titles if t), path.stem)
    return out.document("pptx", title, empty="no text on any slide")


def _add_slide(out: DocumentText, number: int, slide: Any) -> str:
    """Add the slide as page ``number``; its title ("" when it has none, and "Slide N" names its section)."""
    out.start_page(number)
    title_shape = slide.shapes.title
    title = title_shape.text_frame.text.strip() if title_shape is not None and title_shape.has_text_frame else ""
    out.heading(title or f"Slide {number}", written=bool(title))
    for shape in _reading_order(slide.shapes):
        if title_shape is None or shape.shape_id != title_shape.shape_id:
            out.paragraph(_shape_text(shape))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            out.paragraph(f"Notes: {notes.text}")
    out.end_page()
    return " ".join(title.split())


def _reading_order(shapes: Any) -> list[Any]:
    """Top to bottom, then left to right (the file keeps them in drawing order)."""
    return sorted(shapes, key=lambda s: (s.top if s.top is not None else 0, s.left if s.left is not None else 0))


def _shape_text(shape: Any) -> str:
    from pptx.shapes.group import GroupShape  # noqa: PLC0415 - heavy, loaded on first use

    if isinstance(shape, GroupShape):
        return "\n\n".join(filter(None, (_shape_text(child) for child in _reading_order(shape.shapes))))
    if shape.has_text_frame:
        return "\n".join(paragraph.text for paragraph in shape.text_frame.paragraphs).strip()
    if getattr(shape, "has_table", False):  # a graphic frame holding a table
        return render_table(_table_rows(shape.table))
    return ""


def _table_rows(table: Any) -> Iterator[list[str]]:
    for row in table.rows:
        yield [cell.text for cell in row.cells]
