from __future__ import annotations

from pytestqt.qtbot import QtBot

from ui.application import MainWindow


def test_main_window_has_the_app_name(qtbot: QtBot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle().startswith("Hushdocs")
