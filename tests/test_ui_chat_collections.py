"""Each conversation searches its own choice of collections (default: all of them), and keeps it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import apsw
from pytestqt.qtbot import QtBot

from engine.api import Engine
from engine.store.conversations import ConversationStore
from engine.store.db import MIGRATIONS, connect
from ui.main_window import MainWindow
from ui.messages import AnswerView

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures

GARDEN_QUESTION = "When do the tomatoes need water?"  # answered by the garden note alone


def shown(view: AnswerView) -> tuple[str, str, str]:
    return view.body.toPlainText(), view.status.text(), view.sources.text()


def test_a_conversation_limited_to_one_collection_reads_only_it_and_keeps_the_choice(
        qtbot: QtBot, library_folder: Path, make_engine: Callable[..., Engine],
        open_window: Callable[..., MainWindow]) -> None:
    engine = make_engine()
    list(engine.index([library_folder / "garden.md"], "Garden"))
    list(engine.index([library_folder / "brannock.pdf"], "Island"))
    everywhere = engine.search(GARDEN_QUESTION, k=1)
    assert everywhere[0].path.endswith("garden.md")  # without a choice, the garden note answers
    window = open_window(engine, preload=False)
    chat = window.chat
    assert chat.collection_choice.text() == "Searching: all collections"

    # Choose through the control's menu, as a person does.
    chat.collection_choice.menu().aboutToShow.emit()
    actions = {a.text(): a for a in chat.collection_choice.menu().actions()}
    assert set(actions) >= {"All collections", "Garden", "Island"} and actions["All collections"].isChecked()
    actions["Island"].trigger()
    assert chat.collection_choice.text() == "Searching: Island"

    with qtbot.waitSignal(chat.answered, timeout=120_000) as answered:
        chat.ask(GARDEN_QUESTION)
    answer = answered.args[0]
    read = {Path(p.path).name for p in answer.passages}
    cited = {Path(c.path).name for c in answer.citations}
    assert read <= {"brannock.pdf"} and cited <= {"brannock.pdf"}, (read, cited)
    qtbot.waitUntil(lambda: not chat.is_busy(), timeout=10_000)
    conversation_id = chat.conversation_id
    assert conversation_id is not None
    [view] = chat.answer_views()
    before = shown(view)
    assert engine.conversations().get(conversation_id).collections == ["Island"]  # type: ignore[union-attr]

    # A new chat starts with every collection; reopening the first brings back its choice and its answer as shown.
    window.new_chat()
    assert chat.collection_choice.collections is None
    window.shutdown()
    second = open_window(make_engine(), preload=False)
    second.chat.load_conversation(conversation_id)
    assert second.chat.collection_choice.collections == ["Island"]
    assert second.chat.collection_choice.text() == "Searching: Island"
    assert second.chat.scope() == ["Island"]
    [reopened] = second.chat.answer_views()
    assert shown(reopened) == before

    # Changing the choice of a saved conversation is saved too (off the GUI thread).
    with qtbot.waitSignal(second.ops.changed, timeout=5_000):
        second.chat.collection_choice.choose(None)
    assert second.engine.conversations().get(conversation_id).collections is None  # type: ignore[union-attr]


def test_a_conversation_begun_in_one_collection_before_the_choice_existed_keeps_it(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    old = apsw.Connection(str(database))
    for number, migration in enumerate(MIGRATIONS[:5], start=1):
        migration(old)
        old.execute(f"PRAGMA user_version = {number}")
    insert = "INSERT INTO conversations(title, collection, created_at, updated_at) VALUES (?, ?, 1, 1)"
    old.execute(insert, ("Island", "Island"))
    old.execute(insert, ("Any", None))
    old.close()

    conn = connect(database)
    try:
        chosen = {c.title: c.collections for c in ConversationStore(conn).all()}
    finally:
        conn.close()
    assert chosen == {"Island": ["Island"], "Any": None}
