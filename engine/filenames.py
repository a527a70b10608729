"""File names that are not valid UTF-8, which Linux file systems allow (``printf 'bad\\xff.txt'``).

Python hands such a name over as a ``str`` holding lone surrogates (PEP 383: ``os.fsdecode``), which
opens the file fine but cannot be written as SQLite TEXT. The index stores such a path as its raw
bytes (a BLOB in the same column; SQLite keeps the type per value) and turns it back into the same
``str`` when reading, so the file is found, compared and followed like any other. Every other path
stays TEXT, as before.
"""

from __future__ import annotations

import os


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_db(path: str) -> str | bytes:
    """What the database stores for ``path``: the text itself, or its bytes when it is not valid UTF-8."""
    return path if is_utf8(path) else os.fsencode(path)


def from_db(value: str | bytes) -> str:
    """The path ``to_db`` stored."""
    return os.fsdecode(value) if isinstance(value, bytes) else str(value)


def printable(text: str) -> str:
    """``text`` with undecodable bytes written as ``\\xff``: safe to print, show or store as TEXT."""
    if is_utf8(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
