"""The source viewer: the cited page of a PDF with the quoted sentences marked, or a text document (Markdown and
HTML rendered) scrolled to them; zoom, fit, find and page keys.

Every page, text and search comes from the render child (``engine.api.RenderProcess``), never from MuPDF in
this process: a damaged file shows an error view with its reason and costs nothing else. A request carries
a number; a reply to an older request than the last is dropped, and a superseded request is stopped.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPixmap,
    QShortcut,
    QTextCharFormat,
    QTextCursor,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QStackedWidget,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.api import (
    ACTUAL_SIZE,
    MAX_ZOOM,
    MIN_ZOOM,
    CallCancelledError,
    Citation,
    FitMode,
    HushdocsError,
    LoadedText,
    LoadError,
    PageView,
    RenderedPage,
    RenderProcess,
    is_paged,
)
from ui import theme
from ui.elided_label import ElidedLabel
from ui.viewer_text import SafeTextBrowser, locate_passages, utf16_offsets
from ui.workers import Worker, WorkerPool

READABLE = PageView()  # the default view: fit the width, never below a readable zoom
ZOOM_STEP = 1.25
FIND_MATCH = QColor(255, 200, 0, 110)
FIND_CURRENT = QColor(255, 110, 0, 170)
MAX_TEXT_MATCHES = 10_000
WARM_UP_MS = 2000
RERENDER_DELAY_MS = 150  # zooming by wheel or keys shows the scaled image at once, the sharp one after this


@dataclass(frozen=True)
class Passage:
    """A quoted sentence (or, without quotes, the whole cited chunk): document offsets and page."""

    text: str
    start: int
    end: int
    page: int | None


@dataclass
class Target:
    path: str
    page: int
    passages: tuple[Passage, ...] = ()


class _FindField(QLineEdit):
    """The find text: Enter finds the next match, Shift+Enter the previous one, Escape closes the bar."""

    step = Signal(int)
    dismissed = Signal()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) \
                and event.key() == Qt.Key.Key_Escape:
            event.accept()  # Escape is this field's (the window's Escape stops answers)
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.step.emit(-1 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1)
        elif event.key() == Qt.Key.Key_Escape:
            self.dismissed.emit()
        else:
            super().keyPressEvent(event)


class SourceViewer(QWidget):
    shown_source = Signal(object)  # the Target once it is on screen (tests and the status bar use it)
    found = Signal(int)  # how many matches the find text has in the document, once searched
    closed = Signal()
    error = Signal(str)

    def __init__(self, pool: WorkerPool, max_file_bytes: int, parent: QWidget | None = None,
                 passwords: Mapping[str, str] | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self._renderer = _RendererSlot(RenderProcess(max_bytes=max_file_bytes, passwords=passwords))
        self.destroyed.connect(self._renderer.close)
        self.target: Target | None = None
        self.page_count = 0
        self.fit_mode: FitMode = "fit-width"  # or "fit-page", or "zoom" at ``self.zoom``
        self.fit_floor = READABLE.min_zoom  # fitting the width goes no smaller (0 once "Width" is asked for)
        self.zoom = 1.0  # the page's zoom as last rendered or chosen (1.0 = 100 %)
        self._request = 0
        self._worker: Worker | None = None
        self._page: RenderedPage | None = None  # the page on screen, as rendered
        self._page_find = ""  # the find text its matches are of
        self._image_ratio = 1.0  # its image's pixels per logical pixel as shown (Qt's label does not say)
        self._requested_find = ""  # the find text of the last page asked for
        self._scroll_to_highlight = False  # the next page shown scrolls to the quotes (else find or top)
        self._rerender = _timer(self, RERENDER_DELAY_MS, self._render)
        # Find: in a PDF the render child searches every page; in a text the shown document is searched.
        self._find_request = 0
        self._find_worker: Worker | None = None
        self._find_hits: list[tuple[int, int]] = []  # (page, match on that page) in a PDF
        self._text_hits: list[QTextCursor] = []
        self._find_index = -1
        self._text_marks: list[QTextEdit.ExtraSelection] = []  # the quotes' marks in the text shown
        self._text_zoom = 0  # font steps of a text document

        self._build()
        self._shortcuts()
        # The render child starts in the background once the window is up: the first citation shows at once.
        QTimer.singleShot(WARM_UP_MS, self, self._warm_up)

    # -- building ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.title = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle, bold=True)  # one line; the extension stays
        close = _tool("✕", "Close the viewer", self._close)
        self.open_external = _tool("Open ↗", "Open in the default app", self.open_in_default_app)

        self.previous = _tool("◀", "Previous page (Page Up)", lambda: self.turn(-1))
        self.page_label = QLabel()
        self.next = _tool("▶", "Next page (Page Down)", lambda: self.turn(1))
        self.zoom_out = _tool("−", "Zoom out (Ctrl+-; Ctrl+0 goes back to a readable width)",
                              lambda: self.zoom_by(1 / ZOOM_STEP))
        self.zoom_label = QLabel()
        self.zoom_in = _tool("+", "Zoom in (Ctrl++)", lambda: self.zoom_by(ZOOM_STEP))
        self.fit_width = _tool("Width", "Fit the page's width", lambda: self.fit("fit-width", floor=0.0))
        self.fit_page = _tool("Page", "Fit the whole page", lambda: self.fit("fit-page"))
        for button in (self.fit_width, self.fit_page):
            button.setCheckable(True)
        self.find_button = _tool("Find", "Find in the document (Ctrl+F)", self.open_find)

        self.find_field = _FindField()
        self.find_field.setPlaceholderText("Find in the document")
        self.find_field.setClearButtonEnabled(True)
        self.find_field.step.connect(self.find_step)
        self.find_field.dismissed.connect(self.close_find)
        self._find_debounce = _timer(self, 300, self.search)
        self.find_field.textChanged.connect(lambda _text: self._find_debounce.start())
        self.find_status = QLabel()
        find_bar = QHBoxLayout()
        find_bar.setContentsMargins(0, 0, 0, 0)
        find_bar.addWidget(self.find_field, 1)
        find_bar.addWidget(_tool("▲", "Previous match (Shift+Enter)", lambda: self.find_step(-1)))
        find_bar.addWidget(_tool("▼", "Next match (Enter)", lambda: self.find_step(1)))
        find_bar.addWidget(self.find_status)
        find_bar.addWidget(_tool("✕", "Close find (Escape)", self.close_find))
        self.find_bar = QWidget()
        self.find_bar.setLayout(find_bar)
        self.find_bar.hide()

        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.image_scroll = QScrollArea()
        self.image_scroll.setWidget(self.image)
        self.image_scroll.setWidgetResizable(True)
        self.image_scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.image_scroll.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.rendered = SafeTextBrowser()
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setMargin(12)
        self.stack = QStackedWidget()
        views: list[QWidget] = [self.message, self.image_scroll, self.text, self.rendered]
        for view in views:
            self.stack.addWidget(view)
        for viewport in (self.image_scroll.viewport(), self.text.viewport(), self.rendered.viewport()):
            viewport.installEventFilter(self)  # Ctrl+wheel zooms

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.open_external)
        top.addWidget(close)
        tools = QHBoxLayout()
        tools.setSpacing(2)
        self.page_tools: list[QWidget] = [self.previous, self.page_label, self.next, self.fit_width, self.fit_page]
        for tool in self.page_tools[:3]:
            tools.addWidget(tool)
        tools.addStretch(1)
        for tool in (self.zoom_out, self.zoom_label, self.zoom_in, self.fit_width, self.fit_page, self.find_button):
            tools.addWidget(tool)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(tools)
        layout.addWidget(self.find_bar)
        layout.addWidget(self.stack, 1)
        self._show_tools(paged=False, enabled=False)

    def _shortcuts(self) -> None:
        def bind(keys: list[QKeySequence | QKeySequence.StandardKey | str], action: Callable[[], None],
                 parent: QWidget, context: Qt.ShortcutContext) -> None:
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), parent)
                shortcut.setContext(context)
                shortcut.activated.connect(action)

        window = Qt.ShortcutContext.WindowShortcut  # a hidden viewer's shortcuts are off
        bind([QKeySequence.StandardKey.Find], self.open_find, self, window)
        bind([QKeySequence.StandardKey.ZoomIn, "Ctrl+="], lambda: self.zoom_by(ZOOM_STEP), self, window)
        bind([QKeySequence.StandardKey.ZoomOut], lambda: self.zoom_by(1 / ZOOM_STEP), self, window)
        bind(["Ctrl+0"], self.reset_zoom, self, window)
        bind([QKeySequence.StandardKey.FindNext], lambda: self.find_step(1), self, window)
        bind([QKeySequence.StandardKey.FindPrevious], lambda: self.find_step(-1), self, window)
        page = Qt.ShortcutContext.WidgetWithChildrenShortcut  # the page has the focus: a text keeps its own keys
        bind(["PgDown"], lambda: self.turn(1), self.image_scroll, page)
        bind(["PgUp"], lambda: self.turn(-1), self.image_scroll, page)
        bind(["Home"], lambda: self.go_to_page(1), self.image_scroll, page)
        bind(["End"], lambda: self.go_to_page(self.page_count), self.image_scroll, page)

    def _warm_up(self) -> None:
        self.renderer.start()

    @property
    def renderer(self) -> RenderProcess:
        return self._renderer.current

    @renderer.setter
    def renderer(self, renderer: RenderProcess) -> None:
        self._renderer.close()
        self._renderer.current = renderer

    # -- showing -----------------------------------------------------------------------------------

    def show_citation(self, citation: Citation) -> None:
        """The cited page with exactly the sentences that support the answer marked (the whole passage when
        the citation has no quotes, as in conversations saved before quotes existed)."""
        if citation.quotes:
            passages = tuple(Passage(q.text, q.start, q.end, q.page) for q in citation.quotes)
            page = citation.quotes[0].page or citation.page or 1
        else:
            passages = (Passage(citation.text, citation.start, citation.end, citation.page),)
            page = citation.page or 1
        self.show_target(Target(citation.path, page, passages))

    def show_document(self, path: str) -> None:
        self.show_target(Target(path, 1))

    def show_target(self, target: Target) -> None:
        same_document = self.target is not None and self.target.path == target.path
        self.target = target
        self._scroll_to_highlight = True
        self.show()
        self.title.setText(os.path.basename(target.path))
        self.title.setToolTip(target.path)
        if not same_document:
            self._find_hits, self._text_hits, self._find_index = [], [], -1
            self.find_status.setText("")
        self.message.setText("Opening…")
        self.stack.setCurrentWidget(self.message)
        self._page = None
        self._render()
        if self.find_bar.isVisible() and self.find_field.text().strip() and not same_document:
            self.search()

    def clear(self) -> None:
        """Empty and hide the viewer (a new chat starts with no source open); a render under way is dropped."""
        self._request += 1
        self._find_request += 1
        for worker in (self._worker, self._find_worker):
            if worker is not None:
                worker.stop()
        self.target, self._page, self.page_count = None, None, 0
        self._find_hits, self._text_hits, self._find_index, self._text_marks = [], [], -1, []
        self.find_field.clear()
        self.find_bar.hide()
        self.image.clear()
        self.text.clear()
        self.rendered.clear()
        self.title.clear()
        self.message.clear()
        self.stack.setCurrentWidget(self.message)
        self._show_tools(paged=False, enabled=False)
        self.hide()

    def _render(self) -> None:
        """Ask the render child for the target's page (or text) at the current zoom; the reply shows it."""
        target = self.target
        if target is None:
            return
        self._request += 1
        request = self._request
        if self._worker is not None:
            self._worker.stop()  # superseded: dropped before its turn, or given a moment to finish
        paged = is_paged(target.path)
        name = os.path.basename(target.path)
        renderer = self.renderer
        if paged:
            quotes = [p.text for p in target.passages if p.page in (None, target.page)]
            view = self._page_view()
            find = self.find_field.text() if self.find_bar.isVisible() else ""
            self._requested_find = find
        spans = [(p.start, p.end) for p in target.passages]

        def run(stop: threading.Event) -> RenderedPage | LoadedText | None:
            try:
                if paged:
                    return renderer.render_page(target.path, target.page, quotes, view, find=find, cancel=stop)
                return renderer.load_text(target.path, spans, cancel=stop)
            except CallCancelledError:
                return None
            except LoadError as error:
                raise HushdocsError(f"Cannot show {name}: {error.reason}") from error

        self._worker = self.pool.start(run, name="source viewer", on_result=lambda result: self._show(request, result),
                                       on_error=lambda message: self._fail(request, message))

    def _page_view(self) -> PageView:
        viewport = self.image_scroll.viewport()
        margin = 4 + self.image_scroll.verticalScrollBar().sizeHint().width()  # room for the scroll bar
        return PageView(self.fit_mode, self.zoom, max(viewport.width() - margin, 100),
                        max(viewport.height() - 4, 100), self.devicePixelRatioF(), self.fit_floor)

    def _show(self, request: int, result: RenderedPage | LoadedText | None) -> None:
        if request != self._request or self.target is None or result is None:
            return  # a later request won
        if isinstance(result, RenderedPage):
            self._show_page(result)
        else:
            self._show_text(result)
        self.shown_source.emit(self.target)

    def _fail(self, request: int, message: str) -> None:
        if request != self._request:
            return
        self.message.setText(f"⚠ {message}")
        self.stack.setCurrentWidget(self.message)
        self._page = None
        self._show_tools(paged=False, enabled=False)
        self.error.emit(message)

    def _show_tools(self, *, paged: bool, enabled: bool) -> None:
        for widget in self.page_tools:
            widget.setVisible(paged)
        for widget in (self.zoom_out, self.zoom_in, self.zoom_label, self.find_button):
            widget.setEnabled(enabled)
        if not enabled:
            self.zoom_label.setText("")

    # -- pages -------------------------------------------------------------------------------------

    def _show_page(self, page: RenderedPage) -> None:
        assert self.target is not None
        self.target.page = page.page
        self.page_count = page.page_count
        self.zoom = page.zoom
        anchor = self._anchor() if self._page is not None and self._page.page == page.page else None
        self._page, self._page_find = page, self._requested_find
        self.page_label.setText(f"Page {page.page} of {page.page_count}")
        self.previous.setEnabled(page.page > 1)
        self.next.setEnabled(page.page < page.page_count)
        self.fit_width.setChecked(self.fit_mode == "fit-width" and self.fit_floor == 0)
        self.fit_page.setChecked(self.fit_mode == "fit-page")
        self._show_tools(paged=True, enabled=True)
        self.zoom_label.setText(f"{round(page.zoom * 100)} %")
        self.stack.setCurrentWidget(self.image_scroll)
        self._paint_page()
        # The scroll range follows the new pixmap on the next layout pass: scroll after it.
        if self._scroll_to_highlight and page.highlights:
            box = _union(page.highlights)
            QTimer.singleShot(0, self, lambda: self._scroll_to(box, above=60))
        elif self._find_index >= 0 and page.found:
            self._scroll_to_match()
        elif anchor is not None:
            QTimer.singleShot(0, self, lambda: self._keep_anchor(anchor))
        else:
            QTimer.singleShot(0, self, lambda: self.image_scroll.verticalScrollBar().setValue(0))
        self._scroll_to_highlight = False

    def _paint_page(self, zoom: float | None = None) -> None:
        """The page image with the quotes and find matches marked, shown at ``zoom`` (default: as rendered)."""
        page = self._page
        if page is None:
            return
        image = QImage(page.samples, page.width, page.height, page.stride, QImage.Format.Format_RGB888).copy()
        painter = QPainter(image)
        painter.setPen(Qt.PenStyle.NoPen)
        pad = 2.0 * page.pixels_per_point / ACTUAL_SIZE
        for colour, boxes in ((theme.highlight(80), page.highlights), (FIND_MATCH, page.found)):
            painter.setBrush(colour)
            for x0, y0, x1, y1 in boxes:
                painter.drawRoundedRect(QRectF(x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), 3, 3)
        current = self.current_match()
        if current is not None:
            painter.setBrush(FIND_CURRENT)
            x0, y0, x1, y1 = current
            painter.drawRoundedRect(QRectF(x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), 3, 3)
        painter.end()
        pixmap = QPixmap.fromImage(image)
        # Image pixels per logical pixel: shown at ``zoom`` whatever it was rendered at (sharp once re-rendered).
        self._image_ratio = page.pixels_per_point / ((zoom or page.zoom) * ACTUAL_SIZE)
        pixmap.setDevicePixelRatio(self._image_ratio)
        self.image.setPixmap(pixmap)

    def displayed_scale(self) -> float:
        """Logical pixels per PDF point of the page on screen (what zooming changes)."""
        return self._page.pixels_per_point / self._image_ratio if self._page is not None else 0.0

    def displayed_size(self) -> tuple[float, float]:
        """The page's size on screen, in logical pixels."""
        page = self._page
        return (page.width / self._image_ratio, page.height / self._image_ratio) if page is not None else (0.0, 0.0)

    def _page_left(self) -> float:
        """Where the page starts in the scroll area (the label centres a page narrower than the view)."""
        return max(0.0, (self.image.width() - self.displayed_size()[0]) / 2)

    def _to_screen(self, box: tuple[float, float, float, float]) -> QRectF:
        """A rectangle of the page image in the scroll area's content coordinates."""
        ratio = self._image_ratio
        left = self._page_left()
        x0, y0, x1, y1 = (v / ratio for v in box)
        return QRectF(left + x0, y0, x1 - x0, y1 - y0)

    def _scroll_to(self, box: tuple[float, float, float, float], above: int) -> None:
        rect = self._to_screen(box)
        vertical, horizontal = self.image_scroll.verticalScrollBar(), self.image_scroll.horizontalScrollBar()
        vertical.setValue(max(0, int(rect.top()) - above))
        view = self.image_scroll.viewport().width()
        if rect.left() < horizontal.value() or rect.right() > horizontal.value() + view:
            horizontal.setValue(max(0, int(rect.center().x() - view / 2)))

    def _anchor(self) -> tuple[QPointF, QPointF]:
        """A point of the page (in PDF points) and where it is in the viewport: the quotes' start when they are
        in view, else the view's centre. Zooming keeps that point where it is."""
        assert self._page is not None
        scale = self.displayed_scale()
        viewport = self.image_scroll.viewport()
        view = QRectF(self.image_scroll.horizontalScrollBar().value(), self.image_scroll.verticalScrollBar().value(),
                      viewport.width(), viewport.height())
        left = self._page_left()
        if self._page.highlights:
            box = self._to_screen(_union(self._page.highlights))
            if view.intersects(box):
                return (QPointF((box.left() - left) / scale, box.top() / scale),
                        QPointF(box.left() - view.left(), box.top() - view.top()))
        centre = view.center()
        return QPointF((centre.x() - left) / scale, centre.y() / scale), centre - view.topLeft()

    def _keep_anchor(self, anchor: tuple[QPointF, QPointF]) -> None:
        point, at = anchor
        scale = self.displayed_scale()
        self.image_scroll.horizontalScrollBar().setValue(int(self._page_left() + point.x() * scale - at.x()))
        self.image_scroll.verticalScrollBar().setValue(int(point.y() * scale - at.y()))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._page is not None and self.fit_mode != "zoom":
            self._rerender.start()  # the fit follows the viewer's size

    def turn(self, step: int) -> None:
        if self.target is not None and self._page is not None:
            self.go_to_page(self.target.page + step)

    def go_to_page(self, page: int) -> None:
        if self.target is not None and self._page is not None and 1 <= page <= self.page_count \
                and page != self.target.page:
            self.target.page = page
            self.page_label.setText(f"Page {page} of {self.page_count}")
            self._render()

    # -- zoom --------------------------------------------------------------------------------------

    def zoom_by(self, factor: float) -> None:
        if self.stack.currentWidget() in (self.text, self.rendered):
            self._zoom_text(1 if factor > 1 else -1)
        elif self._page is not None:
            self.fit_mode = "zoom"
            self.zoom = min(max(self.zoom * factor, MIN_ZOOM), MAX_ZOOM)
            self.zoom_label.setText(f"{round(self.zoom * 100)} %")
            self.fit_width.setChecked(False)
            self.fit_page.setChecked(False)
            anchor = self._anchor()
            self._paint_page(self.zoom)  # at once, from the image there is; sharp when the new one comes
            QTimer.singleShot(0, self, lambda: self._keep_anchor(anchor))
            self._rerender.start()

    def fit(self, mode: FitMode, floor: float = 0.0) -> None:
        """Fit the page's width (no smaller than ``floor``) or the whole page into the viewer."""
        if self._page is not None:
            self.fit_mode, self.fit_floor = mode, floor
            self._render()

    def reset_zoom(self) -> None:
        """Back to the default: the page's width, but never below a readable size; a text at its own size."""
        if self.stack.currentWidget() in (self.text, self.rendered):
            self._zoom_text(-self._text_zoom)
        else:
            self.fit("fit-width", READABLE.min_zoom)

    def _zoom_text(self, steps: int) -> None:
        """Both text views follow the same zoom, kept from one document to the next."""
        steps = max(-5, min(self._text_zoom + steps, 12)) - self._text_zoom
        if steps:
            self.text.zoomIn(steps)
            self.rendered.zoomIn(steps)
            self._text_zoom += steps
        self.zoom_label.setText(f"{100 + 10 * self._text_zoom} %")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Wheel and isinstance(event, QWheelEvent) \
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            delta = event.angleDelta().y()
            if delta:
                self.zoom_by(ZOOM_STEP if delta > 0 else 1 / ZOOM_STEP)
            return True
        return super().eventFilter(watched, event)

    # -- text --------------------------------------------------------------------------------------

    def _show_text(self, loaded: LoadedText) -> None:
        self._show_tools(paged=False, enabled=True)
        self.zoom_label.setText(f"{100 + 10 * self._text_zoom} %")
        wanted = [p.text for p in self.target.passages] if self.target is not None else []
        if loaded.markup:
            self.rendered.show_markup(loaded.source, loaded.markup)
            shown = self.rendered.document().toPlainText()
            spans = utf16_offsets(shown, locate_passages(shown, wanted))
            if spans or not wanted:
                self._present_text(self.rendered, spans)
                return
        # Plain text, or markup in which the quotes could not be found: the loader's text, quotes marked.
        self.text.setPlainText(loaded.text)
        self._present_text(self.text, loaded.spans)

    def _present_text(self, widget: QPlainTextEdit | QTextEdit, spans: list[tuple[int, int]]) -> None:
        self.stack.setCurrentWidget(widget)
        document = widget.document()
        fmt = QTextCharFormat()
        fmt.setBackground(theme.passage_background())
        self._text_marks = []
        for start, end in spans:
            cursor = QTextCursor(document)
            cursor.setPosition(start)
            cursor.setPosition(min(end, document.characterCount() - 1), QTextCursor.MoveMode.KeepAnchor)
            selection = QTextEdit.ExtraSelection()
            selection.cursor = cursor
            selection.format = fmt
            self._text_marks.append(selection)
        self._text_hits, self._find_index = [], -1
        widget.setExtraSelections(self._text_marks)
        caret = QTextCursor(document)
        caret.setPosition(spans[0][0] if spans else 0)
        widget.setTextCursor(caret)
        if spans:
            QTimer.singleShot(0, self, lambda: _centre_cursor(widget))
        if self.find_bar.isVisible() and self.find_field.text().strip():
            self.search()

    def selected_passage(self) -> str:
        """The marked text of a text document, quotes joined by a space (tests check it is what was cited)."""
        return " ".join(m.cursor.selectedText().replace("\u2029", "\n") for m in self._text_marks)

    # -- find --------------------------------------------------------------------------------------

    def open_find(self) -> None:
        if self.target is None:
            return
        self.find_bar.show()
        self.find_field.setFocus()
        self.find_field.selectAll()

    def close_find(self) -> None:
        self.find_bar.hide()
        self._find_request += 1
        self._find_hits, self._find_index = [], -1
        self.find_status.setText("")
        if self.stack.currentWidget() in (self.text, self.rendered):
            self._text_hits = []
            self._mark_text_hits()
        elif self._page is not None and self._page.found:
            self._page.found = []
            self._paint_page()
        self._requested_find = self._page_find = ""
        shown = self.stack.currentWidget()
        if shown is not None:
            shown.setFocus()

    def search(self) -> None:
        """Search the document for the find text: every page of a PDF (in the render child), or the text shown."""
        self._find_debounce.stop()
        query = self.find_field.text()
        target = self.target
        self._find_request += 1
        if target is None or not query.strip():
            self._find_hits, self._text_hits, self._find_index = [], [], -1
            self.find_status.setText("")
            self._mark_text_hits()
            return
        if self.stack.currentWidget() in (self.text, self.rendered):
            self._find_in_text(query)
            return
        if self._find_worker is not None:
            self._find_worker.stop()
        request, renderer = self._find_request, self.renderer
        self.find_status.setText("Searching…")

        def run(stop: threading.Event) -> list[tuple[int, int]] | None:
            try:
                return renderer.find_pages(target.path, query, cancel=stop)
            except CallCancelledError:
                return None
            except LoadError as error:
                raise HushdocsError(f"Cannot search {os.path.basename(target.path)}: {error.reason}") from error

        self._find_worker = self.pool.start(
            run, name="find in document", on_result=lambda pages: self._found_pages(request, pages),
            on_error=lambda message: self._find_failed(request, message))

    def _found_pages(self, request: int, pages: list[tuple[int, int]] | None) -> None:
        if request != self._find_request or pages is None or self.target is None:
            return
        self._find_hits = [(page, i) for page, count in pages for i in range(count)]
        current = self.target.page
        self._find_index = next((i for i, (page, _) in enumerate(self._find_hits) if page >= current),
                                0 if self._find_hits else -1)
        self.found.emit(len(self._find_hits))
        self._go_to_match()

    def _find_failed(self, request: int, message: str) -> None:
        if request == self._find_request:
            self.find_status.setText("Cannot search")
            self.error.emit(message)

    def find_step(self, step: int) -> None:
        if not self.find_bar.isVisible():
            self.open_find()
        if self._find_debounce.isActive() or (not self._find_hits and not self._text_hits):
            self.search()  # the text changed since the last search (or there was none yet)
            return
        count = len(self._find_hits) or len(self._text_hits)
        self._find_index = (self._find_index + step) % count
        if self._text_hits:
            self._mark_text_hits()
        else:
            self._go_to_match()

    def _go_to_match(self) -> None:
        if not self._find_hits:
            self.find_status.setText("No matches")
            if self._page is not None and self._page.found:
                self._page.found = []
                self._paint_page()
            return
        self.find_status.setText(f"{self._find_index + 1} of {len(self._find_hits)}")
        page, _ = self._find_hits[self._find_index]
        assert self.target is not None
        shown = self._page
        if shown is not None and shown.page == page and self._page_find == self.find_field.text():
            self._paint_page()
            self._scroll_to_match()
        else:
            self.target.page = page
            self._render()

    def current_match(self) -> tuple[float, float, float, float] | None:
        """The find match that is current, where it is on the page shown (None when not on it)."""
        page = self._page
        if page is None or not (0 <= self._find_index < len(self._find_hits)):
            return None
        hit_page, index = self._find_hits[self._find_index]
        return page.found[index] if hit_page == page.page and index < len(page.found) else None

    def _scroll_to_match(self) -> None:
        box = self.current_match()
        if box is not None:
            QTimer.singleShot(0, self, lambda: self._scroll_to(box, above=self.image_scroll.viewport().height() // 3))

    def _find_in_text(self, query: str) -> None:
        widget = self.stack.currentWidget()
        assert isinstance(widget, QPlainTextEdit | QTextEdit)
        document = widget.document()
        hits: list[QTextCursor] = []
        cursor = document.find(query, 0)
        while not cursor.isNull() and len(hits) < MAX_TEXT_MATCHES:
            hits.append(cursor)
            cursor = document.find(query, cursor)
        self._text_hits = hits
        position = widget.textCursor().position()
        self._find_index = next((i for i, hit in enumerate(hits) if hit.selectionStart() >= position),
                                0 if hits else -1)
        self.found.emit(len(hits))
        self._mark_text_hits()

    def _mark_text_hits(self) -> None:
        widget = self.stack.currentWidget()
        if not isinstance(widget, QPlainTextEdit | QTextEdit):
            return
        marks = list(self._text_marks)
        for i, hit in enumerate(self._text_hits):
            selection = QTextEdit.ExtraSelection()
            selection.cursor = hit
            fmt = QTextCharFormat()
            fmt.setBackground(FIND_CURRENT if i == self._find_index else FIND_MATCH)
            selection.format = fmt
            marks.append(selection)
        widget.setExtraSelections(marks)
        if self._text_hits:
            self.find_status.setText(f"{self._find_index + 1} of {len(self._text_hits)}")
            caret = QTextCursor(self._text_hits[self._find_index])
            caret.clearSelection()
            widget.setTextCursor(caret)
            widget.ensureCursorVisible()
        elif self.find_field.text().strip():
            self.find_status.setText("No matches")

    # -- actions -----------------------------------------------------------------------------------

    def open_in_default_app(self) -> None:
        if self.target is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.target.path))

    def _close(self) -> None:
        self.hide()
        self.closed.emit()


def _timer(parent: QObject, interval_ms: int, callback: Callable[[], None]) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(interval_ms)
    timer.timeout.connect(callback)
    return timer


class _RendererSlot:
    """The viewer's render child, closed with the viewer (a test may put another in its place)."""

    def __init__(self, renderer: RenderProcess) -> None:
        self.current = renderer

    def close(self) -> None:
        self.current.close()


def _tool(text: str, tip: str, action: Callable[[], None]) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    button.clicked.connect(action)
    return button


def _union(boxes: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _centre_cursor(widget: QPlainTextEdit | QTextEdit) -> None:
    if isinstance(widget, QPlainTextEdit):
        widget.centerCursor()
        return
    bar = widget.verticalScrollBar()
    bar.setValue(bar.value() + widget.cursorRect().center().y() - widget.viewport().height() // 2)

