"""The watcher's syncs when no caller queues them itself (the command line's `watch`, the tests).

The app queues each batch of changed paths with the person's own indexing work (``ui/indexing.py``);
without one, ``Engine.start_watching`` hands the batches to a ``SyncQueue``: one thread runs them one
after another, batches that arrive meanwhile are merged, and ``stop`` cancels the running sync between
files, drops what waits and joins the thread. The watcher's own threads never touch the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

SyncRun = Callable[[list[str], threading.Event], None]


class SyncQueue:
    """Runs ``run(paths, cancel)`` for each batch of ``put`` paths on one thread of its own, in order."""

    def __init__(self, run: SyncRun, on_error: Callable[[Exception], None], name: str = "watcher sync") -> None:
        self._run = run
        self._on_error = on_error
        self._name = name
        self._pending: set[str] = set()
        self._condition = threading.Condition()
        self._cancel = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def put(self, paths: Iterable[str]) -> None:
        """Queue a sync of ``paths`` (merged with any batch still waiting); ignored once stopped."""
        with self._condition:
            if self._stopping:
                return
            self._pending.update(paths)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._condition.notify()

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Cancel the running sync, drop waiting batches and join the thread; False if it did not end in time."""
        with self._condition:
            self._stopping = True
            self._pending.clear()
            self._cancel.set()
            self._condition.notify()
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    def _loop(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                batch, self._pending = sorted(self._pending), set()
            try:
                self._run(batch, self._cancel)
            except Exception as error:  # noqa: BLE001 - reported to the owner; the next batch still runs
                self._on_error(error)
