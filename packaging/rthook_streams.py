"""PyInstaller runtime hook: give a windowed app somewhere to write, before any app code runs.

A windowed (console=False) build on Windows and macOS starts with ``sys.stdout`` and ``sys.stderr``
set to None, so a bare ``print`` or llama-cpp-python's ``suppress_stdout_stderr`` (which calls
``sys.stdout.fileno()``) would crash the app. When a stream is missing, this points it at
``console.log`` in the app's log folder (the folder ``engine.paths.logs_dir`` uses, honouring
``HUSHDOCS_HOME``). On Linux a console=False build keeps the inherited descriptors, so a terminal
still sees the CLI's output; only a closed descriptor is replaced there.

faulthandler goes to ``faults.log`` in the same folder from this first line on, so a native crash
during start-up (a missing shared library, an import that segfaults) leaves a trace;
``engine.logs.setup_logging`` later takes it over with its own handle on the same file.
"""

from __future__ import annotations

import faulthandler
import os
import sys
from pathlib import Path
from typing import TextIO

_APP_NAME = "Hushdocs"
_HOME_ENV = "HUSHDOCS_HOME"


def _logs_dir() -> Path:
    """Mirror of ``engine.paths.logs_dir`` (kept import-free of the app: this runs before it)."""
    home = os.environ.get(_HOME_ENV)
    if home:
        return Path(home).expanduser().resolve() / "logs"
    try:
        import platformdirs

        return Path(platformdirs.user_log_dir(_APP_NAME, False))
    except ImportError:  # pragma: no cover - platformdirs is always bundled
        return Path.home() / ".cache" / _APP_NAME / "log"


def _descriptor_usable(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _open_console_log(folder: Path) -> TextIO | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return open(folder / "console.log", "a", encoding="utf-8", errors="backslashreplace", buffering=1)
    except OSError:
        return None


def _install() -> None:
    folder = _logs_dir()
    stream: TextIO | None = None
    if sys.stdout is None or sys.stderr is None:
        stream = _open_console_log(folder)
        if stream is not None:
            # Native code (llama.cpp, Qt) writes to descriptors 1 and 2: make them the log too when
            # they are not open (Windows GUI processes start without them).
            for fd in (1, 2):
                if not _descriptor_usable(fd):
                    os.dup2(stream.fileno(), fd)
            if sys.stdout is None:
                sys.stdout = stream
            if sys.stderr is None:
                sys.stderr = stream
    try:
        folder.mkdir(parents=True, exist_ok=True)
        faults = open(folder / "faults.log", "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    except OSError:
        return
    faulthandler.enable(faults)
    sys._hushdocs_early_faults = faults  # type: ignore[attr-defined]  # keep the handle alive


_install()
