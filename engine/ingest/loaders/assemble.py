"""A document's text put together piece by piece, with its headings (sections) and pages (slides).

The loaders of structured formats (slides, workbooks, OpenDocument, mail) add paragraphs, headings and
pages in reading order; paragraphs are separated by a blank line, which the chunker cuts at.
"""

from __future__ import annotations

from engine.ingest.status import EMPTY, LoadError
from engine.records import Heading, PageSpan, ParsedDocument

PARAGRAPH_SEPARATOR = "\n\n"


class DocumentText:
    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.headings: list[Heading] = []
        self.pages: list[PageSpan] = []
        self._page: tuple[int, int] | None = None  # number, start offset of the open page

    def paragraph(self, text: str) -> None:
        """Add a paragraph (blank ones are left out)."""
        text = text.strip()
        if not text:
            return
        if self._length:
            self._write(PARAGRAPH_SEPARATOR)
        self._write(text)

    def heading(self, title: str, level: int = 1, *, written: bool = True) -> None:
        """Start a section named ``title``; its title is also a paragraph of the text unless ``written`` is False."""
        title = " ".join(title.split())
        if not title:
            return
        if written:
            self.paragraph(title)
            self.headings.append(Heading(self._length - len(title), level, title))
        else:
            offset = self._length + (len(PARAGRAPH_SEPARATOR) if self._length else 0)
            self.headings.append(Heading(offset, level, title))

    def start_page(self, number: int) -> None:
        self.end_page()
        self._page = (number, self._length)

    def end_page(self) -> None:
        if self._page is not None:
            number, start = self._page
            if self._length > start > 0:
                start += len(PARAGRAPH_SEPARATOR)  # the page starts with its first paragraph
            self.pages.append(PageSpan(number, start, self._length))
            self._page = None

    def document(self, kind: str, title: str, *, empty: str = "no text in this document") -> ParsedDocument:
        """The parsed document; ``LoadError(EMPTY, empty)`` when nothing but blanks was added."""
        self.end_page()
        text = "".join(self._parts)
        if not heading_free(text, self.headings):
            raise LoadError(EMPTY, empty)
        return ParsedDocument(text=text, kind=kind, title=title, pages=self.pages, headings=self.headings)

    def _write(self, text: str) -> None:
        self._parts.append(text)
        self._length += len(text)


def heading_free(text: str, headings: list[Heading]) -> str:
    """The text without its written headings: what is left when only titles were found."""
    pieces = []
    position = 0
    for heading in headings:
        if text.startswith(heading.title, heading.offset):
            pieces.append(text[position:heading.offset])
            position = heading.offset + len(heading.title)
    pieces.append(text[position:])
    return "".join(pieces).strip()
