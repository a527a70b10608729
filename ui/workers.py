"""Run engine work off the UI thread (superqt-style workers: a QRunnable plus a signals QObject).

A worker never touches a widget: it only emits signals, which Qt queues to the UI thread because the
signals object lives there. ``stop()`` sets a ``threading.Event`` that the engine generators check
between yields, so cancelling is an ordinary outcome, not an error. When a worker's work ends, the
pool's ``on_thread_end`` runs on that thread (the app closes the thread's database connection there).

Database writes the person makes (saving a message, renaming, deleting) are operations for ``OpRunner``
(Anki's ``CollectionOp``): they run on its one thread in the order asked, and each announces what it
changed (``Changes``) once done; the panels refresh from that announcement.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from engine.api import HushdocsError

log = logging.getLogger(__name__)
Result = TypeVar("Result")


class WorkerSignals(QObject):
    yielded = Signal(object)  # one item of a generator
    returned = Signal(object)  # the result of a function (None for a generator)
    failed = Signal(str)  # a known error's message (HushdocsError): show it, carry on
    crashed = Signal(str)  # an unexpected error's traceback: a bug, logged and shown as a crash
    finished = Signal()  # always last, whatever happened


class Worker(QRunnable):
    """Calls ``function(stop_event)``; if it returns an iterator, each item is emitted as ``yielded``."""

    def __init__(self, function: Callable[[threading.Event], Any], name: str = "worker",
                 on_end: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python keeps the reference; Qt must not delete it under us
        self.function = function
        self.name = name
        self.on_end = on_end
        self.stop_event = threading.Event()
        self.signals = WorkerSignals()
        self.done = threading.Event()

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        try:
            result = self.function(self.stop_event)
            if isinstance(result, Iterator):
                for item in result:
                    self.signals.yielded.emit(item)
                result = None
            self.signals.returned.emit(result)
        except HushdocsError as error:
            log.warning("%s: %s", self.name, error)
            self.signals.failed.emit(str(error))
        except Exception:  # noqa: BLE001 - a bug: logged with its traceback and shown, never swallowed
            text = traceback.format_exc()
            logging.getLogger("crash").critical("uncaught exception in %s\n%s", self.name, text)
            self.signals.crashed.emit(text)
        finally:
            self._end()
            self.done.set()
            self.signals.finished.emit()

    def _end(self) -> None:
        if self.on_end is None:
            return
        try:
            self.on_end()
        except Exception:  # releasing must not hide the work's own outcome
            log.exception("%s: releasing the thread's resources failed", self.name)


class WorkerPool(QObject):
    """The app's own thread pool: it knows its workers, so closing stops and waits for all of them."""

    crashed = Signal(str)

    def __init__(self, parent: QObject | None = None, max_threads: int = 6,
                 on_thread_end: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        self._on_thread_end = on_thread_end
        self._pool = QThreadPool(self)
        # Indexing (the person's jobs and the watcher's, one at a time), model loading, an answer and page rendering
        # may all run at once.
        self._pool.setMaxThreadCount(max_threads)
        self._workers: set[Worker] = set()

    def start(self, function: Callable[[threading.Event], Any], *, name: str = "worker",
              on_item: Callable[[Any], None] | None = None, on_result: Callable[[Any], None] | None = None,
              on_error: Callable[[str], None] | None = None,
              on_finished: Callable[[], None] | None = None) -> Worker:
        worker = Worker(function, name, self._on_thread_end)
        if on_item is not None:
            worker.signals.yielded.connect(on_item)
        if on_result is not None:
            worker.signals.returned.connect(on_result)
        if on_error is not None:
            worker.signals.failed.connect(on_error)
        worker.signals.crashed.connect(self.crashed)
        if on_finished is not None:
            worker.signals.finished.connect(on_finished)
        worker.signals.finished.connect(lambda: self._workers.discard(worker))
        self._workers.add(worker)
        self._pool.start(worker)
        return worker

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop every worker and wait for the threads (called at close, before the engine closes)."""
        for worker in list(self._workers):
            worker.stop()
            worker.signals.blockSignals(True)  # nothing may reach widgets that are closing
        return bool(self._pool.waitForDone(timeout_ms))

    def running(self) -> list[str]:
        """The names of the workers whose work has not ended (what a shutdown is still waiting for)."""
        return sorted(worker.name for worker in self._workers if not worker.done.is_set())


class Throttle(QObject):
    """Calls ``callback`` at most every ``interval_ms`` (~10 Hz): the first call soon, the last call always."""

    def __init__(self, callback: Callable[[], None], interval_ms: int = 100, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._callback = callback
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._fire)

    def __call__(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self._fire()

    def _fire(self) -> None:
        self._callback()


@dataclass(frozen=True)
class Changes:
    """What a finished operation changed (Anki's ``OpChanges``): each panel refreshes what concerns it."""

    conversation_list: bool = False  # conversations created, renamed, deleted or reordered (a new message)
    conversation_id: int | None = None  # the conversation whose messages, title or collections changed


class OpRunner(QObject):
    """Writes off the GUI thread, one at a time in the order asked (a write never overtakes an earlier one).

    ``run`` returns at once; when the operation is done, ``changed`` announces its ``Changes``, then its own
    ``on_done`` gets the result; a failed write is reported by ``failed`` (or ``crashed``) and changed nothing.
    Closing waits for every queued write: none is dropped.
    """

    changed = Signal(object)  # Changes
    failed = Signal(str)  # a known error's message (a full disk): shown; nothing else was changed
    crashed = Signal(str)  # a bug's traceback

    def __init__(self, parent: QObject | None = None, on_thread_end: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        self._pool = WorkerPool(self, max_threads=1, on_thread_end=on_thread_end)
        self._pool.crashed.connect(self.crashed)

    def run(self, operation: Callable[[], Result], changes: Changes | Callable[[Result], Changes], *,
            on_done: Callable[[Result], None] | None = None, on_finished: Callable[[], None] | None = None,
            name: str = "operation") -> None:
        """``on_done`` gets the result of a write that succeeded; ``on_finished`` is called after any outcome."""
        def done(result: Result) -> None:
            self.changed.emit(changes(result) if callable(changes) else changes)
            if on_done is not None:
                on_done(result)

        self._pool.start(lambda _stop: operation(), name=name, on_result=done, on_error=self.failed.emit,
                         on_finished=on_finished)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Wait for the queued writes (they run to the end; their announcements are no longer sent)."""
        return self._pool.shutdown(timeout_ms)
