"""Start the GUI, or say in one line why it cannot start here."""

from __future__ import annotations

import os
import sys


def display_available() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def launch_gui() -> int:
    if not display_available():
        print("Hushdocs: no display found, so the window cannot open. "
              "Use the command-line tool instead: `python main.py --help`.", file=sys.stderr)
        return 2
    from engine.api import install_crash_logging, setup_logging  # noqa: PLC0415 - after the display check

    setup_logging()
    install_crash_logging()
    from ui.application import run_application  # noqa: PLC0415 - heavy, loaded on first use

    return run_application()
