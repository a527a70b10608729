"""Known, environmental errors: each carries a message a person can act on.

Anything that is not a ``HushdocsError`` is a bug and goes to the crash handler with a log.
"""

from __future__ import annotations


class HushdocsError(Exception):
    """An error with a plain message for the user; the app goes on after showing it."""


class ModelMissingError(HushdocsError):
    def __init__(self, what: str, path_hint: str = "") -> None:
        hint = f" (looked in {path_hint})" if path_hint else ""
        super().__init__(
            f"The {what} is not installed{hint}. Run `python main.py models install` "
            "(or `python3 bootstrap.py`) to install the bundled models; no download happens at run time."
        )


class ModelLoadError(HushdocsError):
    pass


class ChecksumError(HushdocsError):
    pass


class IndexMismatchError(HushdocsError):
    """The index was built with another embedding model than the one loaded now."""


class DiskFullError(HushdocsError):
    """SQLite could not write (the disk or the database's volume is full); what was committed is intact."""
