"""Logging to the app's log file from the first line, and crash reports for uncaught errors."""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import sys
import threading
from pathlib import Path
from typing import IO, Any

from engine import paths

_fault_file: IO[str] | None = None


def setup_logging(level: int = logging.INFO, console: bool = False) -> Path:
    """Log to ``logs/hushdocs.log`` (rotated); faulthandler writes native crashes there too."""
    global _fault_file
    log_file = paths.log_path()
    root = logging.getLogger()
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8",
                                                       errors="backslashreplace")  # odd file names too
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
        root.addHandler(handler)
    if console and sys.stderr is not None:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.WARNING)
        stream.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        root.addHandler(stream)
    root.setLevel(level)
    # A log line that cannot be written (a full disk) is dropped, not printed as a traceback on stderr.
    logging.raiseExceptions = False
    logging.getLogger("llama.cpp").setLevel(logging.WARNING)
    if _fault_file is None:
        _fault_file = open(paths.logs_dir() / "faults.log", "a", encoding="utf-8")  # noqa: SIM115 - process-long
        faulthandler.enable(_fault_file)
    return log_file


def install_crash_logging() -> None:
    """Uncaught exceptions in any thread are written to the log before the default handling."""
    previous_hook = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        logging.getLogger("crash").critical("uncaught exception", exc_info=(kind, value, tb))
        previous_hook(kind, value, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not None and args.exc_value is not None:
            logging.getLogger("crash").critical(
                "uncaught exception in thread %s", args.thread.name if args.thread else "?",
                exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
            )

    sys.excepthook = hook
    threading.excepthook = thread_hook
