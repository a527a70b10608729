"""Start the real app (``main.main([])``, as ``python main.py`` does) and press Ctrl+Q in it: tests/test_ui_shell.py.

    python tests/support/app_driver.py SCENARIO MARKER_FILE [FOLDER]

SCENARIO says what is going on when Ctrl+Q is pressed:
  idle       the window is shown and its models are loaded, nothing runs;
  indexing   FOLDER was added and its files are being read;
  answering  a question was asked and its answer is being written;
  stuck      a worker that never looks at its stop flag is running (a parser or renderer stuck on a file).
Just before the key press, MARKER_FILE is written, so the test can time how long the process takes to end.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import main  # first: the entry point seals the environment before anything heavy loads

POLL_MS = 100
ANSWER_RUNNING_S = 1.0  # into the answer: the model is evaluating or writing by then


def drive(scenario: str, marker: Path, folder: str | None) -> int:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from ui.application import create_application
    from ui.main_window import MainWindow

    create_application()
    state: dict[str, float | bool] = {"started": False, "model_ready": False}

    def window() -> MainWindow | None:
        return next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()), None)

    def start(main_window: MainWindow) -> None:
        if scenario == "indexing":
            assert folder is not None
            main_window.add_paths([folder])
        elif scenario == "stuck":
            main_window.pool.start(lambda _stop: time.sleep(3600), name="stuck renderer")
        state["started"] = True

    def ready(main_window: MainWindow) -> bool:
        if scenario == "indexing":
            return main_window.indexing.is_busy() and bool(main_window.indexing.current)
        if scenario == "answering":
            if not state["model_ready"]:
                return False
            if "asked" not in state:
                main_window.chat.prompt.setPlainText("Who is the harbour master and when does the ferry leave?")
                QTest.keyClick(main_window.chat.prompt, Qt.Key.Key_Return)
                state["asked"] = time.monotonic()
                return False
            return main_window.chat.is_busy() and time.monotonic() - float(state["asked"]) > ANSWER_RUNNING_S
        return scenario == "stuck" or bool(state["model_ready"])

    def poll() -> None:
        main_window = window()
        if main_window is not None and not state["started"]:
            main_window.model_ready.connect(lambda: state.update(model_ready=True))
            start(main_window)
        if main_window is not None and ready(main_window):
            main_window.activateWindow()
            QTest.qWaitForWindowActive(main_window)  # shortcuts go to the active window only
            marker.write_text(f"{scenario} {threading.active_count()} threads", "utf-8")
            QTest.keyClick(main_window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
            return
        QTimer.singleShot(POLL_MS, poll)

    QTimer.singleShot(POLL_MS, poll)
    return main.main([])


if __name__ == "__main__":
    sys.exit(drive(sys.argv[1], Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None))
