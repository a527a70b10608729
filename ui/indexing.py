"""Indexing jobs and the folder watcher, seen from the UI: one queue, one job at a time, progress as signals.

The watcher's batches of changed paths join the same queue as the person's own work, as re-scans of those
paths: they run in the app's worker pool, so Cancel stops them, closing the window waits for them, and
their errors reach the notice bar. The watcher's own threads never touch the database.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from engine.api import DEFAULT_COLLECTION, Engine, IndexProgress
from ui.workers import Worker, WorkerPool


@dataclass(frozen=True)
class Job:
    kind: str  # "add", "sync" or "forget"
    paths: tuple[str, ...]
    collection: str | None
    from_watcher: bool = False  # a re-scan of paths the watcher saw change


class IndexingController(QObject):
    """Runs add/re-scan/forget jobs in a worker, queued one after another, and queues the watcher's changes."""

    progress = Signal(object)  # IndexProgress of the running job
    library_changed = Signal()  # documents were added, changed or removed: refresh (throttled by the view)
    job_finished = Signal(object)  # the last IndexProgress of a job ("finished" or "cancelled")
    error = Signal(str)
    busy_changed = Signal(bool)
    _watched = Signal(list)  # changed paths: emitted on the watcher's thread, delivered on the UI thread

    def __init__(self, engine: Engine, pool: WorkerPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.pool = pool
        self._queue: deque[Job] = deque()
        self._worker: Worker | None = None
        self._job: Job | None = None
        self.pending: dict[str, str] = {}  # path -> collection, files the running job has not done yet
        self.current = ""
        self._watching = False
        self._watched.connect(self.follow_changes)

    # -- jobs -----------------------------------------------------------------------------------

    def add(self, paths: Sequence[str], collection: str | None = None) -> None:
        self._enqueue(Job("add", tuple(paths), collection or DEFAULT_COLLECTION))

    def rescan(self, paths: Sequence[str] | None = None, collection: str | None = None) -> None:
        self._enqueue(Job("sync", tuple(paths or ()), collection))

    def forget(self, paths: Sequence[str]) -> None:
        self._enqueue(Job("forget", tuple(paths), None))

    def follow_changes(self, paths: Sequence[str]) -> None:
        """Re-scan paths the watcher saw change; a watcher re-scan still waiting in the queue takes them in."""
        if not self._watching:  # a batch delivered after the watcher stopped (the window is closing)
            return
        if self._queue and self._queue[-1].from_watcher:
            waiting = self._queue.pop()
            paths = sorted({*waiting.paths, *paths})
        self._enqueue(Job("sync", tuple(paths), None, from_watcher=True))

    def cancel(self) -> None:
        """Stop the running job (the file being indexed stays as it was) and drop the queued ones."""
        self._queue.clear()
        if self._worker is not None:
            self._worker.stop()

    def is_busy(self) -> bool:
        return self._worker is not None

    def _enqueue(self, job: Job) -> None:
        self._queue.append(job)
        if self._worker is None:
            self._next()

    def _next(self) -> None:
        if not self._queue:
            self._job = None
            self.busy_changed.emit(False)
            return
        job = self._job = self._queue.popleft()
        engine = self.engine

        def run(stop: threading.Event) -> Iterator[IndexProgress] | int:
            if job.kind == "forget":
                removed = engine.forget(list(job.paths))
                engine.refresh_watches()
                return removed
            if job.kind == "add":
                events = engine.index(list(job.paths), job.collection or DEFAULT_COLLECTION, cancel=stop)
            else:
                events = engine.sync(list(job.paths) or None, job.collection, cancel=stop)
            return _then(events, engine.refresh_watches)

        self.busy_changed.emit(True)
        self._worker = self.pool.start(run, name=f"indexing ({job.kind})", on_item=self._on_progress,
                                       on_error=self.error.emit, on_finished=self._on_worker_finished)

    def _on_worker_finished(self) -> None:
        self._worker = None
        self.pending.clear()
        self.current = ""
        self.library_changed.emit()
        self._next()

    # -- progress -------------------------------------------------------------------------------

    def _on_progress(self, event: IndexProgress) -> None:
        if event.phase == "indexing" and self._job is not None:
            # Files are indexed in the order queued: those past files_done are still to come.
            owner = self._job.collection if self._job and self._job.collection else ""
            remaining = event.queued[event.files_done:]
            self.pending = dict.fromkeys(remaining, owner)
            self.current = remaining[0] if remaining else ""
        if event.outcome is not None:
            self.pending.pop(event.outcome.path, None)
            self.library_changed.emit()
        self.progress.emit(event)
        if event.phase in ("finished", "cancelled"):
            self.current = ""
            self.pending.clear()
            self.library_changed.emit()
            self.job_finished.emit(event)

    # -- watcher --------------------------------------------------------------------------------

    def start_watching(self) -> None:
        # The callback runs on the watcher's thread: a signal hands each batch to the UI thread.
        self._watching = True
        self.engine.start_watching(on_changes=self._watched.emit)

    def stop_watching(self) -> None:
        self._watching = False
        self.engine.stop_watching()


def _then(events: Iterator[IndexProgress], after: object) -> Iterator[IndexProgress]:
    yield from events
    if callable(after):
        after()
