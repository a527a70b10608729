"""Indexing jobs and the folder watcher, seen from the UI: one queue, one job at a time, progress as signals.

The watcher's batches of changed paths join the same queue as the person's own work, as re-scans of those
paths: they run in the app's worker pool, so Cancel stops them, closing the window waits for them, and
their errors reach the notice bar. The watcher's own threads never touch the database.

Cancel stops the running job between files (or embedding slices) and holds the queued indexing jobs: the
files the job had not done stay listed as waiting, and Resume reads exactly those, then the held jobs.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from engine.api import DEFAULT_COLLECTION, NEEDS_PASSWORD, Engine, IndexProgress
from ui.library_model import PAUSED, QUEUED, is_under
from ui.workers import Worker, WorkerPool

if TYPE_CHECKING:
    from ui.library_panel import LibraryPanel
    from ui.progress_strip import ProgressStrip


@dataclass(frozen=True)
class Job:
    kind: str  # "add", "sync", "include", "unlock" or "forget"
    paths: tuple[str, ...]
    collection: str | None
    from_watcher: bool = False  # a re-scan of paths the watcher saw change
    resumed: bool = False  # the files a cancelled job left waiting
    password: str = field(default="", repr=False)  # an unlock's: held in memory only, never shown or logged


class IndexingController(QObject):
    """Runs add/re-scan/include/unlock/forget jobs in a worker, queued one after another, and queues the watcher's
    changes."""

    progress = Signal(object)  # IndexProgress of the running job
    library_changed = Signal()  # documents were added, changed or removed: refresh (throttled by the view)
    job_finished = Signal(object)  # the last IndexProgress of a job ("finished" or "cancelled")
    error = Signal(str)
    busy_changed = Signal(bool)
    waiting_changed = Signal(int)  # how many files a cancel left waiting for Resume (0: none)
    password_refused = Signal(str)  # an encrypted document whose given password was not its password
    _watched = Signal(list)  # changed paths: emitted on the watcher's thread, delivered on the UI thread

    def __init__(self, engine: Engine, pool: WorkerPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.pool = pool
        self._queue: deque[Job] = deque()
        self._held: list[Job] = []  # indexing jobs a cancel took out of the queue: Resume puts them back
        self._worker: Worker | None = None
        self._job: Job | None = None
        self._remaining: tuple[str, ...] = ()  # the running job's files not done yet, the current one first
        self._paused: dict[str, None] = {}  # files a cancelled job left, in order
        self.current = ""  # the file being worked on now
        self._watching = False
        self._watched.connect(self.follow_changes)

    # -- what is not indexed yet ------------------------------------------------------------------

    @property
    def pending(self) -> dict[str, str]:
        """Files not indexed yet: path -> ``QUEUED`` (a job will read it) or ``PAUSED`` (waiting for Resume)."""
        rows = dict.fromkeys(self._paused, PAUSED)
        for job in self._queue:
            if job.resumed:
                rows.update(dict.fromkeys(job.paths, QUEUED))
        rows.update(dict.fromkeys(self._remaining, QUEUED))
        return rows

    def waiting(self) -> int:
        """Files a cancel left waiting for Resume."""
        return len(self._paused)

    # -- jobs -----------------------------------------------------------------------------------

    def add(self, paths: Sequence[str], collection: str | None = None) -> None:
        self._enqueue(Job("add", tuple(paths), collection or DEFAULT_COLLECTION))

    def rescan(self, paths: Sequence[str] | None = None, collection: str | None = None) -> None:
        self._enqueue(Job("sync", tuple(paths or ()), collection))

    def include(self, paths: Sequence[str]) -> None:
        """Index again files forgotten inside a followed folder."""
        self._enqueue(Job("include", tuple(paths), None))

    def unlock(self, path: str, password: str) -> None:
        """Read an encrypted document with the password the person gave (kept by the engine for the session)."""
        self._enqueue(Job("unlock", (path,), None, password=password))

    def forget(self, paths: Sequence[str]) -> None:
        for path in [p for p in self._paused if any(is_under(p, target) for target in paths)]:
            del self._paused[path]  # forgotten: no longer waiting
        self.waiting_changed.emit(len(self._paused))
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
        """Stop the running job (the file being indexed stays as it was) and hold the queued indexing jobs: what
        they have not done waits for ``resume``. Queued forgetting still runs."""
        for job in self._queue:
            if job.resumed:
                self._paused.update(dict.fromkeys(job.paths))
            elif job.kind != "forget":
                self._held.append(job)
        self._queue = deque(job for job in self._queue if job.kind == "forget")
        if self._worker is not None:
            self._worker.stop()
        self.waiting_changed.emit(len(self._paused))

    def resume(self) -> None:
        """Index exactly the files a cancel left waiting, then the jobs it held."""
        self._prune_paused()
        held, self._held = self._held, []
        if self._paused:
            paths, self._paused = tuple(self._paused), {}
            self._enqueue(Job("sync", paths, None, resumed=True))
        for job in held:
            self._enqueue(job)
        self.waiting_changed.emit(0)
        self.library_changed.emit()

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
            elif job.kind == "include":
                events = engine.include(list(job.paths), cancel=stop)
            elif job.kind == "unlock":
                events = engine.unlock(job.paths[0], job.password, cancel=stop)
            else:
                events = engine.sync(list(job.paths) or None, job.collection, cancel=stop)
            return _then(events, engine.refresh_watches)

        self.busy_changed.emit(True)
        if job.kind != "forget":
            self.progress.emit(IndexProgress("scanning"))  # shown at once, before the engine's first event
        self._worker = self.pool.start(run, name=f"indexing ({job.kind})", on_item=self._on_progress,
                                       on_error=self.error.emit, on_finished=self._on_worker_finished)

    def _on_worker_finished(self) -> None:
        self._worker = None
        self._remaining = ()
        self.current = ""
        self._prune_paused()
        self.library_changed.emit()
        self._next()

    def _prune_paused(self) -> None:
        """Waiting files deleted since, or no longer in a followed folder, are not waiting any more."""
        roots = [root for collection in self.engine.collections() for root in collection.roots]
        kept = {p: None for p in self._paused if os.path.exists(p) and any(is_under(p, root) for root in roots)}
        if len(kept) != len(self._paused):
            self._paused = kept
            self.waiting_changed.emit(len(kept))

    # -- progress -------------------------------------------------------------------------------

    def _on_progress(self, event: IndexProgress) -> None:
        if event.phase == "indexing":
            self._remaining = event.waiting
            self.current = event.current
        if event.outcome is not None:
            self._paused.pop(event.outcome.path, None)  # read by this job after all
            if self._job is not None and self._job.kind == "unlock" and event.outcome.status == NEEDS_PASSWORD:
                self.password_refused.emit(event.outcome.path)
            self.library_changed.emit()
        if event.phase == "cancelled":
            self._paused.update(dict.fromkeys(event.waiting))
            self.waiting_changed.emit(len(self._paused))
        self.progress.emit(event)
        if event.phase in ("finished", "cancelled"):
            self.current = ""
            self._remaining = ()
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


def connect_views(indexing: IndexingController, library: LibraryPanel, strip: ProgressStrip) -> None:
    """Resume (in the library and the strip), Index again and Enter password… reach the queue; the strip knows
    what waits; a refused password is asked for again once the event that said so is handled."""
    library.resume_requested.connect(indexing.resume)
    strip.resume_requested.connect(indexing.resume)
    library.include_requested.connect(indexing.include)
    library.unlock_requested.connect(indexing.unlock)
    indexing.waiting_changed.connect(strip.set_waiting)
    indexing.password_refused.connect(
        lambda path: QTimer.singleShot(0, lambda: library.enter_password(path, refused=True)))


def _then(events: Iterator[IndexProgress], after: object) -> Iterator[IndexProgress]:
    yield from events
    if callable(after):
        after()
