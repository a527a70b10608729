"""The viewer's views of documents, made in the render child: damaged files, hangs, quotes, find, zoom, text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest

from engine.api import LoadError, PageView, RenderProcess, render_page
from engine.page_render import ACTUAL_SIZE, load_text, page_zoom
from tests.support.documents import write_encrypted_pdf, write_pdf

SENTENCES = ["The harbour opens at six in the morning.", "Boats are launched from the western slipway only.",
             "The clubhouse closes during storms."]


def damaged_pdf(path: Path) -> Path:
    """A real 20-page PDF cut to its first 2 KB (as a broken download leaves it): MuPDF opens it with 0 pages."""
    document = pymupdf.open()
    for number in range(20):
        document.new_page().insert_textbox(pymupdf.Rect(72, 72, 540, 760), f"Page {number}. " + "A log line. " * 80)
    whole = path.with_name("whole-" + path.name)
    document.save(whole, use_objstms=True, garbage=3, deflate=True)
    document.close()
    path.write_bytes(whole.read_bytes()[:2048])
    with pymupdf.open(path) as opened:
        assert opened.page_count == 0  # the case that hung the viewer (it asked for page -1)
    return path


@pytest.fixture
def renderer() -> Iterator[RenderProcess]:
    process = RenderProcess(timeout_s=5)
    yield process
    process.close()


def test_a_pdf_with_no_readable_page_is_refused_with_the_reason(tmp_path: Path, renderer: RenderProcess) -> None:
    path = str(damaged_pdf(tmp_path / "broken.pdf"))
    renderer.find_pages(str(write_pdf(tmp_path / "fine.pdf", ["warm"])), "warm")  # the child is up
    started = time.monotonic()
    with pytest.raises(LoadError) as refused:
        renderer.render_page(path, 1, [], PageView())
    assert time.monotonic() - started < 1.0
    assert "no page of this PDF can be read" in refused.value.reason and "cannot find startxref" in refused.value.reason
    with pytest.raises(LoadError, match="no page"):
        renderer.find_pages(path, "log")


def test_a_hang_or_a_crash_costs_one_view(tmp_path: Path) -> None:
    good = str(write_pdf(tmp_path / "good.pdf", ["Tides and moorings."]))
    hang = str(write_pdf(tmp_path / "poison-hang.pdf", ["x"]))
    crash = str(write_pdf(tmp_path / "poison-crash.pdf", ["x"]))
    process = RenderProcess(timeout_s=2, server="tests.support.bad_renderers:hang_on_poison")
    try:
        with pytest.raises(LoadError, match="took longer than 2 s"):
            process.render_page(hang, 1, [], PageView())
        assert process.render_page(good, 1, [], PageView()).page_count == 1
        with pytest.raises(LoadError, match="crashed"):
            process.render_page(crash, 1, [], PageView())
        assert process.render_page(good, 1, [], PageView()).page_count == 1
    finally:
        process.close()


def test_only_the_quoted_sentences_are_marked(tmp_path: Path) -> None:
    path = str(write_pdf(tmp_path / "club.pdf", [" ".join(SENTENCES)]))
    rendered = render_page(path, 1, [SENTENCES[1]], PageView("zoom", 1.0))
    assert rendered.highlights
    with pymupdf.open(path) as document:
        page = document[0]
        quoted = page.search_for("western slipway")
        others = page.search_for("harbour opens") + page.search_for("clubhouse closes")
    scale = rendered.pixels_per_point
    marks = [pymupdf.Rect(*(v / scale for v in box)) for box in rendered.highlights]
    assert all(any(m.intersects(r) for m in marks) for r in quoted)
    assert not any(m.intersects(r) and (m & r).get_area() > 0.5 * r.get_area() for m in marks for r in others)


def test_find_reports_every_page_holding_the_word(tmp_path: Path, renderer: RenderProcess) -> None:
    pages = [f"Page {n} speaks of tides." for n in range(1, 6)]
    pages[3] += " The marmalade recipe is here, marmalade twice."
    path = str(write_pdf(tmp_path / "log.pdf", pages))
    assert renderer.find_pages(path, "Marmalade") == [(4, 2)]
    rendered = renderer.render_page(path, 4, [], PageView(), find="marmalade")
    assert len(rendered.found) == 2


def test_zoom_and_fit(tmp_path: Path) -> None:
    path = str(write_pdf(tmp_path / "a.pdf", ["Zoom me."]))
    assert page_zoom(PageView("zoom", 2.0), 612, 792) == 2.0
    assert page_zoom(PageView("zoom", 99.0), 612, 792) == 4.0  # clamped
    assert page_zoom(PageView("fit-width", width=1224, min_zoom=0), 612, 792) == pytest.approx(2 / ACTUAL_SIZE)
    assert page_zoom(PageView("fit-width", width=300), 612, 792) == 1.0  # never squashed below readable
    assert page_zoom(PageView("fit-page", width=2000, height=396), 612, 792) == pytest.approx(0.5 / ACTUAL_SIZE)
    small = render_page(path, 1, view=PageView("zoom", 1.0))
    large = render_page(path, 1, view=PageView("zoom", 2.0))
    with pymupdf.open(path) as document:
        assert small.width == pytest.approx(document[0].rect.width * ACTUAL_SIZE, abs=2)  # 100 % is actual size
    assert large.width == pytest.approx(2 * small.width, abs=2)


def test_markdown_and_html_come_with_their_source(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Garden 🌱\n\nThe quince tree was planted in 2011.\n", "utf-8")
    loaded = load_text(str(note), [(note.read_text("utf-8").index("The"), len(note.read_text("utf-8")) - 1)])
    assert loaded.markup == "markdown" and loaded.source.startswith("# Garden")
    start, end = loaded.spans[0]
    assert end - start == len("The quince tree was planted in 2011.")  # the emoji counts as two (UTF-16) before it
    assert start == loaded.text.index("The") + 1
    page = tmp_path / "page.html"
    page.write_bytes("<meta charset='windows-1252'><h1>Caf\xe9</h1><p>Open daily.</p>".encode("cp1252"))
    html = load_text(str(page))
    assert html.markup == "html" and "<h1>Café</h1>" in html.source


def test_an_encrypted_pdf_is_shown_with_the_sessions_password(tmp_path: Path) -> None:
    locked = str(write_encrypted_pdf(tmp_path / "locked.pdf", "The vault opens at dawn.", password="tulip-42"))
    passwords: dict[str, str] = {}
    process = RenderProcess(timeout_s=10, passwords=passwords)  # a live view, like Engine.passwords
    try:
        with pytest.raises(LoadError, match="needs a password"):
            process.render_page(locked, 1, [], PageView())
        passwords[locked] = "wrong"
        with pytest.raises(LoadError, match="password given is wrong"):
            process.render_page(locked, 1, [], PageView())
        passwords[locked] = "tulip-42"
        shown = process.render_page(locked, 1, ["The vault opens at dawn."], PageView())
        assert shown.page_count == 1 and shown.highlights
        assert process.find_pages(locked, "vault") == [(1, 1)]
    finally:
        process.close()
