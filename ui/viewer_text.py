"""The viewer's text side: Markdown and HTML rendered with nothing loaded from anywhere, and the quoted
sentences found again in the rendered text (its words, whatever the markup around them)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from PySide6.QtCore import QByteArray, QUrl
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QTextBrowser, QWidget

_WORD = re.compile(r"\w+", re.UNICODE)
_CLOSING = re.compile(r"[^\w\s]+")


class SafeTextBrowser(QTextBrowser):
    """Renders a document's Markdown or HTML as text: no image, style sheet or page is ever loaded (local or
    remote), and a link is never followed; hovering one shows where it points."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.highlighted.connect(lambda url: self.setToolTip(url.toString() if not url.isEmpty() else ""))

    def loadResource(self, kind: int, name: QUrl | str) -> object:  # noqa: N802 - Qt's name
        # Empty, not None: on None, Qt's own fallback reads a file: URL from the disk.
        return QByteArray()

    def show_markup(self, source: str, markup: str) -> None:
        if markup == "markdown":
            self.document().setMarkdown(source, QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
        else:
            self.document().setHtml(source)


def locate_passages(rendered: str, passages: Sequence[str]) -> list[tuple[int, int]]:
    """Where each passage's words stand, in order, in ``rendered`` (character offsets of its first and last
    word); passages whose words are not found together are left out."""
    matches = list(_WORD.finditer(rendered))
    words = [m.group().lower() for m in matches]
    joined = " ".join(words)
    starts = []  # where each word starts in ``joined``
    position = 0
    for word in words:
        starts.append(position)
        position += len(word) + 1
    spans = []
    for passage in passages:
        wanted = " ".join(w.lower() for w in _WORD.findall(passage))
        if not wanted:
            continue
        at = joined.find(wanted)
        while at != -1 and not _on_word_boundaries(joined, at, len(wanted)):
            at = joined.find(wanted, at + 1)
        if at == -1:
            continue
        first = bisect.bisect_left(starts, at)
        last = first + wanted.count(" ")
        end = matches[last].end()
        closing = _CLOSING.match(rendered, end)  # the sentence's own full stop or closing quote
        spans.append((matches[first].start(), closing.end() if closing else end))
    return spans


def _on_word_boundaries(joined: str, at: int, length: int) -> bool:
    end = at + length
    return (at == 0 or joined[at - 1] == " ") and (end == len(joined) or joined[end] == " ")


def utf16_offsets(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Character offsets of ``text`` as UTF-16 code units (Qt's text positions count a character beyond the
    Basic Multilingual Plane, an emoji, as two)."""
    astral = [i for i, ch in enumerate(text) if ord(ch) > 0xFFFF]
    return [(start + bisect.bisect_left(astral, start), end + bisect.bisect_left(astral, end)) for start, end in spans]
