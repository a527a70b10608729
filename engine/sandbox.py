"""A long-lived child process that runs one call at a time under a time limit: the sandbox for untrusted files.

The parser (``engine/ingest/parser_process.py``) and the viewer's renderer (``engine/render_process.py``)
both hand a document to MuPDF or a loader here, so a file that crashes or hangs the library costs one
call, never the app. The function runs in the child, named ``"module:function"`` (tests name a
misbehaving one). A ``LoadError`` it raises comes back as itself; any other exception comes back as a
``LoadError`` naming it. Past the time limit, or if the child dies, the child is killed and the next
call starts a fresh one. The time limit counts from when the child is ready: starting Python and
importing MuPDF can take seconds on a busy machine, and that is not the file's fault.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from engine.ingest.status import FAILED, LoadError
from engine.offline import seal_environment, seal_network

log = logging.getLogger(__name__)

_POLL_S = 0.05  # how often a wait looks at its cancel flag
STARTUP_LIMIT_S = 120.0  # a child that cannot even import its function in this long is killed
_READY = ("ready",)


class ChildCrashError(Exception):
    """The child died during the call (a segfault or an abort inside the library)."""


class ChildTimeoutError(Exception):
    """The call ran past its time limit; the child was killed."""


class CallCancelledError(Exception):
    """The caller gave up on the call (it was superseded, or the app is closing)."""


def _import_function(name: str) -> Callable[..., Any]:
    module_name, _, function = name.partition(":")
    target: Callable[..., Any] = getattr(importlib.import_module(module_name), function)
    return target


def _child_main(connection: Connection, function_name: str) -> None:
    seal_environment()  # inherited from the parent already; sealed again before the libraries import anything
    seal_network()  # a parser or renderer has no server to reach
    function = _import_function(function_name)
    connection.send(_READY)
    while True:
        try:
            request = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if request is None:
            return
        args, kwargs = request
        try:
            connection.send(("ok", function(*args, **kwargs)))
        except LoadError as error:
            connection.send(("error", error.status, error.reason))
        except Exception as error:  # noqa: BLE001 - any failure is this file's, not the app's
            connection.send(("error", FAILED, f"could not read this file: {type(error).__name__}: {error}"))


class SandboxProcess:
    """One child running ``function``: ``submit`` a call, then collect it with ``result``."""

    def __init__(self, function: str, *, name: str, timeout_s: float) -> None:
        self.function = function
        self.name = name
        self.timeout_s = timeout_s
        self._context = multiprocessing.get_context("spawn")  # fork is unsafe beside threads
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._started_at: float | None = None  # when the pending call was sent (or the child became ready)
        self._ready = False  # the child has imported its function

    def start(self) -> Connection:
        """The running child's end of the pipe, starting a child if there is none."""
        if self._process is None or not self._process.is_alive():
            self._discard()
            parent, child = self._context.Pipe()
            process = self._context.Process(target=_child_main, args=(child, self.function), name=self.name,
                                            daemon=True)
            process.start()
            child.close()
            self._process, self._connection, self._ready = process, parent, False
        assert self._connection is not None
        return self._connection

    def submit(self, *args: Any, **kwargs: Any) -> None:
        assert self._started_at is None, "one call at a time"
        self.start().send((args, kwargs))
        self._started_at = time.monotonic()

    def result(self, cancel: threading.Event | None = None, patience_s: float = 0.0) -> Any:
        """The pending call's return value, or its ``LoadError``.

        Raises ``ChildCrashError`` or ``ChildTimeoutError`` (the child is gone then), or ``CallCancelledError`` once
        ``cancel`` is set and the call has run ``patience_s`` (a call that is nearly done is let finish,
        so a quickly superseded call does not cost a new child).
        """
        assert self._started_at is not None and self._connection is not None
        started, self._started_at = self._started_at, None
        connection = self._connection
        try:
            while True:
                limit = self.timeout_s if self._ready else STARTUP_LIMIT_S
                deadline = started + limit
                if connection.poll(max(0.0, min(_POLL_S, deadline - time.monotonic()))):
                    reply = connection.recv()
                    if reply != _READY:
                        break
                    self._ready, started = True, time.monotonic()  # the call's own time starts now
                    continue
                now = time.monotonic()
                if now >= deadline:
                    log.warning("%s timed out after %.0f s", self.name, limit)
                    self._discard()
                    raise ChildTimeoutError
                if cancel is not None and cancel.is_set() and now - started >= patience_s:
                    self._discard()
                    raise CallCancelledError
        except (EOFError, OSError):
            self._discard()
            raise ChildCrashError from None
        if reply[0] == "ok":
            return reply[1]
        raise LoadError(reply[1], reply[2])

    def _discard(self) -> None:
        """Kill the child (if any) and forget it; the next call starts another."""
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None
        self._started_at = None

    def close(self) -> None:
        """Ask the child to exit (it finishes nothing pending), then make sure it is gone."""
        if self._connection is not None and self._process is not None and self._process.is_alive():
            try:
                self._connection.send(None)
                self._process.join(2)
            except OSError:
                pass
        self._discard()
