"""Run the loaders in a child process, so a file that hangs or crashes the parser cannot take the app down.

One long-lived child parses one file at a time. A file gets ``timeout_s`` seconds; past that, or
if the child dies (a segfault inside MuPDF), the child is killed and replaced, and the file is
reported with a reason. ``submit`` returns at once, so the next file parses while this one embeds.

An encrypted file's password travels with its request through the pipe (never in argv, the environment or a
log line); the loader is called with ``password=`` only when one was given.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from engine.ingest.status import FAILED, LoadError
from engine.offline import seal_environment
from engine.records import ParsedDocument

log = logging.getLogger(__name__)


DEFAULT_LOADER = "engine.ingest.loaders:load"


def _import_loader(name: str) -> Callable[..., ParsedDocument]:
    module_name, _, function = name.partition(":")
    loader: Callable[..., ParsedDocument] = getattr(importlib.import_module(module_name), function)
    return loader


def _child_main(connection: Connection, loader_name: str) -> None:
    seal_environment()  # inherited from the parent already; sealed again before the loaders import anything
    load = _import_loader(loader_name)

    while True:
        try:
            request = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if request is None:
            return
        path, max_bytes, password = request
        options = {"password": password} if password else {}
        try:
            connection.send(("ok", load(Path(path), max_bytes=max_bytes, **options)))
        except LoadError as error:
            connection.send(("error", error.status, error.reason))
        except Exception as error:  # noqa: BLE001 - any parser failure is this file's, not the app's
            connection.send(("error", FAILED, f"could not read this file: {type(error).__name__}: {error}"))


class ParserProcess:
    def __init__(self, timeout_s: float = 60.0, max_bytes: int = 200 * 1024 * 1024,
                 loader: str = DEFAULT_LOADER) -> None:
        self.timeout_s = timeout_s
        self.loader = loader  # "module:function", imported in the child
        self.max_bytes = max_bytes
        self._context = multiprocessing.get_context("spawn")  # fork is unsafe beside threads
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._pending: tuple[Path, float] | None = None

    def _start(self) -> Connection:
        if self._process is None or not self._process.is_alive():
            parent, child = self._context.Pipe()
            process = self._context.Process(target=_child_main, args=(child, self.loader), name="hushdocs-parser",
                                            daemon=True)
            process.start()
            child.close()
            self._process, self._connection = process, parent
        assert self._connection is not None
        return self._connection

    def submit(self, path: Path, password: str = "") -> None:
        """Start parsing ``path`` (an encrypted one with ``password``); collect it with ``result`` before the next
        submit."""
        assert self._pending is None, "one file at a time"
        self._start().send((str(path), self.max_bytes, password))
        self._pending = (path, time.monotonic())

    def result(self) -> ParsedDocument:
        """The parsed document of the submitted file, or LoadError with the reason it failed."""
        assert self._pending is not None and self._connection is not None
        path, started = self._pending
        self._pending = None
        remaining = max(0.0, started + self.timeout_s - time.monotonic())
        try:
            ready = self._connection.poll(remaining)
            reply = self._connection.recv() if ready else None
        except (EOFError, OSError):
            self._restart()
            raise LoadError(FAILED, "the document parser crashed on this file (it may be corrupt)") from None
        if reply is None:
            log.warning("parser timed out on %s after %.0f s", path, self.timeout_s)
            self._restart()
            raise LoadError(FAILED, f"reading took longer than {self.timeout_s:.0f} s (the file may be malformed)")
        if reply[0] == "ok":
            document: ParsedDocument = reply[1]
            return document
        raise LoadError(reply[1], reply[2])

    def _restart(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None

    def close(self) -> None:
        if self._connection is not None and self._process is not None and self._process.is_alive():
            try:
                self._connection.send(None)
                self._process.join(2)
            except (OSError, BrokenPipeError):
                pass
        self._pending = None
        self._restart()

    def __enter__(self) -> ParserProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
