"""Switching the search model from Settings: the cost shown, the re-embedding in the status bar, Cancel, and the
switch going on at the next start; afterwards an English question finds the German note."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from engine.api import Engine, ReembedProgress, Settings
from engine.embedding.e5 import E5_NAME
from tests.test_embedder_choice import write_notes
from ui.main_window import MainWindow
from ui.settings_dialog import SettingsDialog

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures
MINILM = "all-MiniLM-L6-v2"
SWITCH_TIMEOUT_MS = 180_000


def test_choosing_many_languages_in_settings_re_embeds_and_an_english_question_finds_the_german_note(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_engine: Callable[..., Engine],
        open_window: Callable[..., MainWindow]) -> None:
    engine = make_engine()
    list(engine.index([write_notes(tmp_path / "notes")], "Notes"))
    window = open_window(engine, preload=False)
    seen: dict[str, object] = {}

    def choose_many_languages(dialog: SettingsDialog) -> int:
        combo = dialog.search_model
        assert combo is not None
        seen["labels"] = [combo.itemText(i) for i in range(combo.count())]
        seen["before"] = dialog.search_model_note.text()
        combo.setCurrentIndex(combo.findData(E5_NAME))
        seen["cost"] = dialog.search_model_note.text()
        return SettingsDialog.DialogCode.Accepted

    monkeypatch.setattr(SettingsDialog, "exec", choose_many_languages)
    with qtbot.waitSignal(window.embedder_switch.ended, timeout=SWITCH_TIMEOUT_MS) as ended:
        window.open_settings()
    assert seen["labels"] == ["English (fast)", "Many languages (E5-small)"]
    assert "In use: 4 passages are searched with it." in str(seen["before"])
    assert "Switching re-embeds 4 passages, about" in str(seen["cost"])
    name, last = ended.args
    assert name == E5_NAME and isinstance(last, ReembedProgress) and last.finished
    assert window.switch_status.label.text() == "Search now uses Many languages (E5-small) (4 passages)."
    assert engine.embedding_state().current == E5_NAME
    hits = engine.search("Where are the winter tyres kept?", k=1, mode="dense")
    assert Path(hits[0].path).name == "auto.md"


def test_a_cancelled_switch_keeps_the_model_in_use_and_goes_on_at_the_next_start(
        qtbot: QtBot, tmp_path: Path, make_engine: Callable[..., Engine],
        open_window: Callable[..., MainWindow]) -> None:
    engine = make_engine()
    list(engine.index([write_notes(tmp_path / "notes", extra=130)], "Notes"))
    total = engine.embedding_state().total
    window = open_window(engine, preload=False)
    shown: list[str] = []

    def cancel_on_first_batch(step: ReembedProgress) -> None:
        shown.append(window.switch_status.label.text())
        window.switch_status.cancel.click()  # the person's Cancel, in the status bar

    window.embedder_switch.progress.connect(cancel_on_first_batch)
    with qtbot.waitSignal(window.embedder_switch.ended, timeout=SWITCH_TIMEOUT_MS) as ended:
        window.switch_search_model(E5_NAME)
    _name, last = ended.args
    assert not last.finished and 0 < last.done < total
    assert shown[0].startswith(f"Search model: re-embedding for Many languages (E5-small), 32 of {total} passages")
    assert window.switch_status.label.text() == (
        f"Search model switch stopped at {last.done} of {total} passages: it goes on at the next start "
        "(or choose it again in Settings).")
    state = engine.embedding_state()
    assert (state.current, state.target, state.done) == (MINILM, E5_NAME, last.done)  # searched with MiniLM still
    window.shutdown()

    next_start = Engine(Settings(threads=2))  # loads the model its index records, as the app does
    reopened = open_window(next_start, preload=False, watch=True)
    qtbot.waitUntil(lambda: next_start.embedding_state().target is None, timeout=SWITCH_TIMEOUT_MS)
    qtbot.waitUntil(lambda: reopened.switch_status.label.text().startswith("Search now uses"), timeout=10_000)
    assert next_start.embedding_state().current == E5_NAME
    assert next_start.embedder().name == E5_NAME
    hits = next_start.search("Who services the boiler in the basement?", k=1, mode="dense")
    assert Path(hits[0].path).name == "heizung.md"
