"""The source viewer: the cited page of a PDF with the passage marked, or a text document scrolled to it."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage, QPainter, QPixmap, QResizeEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.api import Citation, HushdocsError, LoadedText, LoadError, RenderedPage, is_paged, load_text, render_page
from ui import theme
from ui.workers import WorkerPool


@dataclass
class Target:
    path: str
    page: int
    passage: str
    start: int
    end: int


class SourceViewer(QWidget):
    shown_source = Signal(object)  # the Target once it is on screen (tests and the status bar use it)
    closed = Signal()
    error = Signal(str)

    def __init__(self, pool: WorkerPool, max_file_bytes: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.max_file_bytes = max_file_bytes
        self.target: Target | None = None
        self.page_count = 0
        self._request = 0
        self._page_image: QImage | None = None  # the rendered page, passage marked, at full resolution
        self._highlight_top = -1.0  # where the passage starts on that image (pixels), -1 when none

        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setWordWrap(True)
        self.page_label = QLabel()
        self.previous = QPushButton("◀")
        self.previous.setToolTip("Previous page")
        self.previous.clicked.connect(lambda: self._turn(-1))
        self.next = QPushButton("▶")
        self.next.setToolTip("Next page")
        self.next.clicked.connect(lambda: self._turn(1))
        self.open_external = QPushButton("Open in default app")
        self.open_external.clicked.connect(self.open_in_default_app)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Close the viewer")
        close.clicked.connect(self._close)

        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.image_scroll = QScrollArea()
        self.image_scroll.setWidget(self.image)
        self.image_scroll.setWidgetResizable(True)
        self.image_scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.stack = QStackedWidget()
        for widget in (self.message, self.image_scroll, self.text):
            self.stack.addWidget(widget)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(close)
        tools = QHBoxLayout()
        tools.addWidget(self.previous)
        tools.addWidget(self.page_label)
        tools.addWidget(self.next)
        tools.addStretch(1)
        tools.addWidget(self.open_external)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(tools)
        layout.addWidget(self.stack, 1)

    # -- showing --------------------------------------------------------------------------------

    def show_citation(self, citation: Citation) -> None:
        """The cited page with exactly the sentences that support the answer marked (the whole passage when
        the citation has no quotes, as in conversations saved before quotes existed)."""
        if citation.quotes:
            passage = " ".join(q.text for q in citation.quotes)
            start, end = citation.quotes[0].start, citation.quotes[-1].end
            page = citation.quotes[0].page or citation.page or 1
        else:
            passage, start, end, page = citation.text, citation.start, citation.end, citation.page or 1
        self.show_target(Target(citation.path, page, passage, start, end))

    def show_document(self, path: str) -> None:
        self.show_target(Target(path, 1, "", 0, 0))

    def show_target(self, target: Target) -> None:
        self.target = target
        self._request += 1
        request = self._request
        self.show()
        self.title.setText(f"<b>{os.path.basename(target.path)}</b>")
        self.title.setToolTip(target.path)
        self.message.setText("Opening…")
        self.stack.setCurrentWidget(self.message)
        paged = is_paged(target.path)
        self.page_label.setText("")
        for widget in (self.previous, self.next, self.page_label):
            widget.setVisible(paged)
        # Rendered generously, then scaled to the viewer's width (which may change) when shown.
        width = int(max(self.image_scroll.viewport().width(), 900) * self.devicePixelRatioF())
        max_bytes = self.max_file_bytes

        def run(_stop: threading.Event) -> RenderedPage | LoadedText:
            if not os.path.isfile(target.path):
                raise HushdocsError(f"{target.path} is no longer there (moved or deleted?).")
            try:
                if paged:
                    return render_page(target.path, target.page, target.passage, width)
                return load_text(target.path, target.start, target.end, max_bytes)
            except LoadError as error:
                raise HushdocsError(f"Cannot show {os.path.basename(target.path)}: {error.reason}") from error

        self.pool.start(run, name="source viewer", on_result=lambda result: self._show(request, result),
                        on_error=lambda message: self._fail(request, message))

    def _show(self, request: int, result: RenderedPage | LoadedText) -> None:
        if request != self._request or self.target is None:
            return  # a later click won
        if isinstance(result, RenderedPage):
            self._show_page(result)
        else:
            self._show_text(result)
        self.shown_source.emit(self.target)

    def _show_page(self, page: RenderedPage) -> None:
        assert self.target is not None
        self.target.page = page.page
        self.page_count = page.page_count
        self.page_label.setText(f"Page {page.page} of {page.page_count}")
        self.previous.setEnabled(page.page > 1)
        self.next.setEnabled(page.page < page.page_count)
        image = QImage(page.samples, page.width, page.height, page.stride, QImage.Format.Format_RGB888).copy()
        if page.highlights:
            painter = QPainter(image)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(theme.highlight(80))
            pad = 2.0
            for x0, y0, x1, y1 in page.highlights:
                painter.drawRoundedRect(QRectF(x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), 3, 3)
            painter.end()
        self._page_image = image
        self._highlight_top = min((y0 for _x0, y0, _x1, _y1 in page.highlights), default=-1.0)
        self.stack.setCurrentWidget(self.image_scroll)
        self._fit_page()

    def _fit_page(self) -> None:
        """Show the page image as wide as the viewer, sharp at the screen's pixel density."""
        image = self._page_image
        if image is None:
            return
        ratio = self.devicePixelRatioF()
        width = max(self.image_scroll.viewport().width() - 2, 200)
        scaled = image.scaledToWidth(int(width * ratio), Qt.TransformationMode.SmoothTransformation)
        pixmap = QPixmap.fromImage(scaled)
        pixmap.setDevicePixelRatio(ratio)
        self.image.setPixmap(pixmap)
        scale = scaled.width() / max(image.width(), 1) / ratio
        top = self._highlight_top * scale if self._highlight_top >= 0 else 0.0
        # The scroll range follows the new pixmap on the next layout pass: scroll after it.
        QTimer.singleShot(0, self, lambda: self.image_scroll.verticalScrollBar().setValue(max(0, int(top) - 60)))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._page_image is not None and self.stack.currentWidget() is self.image_scroll:
            self._fit_page()

    def _show_text(self, loaded: LoadedText) -> None:
        self.text.setPlainText(loaded.text)
        self.stack.setCurrentWidget(self.text)
        if loaded.end > loaded.start:
            cursor = QTextCursor(self.text.document())
            cursor.setPosition(loaded.start)
            cursor.setPosition(loaded.end, QTextCursor.MoveMode.KeepAnchor)
            selection = QTextEdit.ExtraSelection()
            selection.cursor = cursor
            fmt = QTextCharFormat()
            fmt.setBackground(theme.passage_background())
            selection.format = fmt
            self.text.setExtraSelections([selection])
            caret = QTextCursor(self.text.document())
            caret.setPosition(loaded.start)
            self.text.setTextCursor(caret)
            self.text.centerCursor()
        else:
            self.text.setExtraSelections([])
            self.text.moveCursor(QTextCursor.MoveOperation.Start)

    def _fail(self, request: int, message: str) -> None:
        if request != self._request:
            return
        self.message.setText(message)
        self.stack.setCurrentWidget(self.message)
        self._page_image = None
        for widget in (self.previous, self.next, self.page_label):
            widget.hide()  # nothing to page through
        self.error.emit(message)

    def selected_passage(self) -> str:
        """The highlighted text of a text document (tests check it is the cited passage)."""
        selections = self.text.extraSelections()
        return selections[0].cursor.selectedText().replace("\u2029", "\n") if selections else ""

    # -- actions --------------------------------------------------------------------------------

    def _turn(self, step: int) -> None:
        if self.target is None:
            return
        page = self.target.page + step
        if 1 <= page <= max(self.page_count, 1):
            self.show_target(Target(self.target.path, page, self.target.passage, self.target.start, self.target.end))

    def open_in_default_app(self) -> None:
        if self.target is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.target.path))

    def _close(self) -> None:
        self.hide()
        self.closed.emit()
