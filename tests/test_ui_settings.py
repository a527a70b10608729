"""Settings, first run without models, a dropped .gguf, and window state kept across runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QUrl
from pytestqt.qtbot import QtBot

from engine import paths
from engine.api import Engine
from engine.settings import Settings
from ui import dialogs
from ui.main_window import MainWindow
from ui.settings_dialog import SettingsDialog

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures


def test_settings_dialog_shows_and_returns_values(qtbot: QtBot, tiny_model_path: Path) -> None:
    settings = Settings(chat_model="smollm2-135m-instruct-q4_1", passages=3)
    dialog = SettingsDialog(settings, gpu_supported=False)
    qtbot.addWidget(dialog)
    labels = [dialog.model.itemText(i) for i in range(dialog.model.count())]
    assert any("SmolLM2" in label for label in labels) and labels[-1] == "Add GGUF file…"
    assert not dialog.gpu_layers.isEnabled()  # no GPU in this llama.cpp build: said, and not offered
    assert dialog.passage_tokens.value() == settings.passage_tokens
    automatic = SettingsDialog(Settings(), gpu_supported=False)
    qtbot.addWidget(automatic)
    assert automatic.passages.text() == "automatic"  # the chat model's measured count
    dialog.passages.setValue(5)
    dialog.passage_tokens.setValue(0)
    assert dialog.passage_tokens.text() == "whole passages"
    dialog.temperature.setValue(0.3)
    dialog.add_gguf(str(tiny_model_path))
    values = dialog.values()
    assert (values.passages, values.passage_tokens, values.temperature, values.chat_model) == (
        5, 0, 0.3, str(tiny_model_path))
    assert values.context_size == settings.context_size


def test_applying_settings_saves_and_reloads_the_model(qtbot: QtBot, tiny_model_path: Path,
                                                       make_engine: Callable[..., Engine],
                                                       open_window: Callable[..., MainWindow]) -> None:
    window = open_window(preload=False)
    new = Settings(chat_model=str(tiny_model_path), context_size=1024, threads=2, passages=4)
    with qtbot.waitSignal(window.model_ready, timeout=60_000):
        window.apply_settings(new)
    assert Settings.load().passages == 4 and Settings.load().context_size == 1024
    assert window.engine.generator().n_ctx == 1024
    assert "ready" in window.model_status.text()


def test_dropping_a_gguf_offers_it_as_the_chat_model(qtbot: QtBot, tiny_model_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     make_engine: Callable[..., Engine],
                                                     open_window: Callable[..., MainWindow]) -> None:
    window = open_window(make_engine(chat_model="smollm2-135m-instruct-q4_1"), preload=False)
    asked: list[str] = []
    def say_yes(_parent: object, _title: str, text: str) -> bool:
        asked.append(text)
        return True

    monkeypatch.setattr(dialogs, "ask_yes_no", say_yes)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tiny_model_path))])
    with qtbot.waitSignal(window.model_ready, timeout=60_000):
        assert window.handle_drop(mime)
    assert asked and tiny_model_path.name in asked[0]
    assert window.engine.settings.chat_model == str(tiny_model_path)
    assert not window.indexing.is_busy()  # the model file was not indexed as a document


def test_missing_models_show_one_clear_screen(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              make_engine: Callable[..., Engine],
                                              open_window: Callable[..., MainWindow]) -> None:
    monkeypatch.setenv(paths.MODELS_ENV, str(tmp_path / "no-models"))
    window = open_window(make_engine(chat_model="qwen2.5-coder-0.5b-instruct-q4_k_m"), watch=True)
    assert window.pages.currentWidget() is window.first_run
    text = window.first_run.findChildren(type(window.first_run.reason))[1].text()
    assert "python3 bootstrap.py" in text and "python main.py models install" in text
    assert "not installed" in window.first_run.reason.text()
    assert window.engine._watcher is None  # nothing started behind the screen

    monkeypatch.undo()  # the models "arrive"; Check again goes on to the app
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "hushdocs-home"))
    window.engine.settings.chat_model = "smollm2-135m-instruct-q4_1"
    with qtbot.waitSignal(window.model_ready, timeout=60_000):
        window.first_run.retry_requested.emit()
    assert window.pages.currentIndex() == 0


def test_window_geometry_is_restored(qtbot: QtBot, make_engine: Callable[..., Engine],
                                     open_window: Callable[..., MainWindow]) -> None:
    first = open_window(preload=False)
    first.resize(760, 540)  # inside the offscreen screen (800x600)
    first.splitter.setSizes([200, 300, 200])
    sizes = first.splitter.sizes()
    first.shutdown()
    second = open_window(preload=False)
    assert (second.width(), second.height()) == (760, 540)
    assert second.splitter.sizes()[0] == sizes[0]
