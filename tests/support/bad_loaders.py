"""Loaders that misbehave like a parser on a hostile file: they run in the parser's child process."""

from __future__ import annotations

import os
import time
from pathlib import Path

from engine.ingest.loaders import load
from engine.records import ParsedDocument


def hang_on_poison(path: Path, *, max_bytes: int) -> ParsedDocument:
    """Never returns for a file named like 'poison-hang*'; loads everything else normally."""
    if path.name.startswith("poison-hang"):
        time.sleep(3600)
    if path.name.startswith("poison-crash"):
        os.abort()  # like a segfault inside MuPDF
    return load(path, max_bytes=max_bytes)


def deny_secret_files(path: Path, *, max_bytes: int) -> ParsedDocument:
    """As root, chmod cannot make a file unreadable: fail the open the way the kernel would for a user."""
    if path.name.startswith("secret"):
        from unittest import mock

        real_open = os.open  # what the loaders open files with (engine.ingest.regular.open_regular)

        def denied(file: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
            if str(file) == str(path):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, flags, mode, dir_fd=dir_fd)

        with mock.patch("os.open", denied):
            return load(path, max_bytes=max_bytes)
    return load(path, max_bytes=max_bytes)
