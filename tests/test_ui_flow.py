"""The main path through the window, on the real engine: drop a folder, ask, follow a citation, restart."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from engine.api import Engine
from ui.main_window import MainWindow

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures


def drop(window: MainWindow, *paths: Path) -> None:
    """A real drop: the enter event, then the drop event, as the platform would send them."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    assert event.isAccepted()


def index_by_drop(qtbot: QtBot, window: MainWindow, folder: Path) -> None:
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000):
        drop(window, folder)
    qtbot.waitUntil(lambda: len(window.library.model.rows()) == 3, timeout=5_000)


def test_drop_ask_cite_view_and_restart(qtbot: QtBot, library_folder: Path, make_engine: Callable[..., Engine],
                                        open_window: Callable[..., MainWindow]) -> None:
    window = open_window()
    assert window.library.stack.currentWidget() is window.library.empty  # an empty library invites a drop
    with qtbot.waitSignal(window.model_ready, timeout=60_000):
        pass

    index_by_drop(qtbot, window, library_folder)
    rows = {r.name: r for r in window.library.model.rows()}
    assert rows["brannock.pdf"].status == "indexed" and rows["brannock.pdf"].pages == 3
    assert rows["brannock.pdf"].chunks >= 1
    assert rows["garden.md"].status == "indexed"
    assert rows["broken.pdf"].status == "failed"
    assert rows["broken.pdf"].error  # the reason is there ...
    assert rows["broken.pdf"].error in window.library.model.data(
        window.library.model.index(list(rows).index("broken.pdf")))  # ... and shown in the list
    assert "Indexing finished" in window.progress.label.text()

    window.library.filter_box.setText("failed")
    assert window.library.proxy.rowCount() == 1
    window.library.filter_box.clear()

    # Ask with the keyboard: Enter sends.
    qtbot.keyClicks(window.chat.prompt, "Who is the lighthouse keeper of Brannock Island?")
    with qtbot.waitSignal(window.chat.answered, timeout=60_000) as answered:
        qtbot.keyClick(window.chat.prompt, Qt.Key.Key_Return)
    answer = answered.args[0]
    view = window.chat.answer_views()[-1]
    assert view.text == answer.text and answer.text
    assert answer.citations, answer.text
    assert "cite:" in view.body.toHtml()  # markers became links
    assert not view.sources.isHidden() and "brannock.pdf" in view.sources.text()
    assert window.conversations.model.rowCount() == 1

    # Click the first citation: the viewer opens the PDF at the cited page with the passage marked.
    citation = answer.citations[0]
    with qtbot.waitSignal(window.viewer.shown_source, timeout=20_000) as shown:
        view.body.anchorClicked.emit(QUrl(f"cite:{citation.n}"))
    assert window.viewer.isVisible()
    target = shown.args[0]
    assert target.path == citation.path
    if citation.path.endswith(".pdf"):
        assert citation.page is not None and target.page == citation.page
        assert window.viewer.page_label.text() == f"Page {citation.page} of 3"
        assert window.viewer.image.pixmap() is not None and not window.viewer.image.pixmap().isNull()
    conversation_id = window.chat.conversation_id
    assert conversation_id is not None

    # Restart: a new engine and window on the same home show the conversation with its sources.
    window.shutdown()
    second = open_window(make_engine(), preload=False)
    assert second.conversations.model.rowCount() == 1
    second.conversations.view.setCurrentIndex(second.conversations.model.index(0))
    second.conversations.view.clicked.emit(second.conversations.model.index(0))
    assert second.chat.conversation_id == conversation_id
    views = second.chat.answer_views()
    assert len(views) == 1 and views[0].text == answer.text
    assert [c.n for c in views[0].citations] == [c.n for c in answer.citations]
    assert {r.name for r in second.library.model.rows()} == {"brannock.pdf", "garden.md", "broken.pdf"}


def test_stop_mid_answer_with_escape(qtbot: QtBot, library_folder: Path, make_engine: Callable[..., Engine],
                                     open_window: Callable[..., MainWindow], *,
                                     first_reply_held_open: threading.Event) -> None:
    window = open_window(make_engine(max_answer_tokens=400, temperature=0.7), preload=False)
    index_by_drop(qtbot, window, library_folder)
    window.chat.ask("Tell me everything about Brannock Island, the ferry, the bakery and the lighthouse, "
                    "in a long and detailed story.")
    qtbot.waitUntil(lambda: window.chat.last_run is not None and bool(window.chat.last_run.pieces), timeout=60_000)
    assert window.chat.stop_button.isVisible()
    with qtbot.waitSignal(window.chat.answered, timeout=20_000) as answered:
        qtbot.keyClick(window.chat.prompt, Qt.Key.Key_Escape)
    assert answered.args[0].stopped
    qtbot.waitUntil(lambda: not window.chat.is_busy(), timeout=5_000)
    assert window.chat.send_button.isVisible()
    assert window.chat.answer_views()[-1].status.text() == "Stopped."

    # Retry replaces the stopped answer with a new one (the question is not asked twice).
    window.engine.settings.max_answer_tokens = 24
    with qtbot.waitSignal(window.chat.answered, timeout=60_000):
        window.chat.answer_views()[-1].retry_button.click()
    qtbot.waitUntil(lambda: len(window.chat.answer_views()) == 1, timeout=5_000)
    messages = window.engine.conversations().messages(window.chat.conversation_id or 0)
    assert [m.role for m in messages] == ["user", "assistant"]


def test_a_question_with_no_documents_says_what_to_do(qtbot: QtBot, open_window: Callable[..., MainWindow]) -> None:
    window = open_window(preload=False)
    window.chat.ask("What is in my documents?")
    view = window.chat.answer_views()[-1]
    assert "no documents" in view.text and "Ctrl+O" in view.text
    assert not window.chat.is_busy()  # answered at once, no model needed
