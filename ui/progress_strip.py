"""Indexing progress in the window: files done, the file being worked on now, time left, Cancel and Resume.

The bar counts files, and inside the current file its pages or chunks once it is parsed. The time left appears
only once the engine has seen enough of the run to estimate it. After Cancel the strip stays, with the files
left waiting and a Resume button, until they are resumed.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from engine.api import IndexProgress, format_duration
from ui.workers import Throttle

BAR_STEPS = 1000


def describe(event: IndexProgress, waiting: int = 0) -> str:
    """The strip's sentence for ``event``; ``waiting``: the files a cancel left for Resume."""
    if event.phase == "scanning":
        return "Looking for documents…"
    if event.phase in ("finished", "cancelled"):
        s = event.summary
        parts = [f"{s.get('indexed', 0)} indexed"]
        for key, label in (("moved", "moved"), ("removed", "removed"), ("failed", "not indexed"),
                           ("unchanged", "unchanged")):
            if s.get(key):
                parts.append(f"{s[key]} {label}")
        head = "Indexing cancelled" if event.phase == "cancelled" else "Indexing finished"
        rest = f" {waiting} file{'s' if waiting != 1 else ''} waiting: Resume goes on with them." if waiting else ""
        return f"{head}: {', '.join(parts)}.{rest}"
    text = f"Indexing {event.files_done} of {event.files_total} file{'s' if event.files_total != 1 else ''}"
    if event.current:
        text += f" · {_what(event)}"
    if event.files_total:
        text += f" · about {format_duration(event.eta_s)} left" if event.eta_s is not None else " · estimating time…"
    return text


def _what(event: IndexProgress) -> str:
    """What happens to the current file: read, or how far its embedding has gone (its page, or a share)."""
    name = os.path.basename(event.current)
    if event.stage == "reading":
        return f"reading {name}"
    if event.current_pages > 1 and event.current_page:
        return f"{name}, page {event.current_page} of {event.current_pages}"
    if event.current_pages > 1:
        return f"{name} ({event.current_pages} pages)"
    if event.current_chunks_total:
        return f"{name} ({event.current_fraction:.0%})"
    return name


class ProgressStrip(QWidget):
    """Hidden when idle; shown while a job runs; shows the summary for a few seconds after it ends, or, after a
    cancel, until the waiting files are resumed."""

    cancel_requested = Signal()
    resume_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(220)
        self.bar.setTextVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop indexing; files done so far stay indexed, the rest waits for Resume")
        self.cancel.clicked.connect(self.cancel_requested)
        self.resume = QPushButton("Resume")
        self.resume.setToolTip("Index the files that were waiting when indexing was cancelled")
        self.resume.clicked.connect(self.resume_requested)
        self.resume.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        layout.addWidget(self.bar)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.cancel)
        layout.addWidget(self.resume)
        self._latest: IndexProgress | None = None
        self._waiting = 0
        self._throttle = Throttle(self._render, 100, self)
        self._hide_timer = QTimer(self)
        self._hide_timer.setSingleShot(True)
        self._hide_timer.setInterval(6000)
        self._hide_timer.timeout.connect(self.hide)
        self.hide()

    def update_progress(self, event: IndexProgress) -> None:
        self._latest = event
        if event.phase in ("finished", "cancelled", "scanning"):
            self._throttle.flush()
            self._render()
        else:
            self._throttle()

    def set_waiting(self, count: int) -> None:
        """How many files a cancel left for Resume (0 once resumed or gone)."""
        self._waiting = count
        self._render()

    def _render(self) -> None:
        event = self._latest
        if event is None:
            return
        done = event.phase in ("finished", "cancelled")
        paused = done and self._waiting > 0
        if not paused and done and not event.files_total and not any(
                event.summary.get(k) for k in ("removed", "moved", "failed")):
            self.hide()  # a re-scan that found nothing to do says nothing
            return
        self._hide_timer.stop()
        self.show()
        self.label.setText(describe(event, self._waiting))
        self.label.setToolTip(event.current)
        self.cancel.setVisible(not done)
        self.resume.setVisible(paused)
        if event.phase == "scanning" or (not done and not event.files_total):
            self.bar.setRange(0, 0)  # busy indicator while looking for documents
            return
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setValue(BAR_STEPS if event.phase == "finished" else int(BAR_STEPS * event.fraction))
        if done and not paused:
            self._hide_timer.start()
