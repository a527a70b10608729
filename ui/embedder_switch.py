"""Switching the search (embedding) model from the window: the re-embedding runs in a worker, its progress and a
Cancel button sit in the status bar, and a switch that was stopped (Cancel, or the app closed) goes on at the
next start. The engine keeps the index on one model throughout: searches use the old one until the last chunk
has its new vector.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from engine.api import Engine, HushdocsError, ReembedProgress, embedding_model, format_duration
from ui.workers import Worker, WorkerPool

log = logging.getLogger(__name__)


class EmbedderSwitch(QObject):
    """One switch at a time; asking for another model while one runs stops it and starts the new one after."""

    started = Signal(str)  # the model being switched to
    progress = Signal(object)  # ReembedProgress
    ended = Signal(str, object)  # the model, its last ReembedProgress (None if it never started); finished or not
    error = Signal(str)

    def __init__(self, engine: Engine, pool: WorkerPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.pool = pool
        self._worker: Worker | None = None
        self._target: str | None = None
        self._next: str | None = None
        self._last: ReembedProgress | None = None

    def target(self) -> str | None:
        """The model a running switch embeds with."""
        return self._target

    def start(self, name: str) -> None:
        if name == self._target:
            self._next = None  # the running switch is the one wanted after all
            return
        if self._worker is not None:
            self._next = name
            self._worker.stop()
            return
        self._target, self._last = name, None
        engine = self.engine

        def run(stop: threading.Event) -> Iterator[ReembedProgress]:
            return engine.switch_embedder(name, cancel=stop)

        self.started.emit(name)
        self._worker = self.pool.start(run, name="search model switch", on_item=self._on_progress,
                                       on_error=self.error.emit, on_finished=self._on_finished)

    def cancel(self) -> None:
        """Stop after the batch being embedded; what was embedded is kept for the next start."""
        self._next = None
        if self._worker is not None:
            self._worker.stop()

    def resume_stopped(self) -> None:
        """Go on with a switch an earlier run of the app did not finish."""
        try:
            target = self.engine.embedding_state().target
        except HushdocsError as error:  # a library that cannot switch models has no switch to go on with
            log.info("no search model switch to resume: %s", error)
            return
        if target is not None:
            self.start(target)

    def _on_progress(self, step: ReembedProgress) -> None:
        self._last = step
        self.progress.emit(step)

    def _on_finished(self) -> None:
        name, last = self._target or "", self._last
        self._worker, self._target = None, None
        self.ended.emit(name, last)
        if self._next is not None:
            queued, self._next = self._next, None
            self.start(queued)


class SwitchStatus(QWidget):
    """The status bar's part: what is being re-embedded, how far, the time left, and Cancel; after the end, a
    few seconds of what happened (or, stopped, that it goes on at the next start)."""

    cancel_requested = Signal()
    SHOWN_AFTER_END_MS = 8000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop re-embedding; search goes on with the model in use, and the switch goes on "
                               "at the next start")
        self.cancel.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        self._label = ""
        self._started_at = 0.0
        self._first_done: int | None = None
        self._hide_timer = QTimer(self)
        self._hide_timer.setSingleShot(True)
        self._hide_timer.setInterval(self.SHOWN_AFTER_END_MS)
        self._hide_timer.timeout.connect(self.hide)
        self.hide()

    def begin(self, name: str) -> None:
        self._label = embedding_model(name).label
        self._started_at, self._first_done = time.monotonic(), None
        self._hide_timer.stop()
        self.label.setText(f"Search model: preparing {self._label}…")
        self.bar.setRange(0, 0)
        self.bar.show()
        self.cancel.show()
        self.show()

    def update_progress(self, step: ReembedProgress) -> None:
        if step.finished:
            return  # ``end`` says it
        if self._first_done is None:
            self._first_done, self._started_at = step.done, time.monotonic()
        self.label.setText(f"Search model: re-embedding for {self._label}, {step.done:,} of {step.total:,} "
                           f"passages{self._time_left(step)}")
        self.bar.setRange(0, max(step.total, 1))
        self.bar.setValue(step.done)

    def _time_left(self, step: ReembedProgress) -> str:
        elapsed = time.monotonic() - self._started_at
        embedded = step.done - (self._first_done or 0)
        if embedded <= 0 or elapsed <= 0:
            return " · estimating time…"
        return f" · about {format_duration((step.total - step.done) * elapsed / embedded)} left"

    def end(self, name: str, last: ReembedProgress | None) -> None:
        label = embedding_model(name).label if name else self._label
        if last is not None and last.finished:
            self.label.setText(f"Search now uses {label} ({last.total:,} passages).")
        elif last is not None:
            self.label.setText(f"Search model switch stopped at {last.done:,} of {last.total:,} passages: it goes on "
                               "at the next start (or choose it again in Settings).")
        else:
            self.label.setText(f"Search model: {label} was not switched to.")
        self.bar.hide()
        self.cancel.hide()
        self._hide_timer.start()
