"""The QApplication: style hints, icon, cyclic garbage collected on its thread, crash reporting, one app per data
home, the main window, a clean exit."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QSocketNotifier, Qt, QTimer
from PySide6.QtWidgets import QApplication

from engine.api import paths
from ui.collector import GuiThreadCollector
from ui.dialogs import CrashReporter
from ui.main_window import MainWindow
from ui.single_instance import Claim, SingleInstance
from ui.theme import app_icon

__all__ = ["MainWindow", "create_application", "run_application"]

log = logging.getLogger(__name__)


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
    GuiThreadCollector(app).start()  # cyclic garbage (which may hold Qt objects) is collected on this thread only
    return app


def run_application() -> int:
    app = create_application()
    instance = SingleInstance(paths.data_dir())
    claim = instance.claim()
    if claim is Claim.RAISED:
        print("Hushdocs is already open with this data folder; its window was brought to the front.",
              file=sys.stderr)
        return 0
    if claim is Claim.UNANSWERED:
        print(f"Hushdocs is already running with the data folder {paths.data_dir()} but does not answer. "
              "Close it (or end its process), then start Hushdocs again.", file=sys.stderr)
        return 1
    # Quit follows the main window, not the last window: an open crash report must not keep the app alive.
    app.setQuitOnLastWindowClosed(False)
    window = MainWindow()
    window.closed.connect(app.quit)
    window.closed.connect(instance.release)  # a relaunch may start while the workers finish
    instance.raise_requested.connect(window.bring_to_front)
    reporter = CrashReporter(window)
    reporter.install()
    stop_signals = _close_on_termination_signals(window)
    window.show()
    QTimer.singleShot(0, lambda: log.info("window shown (monotonic=%.3f)", time.monotonic()))
    try:
        code = int(app.exec())
    finally:
        workers_ended = window.shutdown()
        stop_signals()
        reporter.uninstall()
        instance.release()
    if not workers_ended:
        _exit_now(code)
    return code


def _close_on_termination_signals(window: MainWindow) -> Callable[[], None]:
    """SIGTERM (a session logging out, ``kill``) and SIGINT (Ctrl+C in the terminal) close the window as Quit does.

    Python runs signal handlers only between bytecodes, and the Qt event loop runs none while idle, so the
    signal's wake-up byte goes to a socket pair that Qt watches. Returns the function that undoes this."""
    if os.name != "posix":  # Windows ends a GUI process without a signal Python could see
        return lambda: None
    reader, writer = socket.socketpair(socket.AF_UNIX)  # a Unix socket pair: nothing the offline seal refuses
    for end in (reader, writer):
        end.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writer.fileno())
    handled = (signal.SIGTERM, signal.SIGINT)
    previous = {number: signal.signal(number, lambda _number, _frame: None) for number in handled}
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, window)

    def woken() -> None:
        try:
            received = reader.recv(64)
        except BlockingIOError:
            return
        log.info("closing on signal %s", ", ".join(str(number) for number in received))
        window.close()

    notifier.activated.connect(woken)

    def restore() -> None:
        notifier.setEnabled(False)
        signal.set_wakeup_fd(previous_fd)
        for number, handler in previous.items():
            signal.signal(number, handler)
        reader.close()
        writer.close()

    return restore


def _exit_now(code: int) -> None:
    """End the process although a worker thread is still busy (a parser or renderer stuck on a file, a model
    evaluating a long prompt): Python's exit would wait for that thread for ever. The database stays consistent
    (each write is a transaction); the child processes go first so none is left behind."""
    log.warning("workers still running %.0f s after closing: ending the process without them",
                MainWindow.SHUTDOWN_WAIT_S)
    for child in multiprocessing.active_children():
        child.kill()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
