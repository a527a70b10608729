"""Indexing progress in the window: files, chunks, the current file, time left, and Cancel."""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from engine.api import IndexProgress, format_duration
from ui.workers import Throttle


def describe(event: IndexProgress) -> str:
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
        return f"{head}: {', '.join(parts)}."
    text = f"Indexing {event.files_done} of {event.files_total} files · {event.chunks_done} chunks"
    if event.current:
        text += f" · {os.path.basename(event.current)}"
        if event.current_chunks_total:  # a big file: how far into it
            text += f" ({event.current_fraction:.0%})"
    eta = event.eta_s
    if eta is not None:
        text += f" · about {format_duration(eta)} left"
    return text


class ProgressStrip(QWidget):
    """Hidden when idle; shown while a job runs; shows the summary for a few seconds after it ends."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(220)
        self.bar.setTextVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop indexing; files done so far stay indexed")
        self.cancel.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        layout.addWidget(self.bar)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.cancel)
        self._latest: IndexProgress | None = None
        self._throttle = Throttle(self._render, 100, self)
        self._hide_timer = QTimer(self)
        self._hide_timer.setSingleShot(True)
        self._hide_timer.setInterval(6000)
        self._hide_timer.timeout.connect(self.hide)
        self.hide()

    def update_progress(self, event: IndexProgress) -> None:
        self._latest = event
        if event.phase in ("finished", "cancelled"):
            self._throttle.flush()
            self._render()
        else:
            self._throttle()

    def _render(self) -> None:
        event = self._latest
        if event is None:
            return
        done = event.phase in ("finished", "cancelled")
        if done and not event.files_total and not any(event.summary.get(k) for k in ("removed", "moved", "failed")):
            self.hide()  # a re-scan that found nothing to do says nothing
            return
        self._hide_timer.stop()
        self.show()
        self.label.setText(describe(event))
        self.label.setToolTip(event.current)
        self.cancel.setVisible(not done)
        if done:
            self.bar.setRange(0, 1)
            self.bar.setValue(1)
            self._hide_timer.start()
        elif event.files_total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * event.fraction))
        else:
            self.bar.setRange(0, 0)  # busy indicator while scanning
