"""Small dialogs and the crash report: known errors get a plain message, bugs a report with the log's place."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

from engine.api import paths

log = logging.getLogger(__name__)


def ask_yes_no(parent: QWidget | None, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def show_crash(parent: QWidget | None, details: str) -> QMessageBox:
    """A non-modal report: what happened, where the log is; the app goes on if it can."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle("Hushdocs: something went wrong")
    box.setText("Something went wrong inside Hushdocs. This is a bug, not something you did.")
    box.setInformativeText(f"The details were written to the log:\n{paths.log_path()}\n\n"
                           "Please include that file when you report the problem.")
    box.setDetailedText(details)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    open_logs = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Close)
    open_logs.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.logs_dir()))))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


class CrashReporter(QObject):
    """Routes uncaught exceptions (any thread) to the log and to a crash dialog on the UI thread."""

    crashed = Signal(str)

    def __init__(self, parent_widget: QWidget | None = None) -> None:
        super().__init__()
        self.parent_widget = parent_widget
        self.crashed.connect(self._show)
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook

    def install(self) -> None:
        sys.excepthook = self._hook
        threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        sys.excepthook = self._previous_hook
        threading.excepthook = self._previous_thread_hook

    def _hook(self, kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        logging.getLogger("crash").critical("uncaught exception", exc_info=(kind, value, tb))
        self.crashed.emit("".join(traceback.format_exception(kind, value, tb)))

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        logging.getLogger("crash").critical("uncaught exception in thread %s",
                                            args.thread.name if args.thread else "?",
                                            exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
        self.crashed.emit("".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))

    def _show(self, details: str) -> None:
        show_crash(self.parent_widget, details)
