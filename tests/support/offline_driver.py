"""Use the app as a person would, in one process, for the system-call trace in ``tests/test_offline.py``.

    python tests/support/offline_driver.py FOLDER MODEL LINGER_S

Indexes FOLDER and asks one question with the chat model MODEL through ``main.main`` (the CLI), then
opens the main window (Qt, offscreen) and keeps it up for LINGER_S seconds while it loads its models:
onnxruntime's call home came about 9 s after a session was created, so the process must outlive that.
``import main`` comes first, exactly as in the real entry point, which seals the environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import main  # first: the entry point seals the environment before anything heavy loads


def drive(folder: str, model: str, linger_s: float) -> int:
    if main.main(["index", folder]) != 0:
        return 1
    if main.main(["ask", "Who keeps the lighthouse?", "--model", model, "--json"]) != 0:
        return 1
    return show_window(model, linger_s)


def show_window(model: str, linger_s: float) -> int:
    from PySide6.QtCore import QTimer

    from engine.api import Engine
    from engine.settings import Settings
    from ui.application import create_application
    from ui.main_window import MainWindow

    app = create_application()
    window = MainWindow(Engine(Settings(chat_model=model, context_size=2048)), watch=True, preload=True)
    window.show()
    QTimer.singleShot(int(linger_s * 1000), app.quit)
    app.exec()
    window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(drive(sys.argv[1], sys.argv[2], float(sys.argv[3])))
