"""The evidence behind a citation marker: on hover over [n], the sentences it quotes and a small picture of the
cited page with them marked.

Thumbnails are rendered off the GUI thread, by a render child of their own (``RenderProcess``: MuPDF never
runs in the app process, and a file that crashes or hangs it costs only its thumbnail), and kept for the
session, so a second hover over the same citation shows its page at once.
"""

from __future__ import annotations

import html
import os
from collections import OrderedDict
from collections.abc import Mapping

from PySide6.QtCore import QObject, QPoint, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from engine.api import Citation, HushdocsError, LoadError, PageView, RenderedPage, RenderProcess, is_paged
from ui import theme
from ui.messages import source_label
from ui.workers import WorkerPool

THUMBNAIL_WIDTH = 240  # pixels on screen
THUMBNAILS_KEPT = 64  # pages remembered (about 240 x 310 x 4 bytes each)
HIDE_DELAY_MS = 300  # the pointer may cross the gap between the marker and the card

ThumbnailKey = tuple[str, int, tuple[str, ...]]  # path, page, the sentences marked on it


def cited_page(citation: Citation) -> tuple[int, tuple[str, ...]]:
    """The page a citation's quotes are on, and the text to mark there (the quotes, else the passage)."""
    if citation.quotes:
        return citation.quotes[0].page or citation.page or 1, tuple(q.text for q in citation.quotes)
    return citation.page or 1, (citation.text,)


def page_image(page: RenderedPage) -> QImage:
    """The rendered page as an image, the marked words under a translucent highlight."""
    image = QImage(page.samples, page.width, page.height, page.stride, QImage.Format.Format_RGB888).copy()
    if page.highlights:
        painter = QPainter(image)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.highlight(110))
        for x0, y0, x1, y1 in page.highlights:
            painter.drawRect(QRectF(x0 - 1, y0 - 1, x1 - x0 + 2, y1 - y0 + 2))
        painter.end()
    return image


def _render(renderer: RenderProcess, path: str, page: int, quotes: tuple[str, ...]) -> RenderedPage:
    """The page as the viewer renders it (scaled down when shown)."""
    if not os.path.isfile(path):
        raise HushdocsError(f"{path} is no longer there (moved or deleted?).")
    try:
        return renderer.render_page(path, page, quotes, PageView())
    except LoadError as error:
        raise HushdocsError(f"Cannot show {os.path.basename(path)}: {error.reason}") from error


class Thumbnails(QObject):
    """Small images of cited pages: rendered in a worker on first request, then served from memory."""

    ready = Signal(object)  # the ThumbnailKey whose image is now there
    failed = Signal(object, str)  # the ThumbnailKey, why its page cannot be shown (the file moved, ...)

    def __init__(self, pool: WorkerPool, parent: QObject | None = None,
                 passwords: Mapping[str, str] | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.renderer = RenderProcess(passwords=passwords)  # its child starts with the first thumbnail
        self.destroyed.connect(self.renderer.close)
        self._images: OrderedDict[ThumbnailKey, QImage] = OrderedDict()
        self._rendering: set[ThumbnailKey] = set()

    @staticmethod
    def key(citation: Citation) -> ThumbnailKey | None:
        """What identifies a citation's thumbnail; None for a document without pages (text, Markdown, HTML)."""
        if not is_paged(citation.path):
            return None
        page, quotes = cited_page(citation)
        return citation.path, page, quotes

    def image(self, key: ThumbnailKey) -> QImage | None:
        """The thumbnail if it is ready; otherwise None, and it is rendered (``ready`` says when)."""
        found = self._images.get(key)
        if found is not None:
            self._images.move_to_end(key)
            return found
        if key not in self._rendering:
            self._rendering.add(key)
            path, page, quotes = key
            self.pool.start(lambda _stop: _render(self.renderer, path, page, quotes),
                            name="thumbnail", on_result=lambda result: self._store(key, result),
                            on_error=lambda message: self.failed.emit(key, message),
                            on_finished=lambda: self._rendering.discard(key))
        return None

    def _store(self, key: ThumbnailKey, page: RenderedPage) -> None:
        self._images[key] = page_image(page)
        while len(self._images) > THUMBNAILS_KEPT:
            self._images.popitem(last=False)
        self.ready.emit(key)


class EvidenceCard(QFrame):
    """A small window beside the pointer: the citation's source, its quoted sentences, the page with them marked."""

    def __init__(self, thumbnails: Thumbnails, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.ToolTip)
        self.thumbnails = thumbnails
        self.citation: Citation | None = None
        self._key: ThumbnailKey | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setMaximumWidth(THUMBNAIL_WIDTH + 160)
        self.source = QLabel()
        self.source.setWordWrap(True)
        self.quotes = QLabel()
        self.quotes.setWordWrap(True)
        self.quotes.setTextFormat(Qt.TextFormat.RichText)
        self.thumbnail = QLabel()
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.addWidget(self.source)
        layout.addWidget(self.quotes)
        layout.addWidget(self.thumbnail)
        self._hide_timer = QTimer(self)
        self._hide_timer.setSingleShot(True)
        self._hide_timer.setInterval(HIDE_DELAY_MS)
        self._hide_timer.timeout.connect(self.hide)
        thumbnails.ready.connect(self._thumbnail_ready)
        thumbnails.failed.connect(self._thumbnail_failed)

    def show_citation(self, citation: Citation, at: QPoint) -> None:
        self._hide_timer.stop()
        self.citation = citation
        self.source.setText(f"<b>[{citation.n}]</b> {html.escape(source_label(citation))}")
        quoted = [" ".join(q.text.split()) for q in citation.quotes] or [" ".join(citation.text.split())[:400]]
        self.quotes.setText("".join(f"<p><i>“{html.escape(text)}”</i></p>" for text in quoted))
        self._key = self.thumbnails.key(citation)
        self.thumbnail.clear()
        self.thumbnail.setVisible(self._key is not None)
        if self._key is not None:
            image = self.thumbnails.image(self._key)
            if image is None:
                self.thumbnail.setText("Rendering the page…")
            else:
                self._set_thumbnail(image)
        self.adjustSize()
        self.move(at + QPoint(12, 16))
        self.show()

    def hide_soon(self) -> None:
        self._hide_timer.start()

    def _thumbnail_ready(self, key: ThumbnailKey) -> None:
        if key == self._key:  # not a page asked for by an earlier hover
            image = self.thumbnails.image(key)
            if image is not None:
                self._set_thumbnail(image)
                self.adjustSize()

    def _thumbnail_failed(self, key: ThumbnailKey, message: str) -> None:
        if key == self._key:
            self.thumbnail.setText(f"The page cannot be shown: {html.escape(message)}")

    def _set_thumbnail(self, image: QImage) -> None:
        ratio = self.devicePixelRatioF()
        scaled = image.scaledToWidth(int(THUMBNAIL_WIDTH * ratio), Qt.TransformationMode.SmoothTransformation)
        pixmap = QPixmap.fromImage(scaled)
        pixmap.setDevicePixelRatio(ratio)
        self.thumbnail.setPixmap(pixmap)
