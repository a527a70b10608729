"""Conversations: listed, renamed, deleted, exported with their sources (no model needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QUrl
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from engine.api import Engine
from engine.records import Citation
from ui.main_window import MainWindow

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures


def _saved_conversation(engine: Engine) -> int:
    store = engine.conversations()
    conversation = store.create("Lighthouse")
    store.add_message(conversation.id, "user", "Who keeps the light?")
    store.add_message(conversation.id, "assistant", "Morwenna Tallis keeps it [1].",
                      [Citation(1, "/docs/brannock.pdf", 2, 10, 90, "The lighthouse keeper ...")])
    return conversation.id


def test_list_open_rename_delete_export(qtbot: QtBot, tmp_path: Path, qtmodeltester: ModelTester,
                                        make_engine: Callable[..., Engine],
                                        open_window: Callable[..., MainWindow]) -> None:
    engine = make_engine()
    conversation_id = _saved_conversation(engine)
    window = open_window(engine, preload=False)
    panel = window.conversations
    qtmodeltester.check(panel.model, force_py=True)
    assert panel.model.rowCount() == 1

    panel.view.clicked.emit(panel.model.index(0))
    assert window.chat.conversation_id == conversation_id
    answer = window.chat.answer_views()[0]
    assert "Morwenna" in answer.text and "brannock.pdf, page 2" in answer.sources.text()
    clicked: list[Citation] = []
    answer.citation_clicked.connect(clicked.append)
    answer.sources.linkActivated.emit("cite:1")
    assert clicked and clicked[0].page == 2

    with qtbot.waitSignal(window.ops.changed, timeout=5_000):  # the write runs off the GUI thread
        panel.rename(conversation_id, "Brannock light")
    assert panel.model.data(panel.model.index(0)) == "Brannock light"
    assert "Brannock light" in window.chat.title.text()

    target = panel.export(conversation_id, tmp_path / "chat.md")
    assert target is not None
    text = target.read_text("utf-8")
    assert text.startswith("# Brannock light") and "Morwenna" in text and "- [1] /docs/brannock.pdf, page 2" in text

    window.new_chat()
    assert window.chat.conversation_id is None and not window.chat.answer_views()
    with qtbot.waitSignal(window.ops.changed, timeout=5_000):
        panel.delete(conversation_id, confirm=False)
    assert panel.model.rowCount() == 0
    assert engine.conversations().count() == 0


def test_copy_answer(qtbot: QtBot, make_engine: Callable[..., Engine], open_window: Callable[..., MainWindow]) -> None:
    engine = make_engine()
    conversation_id = _saved_conversation(engine)
    window = open_window(engine, preload=False)
    window.chat.load_conversation(conversation_id)
    view = window.chat.answer_views()[0]
    view.copy_button.click()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == "Morwenna Tallis keeps it [1]."
    assert not view.retry_button.isHidden()  # the last answer can be asked again
    clicked: list[Citation] = []
    view.citation_clicked.connect(clicked.append)
    view.body.anchorClicked.emit(QUrl("cite:1"))  # the [1] in the answer's text is a link to its source
    view.body.anchorClicked.emit(QUrl("cite:7"))  # a number with no citation opens nothing
    assert [c.path for c in clicked] == ["/docs/brannock.pdf"]


def test_an_answer_whose_sources_were_forgotten_keeps_its_text_and_says_so(
        qtbot: QtBot, library_folder: Path, make_engine: Callable[..., Engine],
        open_window: Callable[..., MainWindow]) -> None:
    engine = make_engine()
    list(engine.index([library_folder / "garden.md"]))
    hit = engine.search("tomatoes water", k=1)[0]
    store = engine.conversations()
    conversation = store.create("Garden")
    store.add_message(conversation.id, "user", "When do the tomatoes need water?")
    store.add_message(conversation.id, "assistant", "Every second evening in July [1].",
                      [Citation(1, hit.path, None, hit.start, hit.end, hit.text, document_id=hit.document_id)])
    assert engine.forget([library_folder / "garden.md"]) == 1
    window = open_window(engine, preload=False)
    window.chat.load_conversation(conversation.id)
    [view] = window.chat.answer_views()
    assert view.text == "Every second evening in July [1]." and view.citations == []
    assert view.sources.isHidden() and view.status.text() == "Its sources were forgotten."
