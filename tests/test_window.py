from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from pytestqt.qtbot import QtBot

from ui.application import MainWindow
from ui.theme import ICON_PATH

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures


def test_main_window_has_the_app_name_icon_and_keys(qtbot: QtBot, open_window: Callable[..., MainWindow]) -> None:
    window = open_window(watch=True)
    with qtbot.waitSignal(window.model_ready, timeout=60_000):
        pass  # the chat model loads in the background while the window is already up
    assert window.windowTitle().startswith("Hushdocs")
    assert ICON_PATH.is_file() and not window.windowIcon().isNull()
    shortcuts = {a.text().replace("&", ""): a.shortcut() for a in window.findChildren(QAction)}
    assert shortcuts["New chat"].matches(QKeySequence("Ctrl+N")) == QKeySequence.SequenceMatch.ExactMatch
    assert shortcuts["Add folder…"].matches(QKeySequence("Ctrl+O")) == QKeySequence.SequenceMatch.ExactMatch
    assert shortcuts["Quit"].matches(QKeySequence("Ctrl+Q")) == QKeySequence.SequenceMatch.ExactMatch
    assert window.engine._watcher is not None  # the folder watcher runs from the start
