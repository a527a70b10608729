"""Open files that must be regular files, never blocking on a named pipe or a device.

``open()`` on a FIFO waits for a writer for ever, and a character device can stream without end. The
scanner reports such entries by name; this is the second line for one that turns up between the scan
and the read: open without blocking, check what was opened, refuse anything but a regular file.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))


class NotRegularFileError(OSError):
    """What was opened is not a regular file; the message says what it is."""


def not_regular_reason(mode: int) -> str | None:
    """"not a regular file (a named pipe)" and the like, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"not a regular file ({kind})"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``open(path, "rb")`` for a regular file; NotRegularFileError for anything else, at once."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        reason = not_regular_reason(os.fstat(fd).st_mode)
        if reason is not None:
            raise NotRegularFileError(reason)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
