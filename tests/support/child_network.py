"""The subprocess side of the network guard: every Python process the tests start runs
``tests/support/netguard/sitecustomize.py``, which records each attempt in one log file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

GUARD_DIR = Path(__file__).resolve().parent / "netguard"
LOG_ENV = "HUSHDOCS_NETGUARD_LOG"


def install() -> None:
    """Guard every subprocess started from now on (``PYTHONPATH`` and the log file go into the environment)."""
    if LOG_ENV not in os.environ:
        os.environ[LOG_ENV] = str(Path(tempfile.mkdtemp(prefix="hushdocs-netguard-")) / "attempts.log")
    entries = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(GUARD_DIR) not in entries:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD_DIR), *entries]))


class ChildNetworkLog:
    """The attempts the subprocess guard recorded."""

    def take(self) -> list[str]:
        """The recorded lines, cleared: a test that provokes an attempt on purpose takes it."""
        log = Path(os.environ[LOG_ENV])
        try:
            lines = log.read_text("utf-8").splitlines()
        except FileNotFoundError:
            return []
        log.unlink()
        return lines
