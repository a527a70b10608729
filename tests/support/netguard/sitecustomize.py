"""Test environment only: the socket guard for every Python process the test suite starts.

``tests/conftest.py`` puts this folder first on ``PYTHONPATH``, so Python imports this module at
start-up in each subprocess (the CLI runs, the parser child, anything they spawn). Any ``connect``,
``connect_ex`` or ``sendto`` on a socket that is not a Unix socket raises, and is written as one line
to the file named by ``HUSHDOCS_NETGUARD_LOG``: a library that catches the error and carries on
offline is still caught, because the test that started the process fails on the recorded line.

Native code (onnxruntime's telemetry threads) bypasses Python's ``socket``; the syscall-level test in
``tests/test_offline.py`` covers that. No ``sitecustomize`` ships with the interpreters this project
uses, so shadowing one is not a concern; if one did, it would not run under the tests.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from typing import Any

LOG_ENV = "HUSHDOCS_NETGUARD_LOG"


class NetworkAccessError(PermissionError):
    """An attempt to reach the network from a process the tests started."""


def _record(action: str, address: object) -> None:
    log = os.environ.get(LOG_ENV)
    if not log:
        return
    line = f"pid {os.getpid()} {' '.join(sys.argv[:3])!r}: {action} {address!r}\n"
    with open(log, "a", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(line)


def _guarded(action: str, real: Callable[..., Any], address_at: int) -> Callable[..., Any]:
    def guard(self: socket.socket, *args: Any) -> Any:
        if self.family == socket.AF_UNIX:
            return real(self, *args)
        address = args[address_at] if len(args) > address_at else args
        _record(action, address)
        raise NetworkAccessError(f"a network connection was attempted ({action} {address!r}) in a test subprocess")

    return guard


def install() -> None:
    socket.socket.connect = _guarded("connect", socket.socket.connect, 0)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded("connect_ex", socket.socket.connect_ex, 0)  # type: ignore[method-assign]
    # sendto(data, address) or sendto(data, flags, address): the address is the last argument.
    socket.socket.sendto = _guarded("sendto", socket.socket.sendto, -1)  # type: ignore[method-assign]


install()
