"""The QApplication: style hints, icon, crash reporting, the engine and the main window."""

from __future__ import annotations

import logging
import sys
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from ui.dialogs import CrashReporter
from ui.main_window import MainWindow
from ui.theme import app_icon

__all__ = ["MainWindow", "create_application", "run_application"]


def create_application() -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    # Fractional scale factors (125 %, 150 %) are passed through instead of rounded: crisp on high DPI.
    QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication(sys.argv)
    app.setApplicationName("Hushdocs")
    app.setApplicationDisplayName("Hushdocs")
    app.setOrganizationName("Hushdocs")
    app.setDesktopFileName("hushdocs")
    app.setWindowIcon(app_icon())
    return app


def run_application() -> int:
    app = create_application()
    window = MainWindow()
    reporter = CrashReporter(window)
    reporter.install()
    window.show()
    QTimer.singleShot(0, lambda: logging.getLogger(__name__).info("window shown (monotonic=%.3f)", time.monotonic()))
    try:
        return int(app.exec())
    finally:
        window.shutdown()
        reporter.uninstall()
