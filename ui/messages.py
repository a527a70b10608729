"""The widgets of one exchange: the question, and an answer with citation links, sources, copy and retry.

While an answer is prepared its view shows the stage and the passages being read; once done, hovering a
citation marker asks for its evidence (the chat panel shows the quoted sentences and the page)."""

from __future__ import annotations

import html
import os
import re

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QGuiApplication, QPalette, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QTextBrowser, QVBoxLayout, QWidget

from engine.api import Citation, Hit

_MARKER = re.compile(r"\[(\d+)\]")
# Markdown images and links the model wrote (a document may have asked for them: an image whose address
# carries the question out). Images become their description; links show where they lead, as plain text.
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"(?<!\\)\[([^\]]+)\]\(([^)\s]+)[^)]*\)")
_AUTOLINK = re.compile(r"<((?:https?|ftp|file|mailto):[^>\s]+)>", re.IGNORECASE)


def defuse_markdown(text: str) -> str:
    """No image is loaded and no link can be followed from an answer: both are shown as text."""
    text = _IMAGE.sub(lambda m: f"(image: {m.group(1) or 'no description'})", text)
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2).replace('://', ':// ')})", text)
    return _AUTOLINK.sub(lambda m: m.group(1).replace("://", ":// "), text)


def link_citations(text: str, citations: list[Citation]) -> str:
    """Turn the answer's [n] markers into links (cite:n) for the citations that exist."""
    known = {c.n for c in citations}

    def replace(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return f"[\\[{n}\\]](cite:{n})" if n in known else match.group(0)

    return _MARKER.sub(replace, defuse_markdown(text))


def without_markers(text: str) -> str:
    """A stopped fragment's text: its [n] markers point at nothing checked, so they go."""
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]*\[\d+\]", "", text)).strip()


def quote_lines(citation: Citation, limit: int = 300) -> str:
    """The citation's supporting sentences as HTML quotes."""
    lines = []
    for quote in citation.quotes:
        text = " ".join(quote.text.split())
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        lines.append(f'<div style="margin-left: 1.5em"><i>“{html.escape(text)}”</i></div>')
    return "".join(lines)


def source_label(citation: Citation) -> str:
    name = os.path.basename(citation.path)
    title = citation.title.strip()
    if title and len(title) <= 60 and title.lower() not in name.lower():  # a real title, not a first line
        name += f" ({title})"
    where = f", page {citation.page}" if citation.page else ""
    section = f" · {citation.section}" if citation.section else ""
    return f"{name}{where}{section}"


def reading_line(passages: list[Hit]) -> str:
    """Which passages the model is reading, by document and page (shown while the answer is written)."""
    places = dict.fromkeys(os.path.basename(h.path) + (f", page {h.page}" if h.page else "") for h in passages)
    return "Reading: " + "; ".join(places) if places else ""


class AutoHeightBrowser(QTextBrowser):
    """A read-only rich text view as tall as its content (the chat's scroll area does the scrolling)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)
        self.document().documentLayout().documentSizeChanged.connect(lambda _size: self._fit())

    def _fit(self) -> None:
        self.document().setTextWidth(self.viewport().width())
        height = int(self.document().size().height()) + 2 * self.frameWidth() + 4
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def loadResource(self, kind: int, url: QUrl | str) -> object:  # noqa: N802 - Qt's name
        """Nothing is fetched for an answer: no image, style sheet or other resource, local or remote."""
        return None

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(super().sizeHint().width(), self.height())


class QuestionView(QFrame):
    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        label = QLabel(f"<b>You</b><br>{html.escape(text).replace(chr(10), '<br>')}")
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = text
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(label)


class AnswerView(QFrame):
    """One answer: streamed Markdown (repainted by the chat panel at ~10 Hz), then citations and sources."""

    citation_clicked = Signal(object)  # Citation
    evidence_requested = Signal(object)  # the Citation whose marker or source the pointer is over
    evidence_left = Signal()  # the pointer left it
    retry_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = ""
        self.citations: list[Citation] = []
        self.closest: list[Citation] = []
        self.finished = False
        header = QLabel("<b>Hushdocs</b>")
        self.status = QLabel()
        self.status.setEnabled(False)  # secondary text in either colour scheme
        self.body = AutoHeightBrowser()
        self.body.anchorClicked.connect(self._anchor_clicked)
        self.body.highlighted.connect(self._hovered)
        self.sources = QLabel()
        self.sources.setWordWrap(True)
        self.sources.setTextFormat(Qt.TextFormat.RichText)
        self.sources.linkActivated.connect(lambda link: self._anchor_clicked(QUrl(link)))
        self.sources.linkHovered.connect(lambda link: self._hovered(QUrl(link)))
        self.sources.hide()
        self.copy_button = QPushButton("Copy answer")
        self.copy_button.clicked.connect(self.copy)
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self.retry_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.retry_button)
        self.copy_button.hide()
        self.retry_button.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(header)
        layout.addWidget(self.body)
        layout.addWidget(self.sources)
        layout.addLayout(buttons)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_reading(self, passages: list[Hit]) -> None:
        """The passages the model reads, under the answer while it is written."""
        self.sources.setText(f"<i>{html.escape(reading_line(passages))}</i>")
        self.sources.setVisible(bool(passages))

    def set_streaming_text(self, text: str) -> None:
        self.text = text
        self.body.setMarkdown(text + " ▍")

    def finish(self, text: str, citations: list[Citation], *, notice: str = "", stopped: bool = False,
               can_retry: bool = True, sources_forgotten: bool = False, closest: list[Citation] | None = None,
               left_out: list[str] | None = None) -> None:
        """The checked answer: its sources with the quoted sentences that support it; for a decline, what was
        searched and the closest passages (links too, so the person can look for themselves). A stopped fragment
        was never checked: it is shown without markers, sources or passages."""
        self.finished = True
        if stopped:
            text, citations, closest = without_markers(text), [], []
        self.text = text
        self.citations = list(citations)
        self.closest = list(closest or [])
        shown = notice if notice and not self.citations else text
        self.body.setMarkdown(link_citations(shown, self.citations) if shown else "*(no answer)*")
        parts = []
        if self.citations:
            parts.append("<b>Sources</b>" + "".join(
                f'<div><a href="cite:{c.n}">[{c.n}]</a> {html.escape(source_label(c))}</div>{quote_lines(c)}'
                for c in self.citations))
        if left_out:
            parts.append("<div><i>Left out of the answer, not found in your documents: "
                         + html.escape(" ".join(left_out)[:300]) + "</i></div>")
        if self.closest:
            parts.append("<b>Closest passages</b>" + "".join(
                f'<div><a href="near:{c.n}">({c.n})</a> {html.escape(source_label(c))}</div>' for c in self.closest))
        self.sources.setText("".join(parts))
        self.sources.setVisible(bool(parts))
        # A decline's notice is its body (what was searched, where the closest passages are): no status needed.
        status = "Stopped." if stopped else ("" if self.citations or self.closest or not notice
                                             else "No sources for this answer.")
        if sources_forgotten:  # the answer is the person's own; the documents it cited are gone
            status = "Some sources were forgotten." if self.citations else "Its sources were forgotten."
        self.status.setText(status)
        self.copy_button.show()
        self.retry_button.setVisible(can_retry)

    def show_error(self, message: str) -> None:
        self.finished = True
        self.body.setMarkdown(f"**Could not answer:** {message}")
        self.sources.hide()
        self.status.setText("")
        self.retry_button.show()

    def citation(self, n: int) -> Citation | None:
        return next((c for c in self.citations if c.n == n), None)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text)

    def link_target(self, url: QUrl) -> Citation | None:
        """The citation (cite:n) or closest passage (near:n) a link stands for."""
        listed = {"cite": self.citations, "near": self.closest}.get(url.scheme(), [])
        return next((c for c in listed if str(c.n) == url.path()), None)

    def _anchor_clicked(self, url: QUrl) -> None:
        citation = self.link_target(url)
        if citation is not None:
            self.citation_clicked.emit(citation)

    def _hovered(self, url: QUrl) -> None:
        citation = self.link_target(url)
        if citation is not None:
            self.evidence_requested.emit(citation)
        else:
            self.evidence_left.emit()
