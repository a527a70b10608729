"""The source viewer: damaged and hanging files cost one view, zoom, fit, find, page keys, rendered Markdown/HTML."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QTextDocument, QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from engine.api import ACTUAL_SIZE, Citation, Quote, RenderProcess
from tests.support.documents import write_pdf
from tests.test_page_render import damaged_pdf
from ui.main_window import MainWindow
from ui.source_viewer import SourceViewer
from ui.workers import WorkerPool

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures

PAGES = [f"Page {n} of the harbour log speaks of tides and moorings." for n in range(1, 6)]
PAGES[3] += " The cook keeps a jar of marmalade in the chart room."


@pytest.fixture
def viewer(qtbot: QtBot) -> Iterator[SourceViewer]:
    pool = WorkerPool()
    view = SourceViewer(pool, 200 * 1024 * 1024)
    view.resize(700, 900)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.activateWindow()
    qtbot.waitActive(view)
    yield view
    pool.shutdown()
    view.renderer.close()


def show(qtbot: QtBot, viewer: SourceViewer, path: Path) -> None:
    with qtbot.waitSignal(viewer.shown_source, timeout=60_000):  # the first view may wait for the child to start
        viewer.show_document(str(path))


def test_a_damaged_pdf_shows_an_error_view_within_a_second_and_the_window_closes(
        qtbot: QtBot, tmp_path: Path, open_window: Callable[..., MainWindow]) -> None:
    window = open_window(preload=False)
    broken = damaged_pdf(tmp_path / "broken.pdf")
    show(qtbot, window.viewer, write_pdf(tmp_path / "good.pdf", ["Tides."]))
    for _click in range(3):  # each click used to start a thread spinning for ever
        started = time.monotonic()
        with qtbot.waitSignal(window.viewer.error, timeout=1_000) as error:
            window.viewer.show_document(str(broken))
        assert time.monotonic() - started < 1.0
    assert error.args[0].startswith("Cannot show broken.pdf: no page of this PDF can be read")
    assert window.viewer.stack.currentWidget() is window.viewer.message
    assert "Cannot show broken.pdf" in window.viewer.message.text()
    assert window.viewer.page_label.isHidden() and not window.viewer.zoom_in.isEnabled()

    window.new_chat()  # Ctrl+N: the viewer empties
    assert window.viewer.isHidden() and window.viewer.target is None and window.viewer.title.text() == ""

    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 3.0  # no worker left to wait for
    assert window.pool.shutdown(timeout_ms=0)


def test_a_hung_or_crashed_renderer_costs_one_view(qtbot: QtBot, tmp_path: Path, viewer: SourceViewer) -> None:
    viewer.renderer = RenderProcess(timeout_s=2, server="tests.support.bad_renderers:hang_on_poison")
    good = write_pdf(tmp_path / "good.pdf", PAGES)
    with qtbot.waitSignal(viewer.error, timeout=60_000) as error:
        viewer.show_document(str(write_pdf(tmp_path / "poison-hang.pdf", ["x"])))
    assert error.args[0] == ("Cannot show poison-hang.pdf: showing it took longer than 2 s, so it was stopped "
                             "(the file may be damaged)")
    assert viewer.message.text().endswith(error.args[0])
    show(qtbot, viewer, good)
    assert viewer.page_label.text() == "Page 1 of 5"
    with qtbot.waitSignal(viewer.error, timeout=60_000) as error:
        viewer.show_document(str(write_pdf(tmp_path / "poison-crash.pdf", ["x"])))
    assert "renderer crashed" in error.args[0]
    show(qtbot, viewer, good)


def test_zoom_by_keys_and_wheel_and_fit(qtbot: QtBot, tmp_path: Path, viewer: SourceViewer) -> None:
    show(qtbot, viewer, write_pdf(tmp_path / "log.pdf", PAGES))
    assert viewer.displayed_scale() == pytest.approx(ACTUAL_SIZE)  # 100 %: the narrow pane does not squash it
    width = viewer.image.pixmap().width()  # image pixels
    with qtbot.waitSignal(viewer.shown_source, timeout=10_000):
        qtbot.keyClick(viewer.image_scroll, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert viewer.displayed_scale() == pytest.approx(1.25 * ACTUAL_SIZE)
    assert viewer.zoom_label.text() == "125 %"
    assert viewer.image.pixmap().width() == pytest.approx(1.25 * width, abs=2)  # rendered again, sharp

    wheel = QWheelEvent(QPointF(50, 50), QPointF(50, 50), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    with qtbot.waitSignal(viewer.shown_source, timeout=10_000):
        QApplication.sendEvent(viewer.image_scroll.viewport(), wheel)
        assert viewer.displayed_scale() == pytest.approx(1.25 * 1.25 * ACTUAL_SIZE)  # at once, before the render
    assert viewer.zoom_label.text() == "156 %"

    with qtbot.waitSignal(viewer.shown_source, timeout=10_000):
        qtbot.keyClick(viewer.image_scroll, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert viewer.displayed_scale() == pytest.approx(ACTUAL_SIZE)  # back to the readable default
    with qtbot.waitSignal(viewer.shown_source, timeout=10_000):
        viewer.fit_width.click()
    assert viewer.fit_width.isChecked()
    assert viewer.image_scroll.viewport().width() - 40 < viewer.displayed_size()[0] < viewer.image_scroll.width()
    with qtbot.waitSignal(viewer.shown_source, timeout=10_000):
        viewer.fit_page.click()
    assert viewer.displayed_size()[1] <= viewer.image_scroll.viewport().height()  # the whole page in view


def test_find_goes_to_the_word_on_a_later_page(qtbot: QtBot, tmp_path: Path, viewer: SourceViewer) -> None:
    show(qtbot, viewer, write_pdf(tmp_path / "log.pdf", PAGES))
    assert viewer.page_label.text() == "Page 1 of 5"
    qtbot.keyClick(viewer.image_scroll, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert viewer.find_bar.isVisible() and viewer.find_field.hasFocus()
    with qtbot.waitSignal(viewer.found, timeout=10_000) as found:
        qtbot.keyClicks(viewer.find_field, "marmalade")
    assert found.args[0] == 1
    qtbot.waitUntil(lambda: viewer.page_label.text() == "Page 4 of 5" and viewer.find_status.text() == "1 of 1",
                    timeout=10_000)
    qtbot.waitUntil(lambda: viewer.current_match() is not None, timeout=10_000)  # marked on the page shown

    with qtbot.waitSignal(viewer.found, timeout=10_000) as found:
        viewer.find_field.setText("tides")
    assert found.args[0] == 5
    qtbot.waitUntil(lambda: viewer.find_status.text() == "4 of 5", timeout=10_000)  # from the page shown on
    qtbot.keyClick(viewer.find_field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: viewer.page_label.text() == "Page 5 of 5" and viewer.current_match() is not None,
                    timeout=10_000)
    qtbot.keyClick(viewer.find_field, Qt.Key.Key_Escape)
    assert not viewer.find_bar.isVisible() and viewer.current_match() is None


def test_page_keys_and_stale_renders(qtbot: QtBot, tmp_path: Path, viewer: SourceViewer) -> None:
    log = write_pdf(tmp_path / "log.pdf", PAGES)
    show(qtbot, viewer, log)
    viewer.image_scroll.setFocus()
    for key, page in ((Qt.Key.Key_PageDown, 2), (Qt.Key.Key_End, 5), (Qt.Key.Key_PageUp, 4), (Qt.Key.Key_Home, 1)):
        with qtbot.waitSignal(viewer.shown_source, timeout=10_000):
            qtbot.keyClick(viewer.image_scroll, key)
        assert viewer.page_label.text() == f"Page {page} of 5"
    viewer.renderer = RenderProcess(server="tests.support.bad_renderers:hang_on_poison")
    other = write_pdf(tmp_path / "other.pdf", ["Another document."])
    show(qtbot, viewer, other)  # the new child is up
    slow = write_pdf(tmp_path / "slow.pdf", PAGES)
    viewer.show_document(str(slow))
    qtbot.wait(200)  # its render is under way: it finishes, and its reply must be dropped
    shown_pages: list[str] = []
    viewer.shown_source.connect(lambda _target: shown_pages.append(viewer.page_label.text()))
    with qtbot.waitSignal(viewer.shown_source, timeout=10_000):
        viewer.show_document(str(other))  # the later click wins
    qtbot.wait(1000)
    assert shown_pages == ["Page 1 of 1"]  # the slow page never showed, not even for a moment


def loaded(viewer: SourceViewer, url: str) -> bytes:
    """What the rendered document holds for an image (Qt asks for it while laying the text out)."""
    data = viewer.rendered.document().resource(QTextDocument.ResourceType.ImageResource, QUrl(url))
    return bytes(data) if data is not None else b""


NOTE = ("# Garden notes\n\nThe quince tree in the north corner was planted in 2011.\n\n## Watering\n\n"
        "The tomatoes need **water** every second evening in July, never at noon.\n\n"
        "![remote](http://example.com/photo.png) ![local]({image})\n")


def test_markdown_is_rendered_and_the_quote_marked(qtbot: QtBot, tmp_path: Path, viewer: SourceViewer) -> None:
    image = write_pdf(tmp_path / "photo.png", ["not really a picture"])  # a file there to be read if allowed
    note = tmp_path / "garden.md"
    text = NOTE.format(image=image.as_uri())
    note.write_text(text, "utf-8")
    quote = "The tomatoes need **water** every second evening in July, never at noon."
    start = text.index(quote)
    citation = Citation(1, str(note), None, text.index("## Watering"), start + len(quote), text[start:],
                        quotes=(Quote(1, quote, start, start + len(quote), None),))
    with qtbot.waitSignal(viewer.shown_source, timeout=60_000):
        viewer.show_citation(citation)
    assert viewer.stack.currentWidget() is viewer.rendered
    shown = viewer.rendered.toPlainText()
    assert "Garden notes" in shown and "#" not in shown and "**" not in shown
    assert viewer.rendered.document().firstBlock().blockFormat().headingLevel() == 1
    assert viewer.selected_passage() == "The tomatoes need water every second evening in July, never at noon."
    for url in ("http://example.com/photo.png", image.as_uri()):
        assert not loaded(viewer, url)


def test_html_is_rendered_without_loading_anything(qtbot: QtBot, tmp_path: Path, viewer: SourceViewer) -> None:
    page = tmp_path / "club.html"
    page.write_text("<html><head><link rel=stylesheet href='http://example.com/a.css'></head><body>"
                    "<h1>Boat club</h1><p>The slipway opens at <b>six</b>.</p>"
                    "<img src='http://example.com/track.png'></body></html>", "utf-8")
    show(qtbot, viewer, page)
    assert viewer.stack.currentWidget() is viewer.rendered
    assert viewer.rendered.toPlainText().startswith("Boat club") and "<h1>" not in viewer.rendered.toPlainText()
    assert not loaded(viewer, "http://example.com/track.png")


def test_a_plain_text_marks_each_quote_not_the_whole_passage(qtbot: QtBot, tmp_path: Path,
                                                             viewer: SourceViewer) -> None:
    text = "The harbour opens at six. Boats are launched from the western slipway. The clubhouse closes in storms.\n"
    path = tmp_path / "club.txt"
    path.write_text(text, "utf-8")
    first, second = "The harbour opens at six.", "The clubhouse closes in storms."
    quotes = tuple(Quote(1, q, text.index(q), text.index(q) + len(q), None) for q in (first, second))
    with qtbot.waitSignal(viewer.shown_source, timeout=60_000):
        viewer.show_citation(Citation(1, str(path), None, 0, len(text) - 1, text.strip(), quotes=quotes))
    assert viewer.stack.currentWidget() is viewer.text
    assert viewer.selected_passage() == f"{first} {second}"  # the slipway sentence between them is not marked
