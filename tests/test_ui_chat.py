"""The chat panel: an answer belongs to its conversation, and conversation writes run off the GUI thread.

On the real engine: the Qwen 0.5B chat model, the embedder, a real indexed PDF and note.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from engine.api import Conversations, Engine
from ui.main_window import MainWindow
from ui.workers import Changes

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures

LONG_QUESTION = ("Tell me everything about Brannock Island, the ferry, the bakery and the lighthouse, "
                 "in a long and detailed story.")


def test_a_new_chat_during_an_answer_leaves_both_conversations_intact(
        qtbot: QtBot, library_folder: Path, default_model_path: Path, make_engine: Callable[..., Engine],
        open_window: Callable[..., MainWindow], *, first_reply_held_open: threading.Event) -> None:
    engine = make_engine(chat_model=str(default_model_path), max_answer_tokens=400, temperature=0.7)
    list(engine.index([library_folder / "brannock.pdf", library_folder / "garden.md"]))
    window = open_window(engine, preload=False)
    chat = window.chat
    held = first_reply_held_open

    chat.ask(LONG_QUESTION)
    streaming = chat._run
    assert streaming is not None
    qtbot.waitUntil(lambda: len("".join(streaming.pieces)) >= 60 or held.is_set() or not chat.is_busy(),
                    timeout=120_000)
    assert chat.is_busy(), chat.answer_views()[-1].body.toPlainText()  # still streaming
    first = chat.conversation_id
    assert first is not None

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    qtbot.keyClick(chat.prompt, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # New chat
    assert chat.conversation_id is None and not chat.answer_views() and not chat.is_busy()

    # The new chat is usable at once: its question starts while the first answer is still being stopped.
    engine.settings.max_answer_tokens = 24
    with qtbot.waitSignal(chat.answered, timeout=120_000,
                          check_params_cb=lambda answer: answer.question == "Who keeps the Brannock light?") as done:
        chat.ask("Who keeps the Brannock light?")
    answer = done.args[0]
    qtbot.waitUntil(lambda: streaming not in chat._finishing and not chat.is_busy(), timeout=30_000)
    second = chat.conversation_id
    assert second is not None and second != first

    conversations = engine.conversations()
    first_messages = conversations.messages(first)
    assert [(m.role, m.stopped) for m in first_messages] == [("user", False), ("assistant", True)]
    assert first_messages[0].content == LONG_QUESTION and first_messages[1].content.strip()
    assert not first_messages[1].citations  # a stopped fragment was never checked: it cites nothing
    fragment = first_messages[1].content.strip()
    second_messages = conversations.messages(second)
    assert [(m.role, m.content) for m in second_messages] == [("user", "Who keeps the Brannock light?"),
                                                              ("assistant", answer.text)]

    # On screen: the second conversation alone, its one answer exactly its own, none of the first one's tokens.
    [view] = chat.answer_views()
    assert view.text == answer.text
    # (a short held fragment may be words the second answer also says: then no more often than it says them)
    assert view.body.toPlainText().count(fragment[:40]) <= answer.text.count(fragment[:40])

    # Reopened, the first conversation shows its fragment as stopped, without markers pointing at nothing.
    chat.load_conversation(first)
    [stopped] = chat.answer_views()
    assert stopped.status.text() == "Stopped." and "[" not in stopped.body.toPlainText()
    assert stopped.sources.isHidden()


def test_conversation_writes_run_off_the_gui_thread_and_the_list_follows_the_change_signal(
        qtbot: QtBot, make_engine: Callable[..., Engine], open_window: Callable[..., MainWindow],
        monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine()
    conversation = engine.conversations().create("Lighthouse")
    window = open_window(engine, preload=False)
    panel = window.conversations
    assert panel.model.data(panel.model.index(0)) == "Lighthouse"

    writers: list[threading.Thread] = []
    real_rename = Conversations.rename

    def recording_rename(self: Conversations, conversation_id: int, title: str) -> None:
        writers.append(threading.current_thread())
        real_rename(self, conversation_id, title)

    monkeypatch.setattr(Conversations, "rename", recording_rename)
    with qtbot.waitSignal(window.ops.changed, timeout=5_000) as announced:
        panel.rename(conversation.id, "Brannock light")
    assert writers and writers[0] is not threading.main_thread()
    assert announced.args == [Changes(conversation_list=True, conversation_id=conversation.id)]
    assert panel.model.data(panel.model.index(0)) == "Brannock light"

    # The list is refreshed by the announcement, not by whoever wrote: a write that announces nothing is not
    # seen until an operation says the conversations changed.
    engine.conversations().create("Written elsewhere")
    assert panel.model.rowCount() == 1
    window.ops.changed.emit(Changes(conversation_list=True))
    assert panel.model.rowCount() == 2
