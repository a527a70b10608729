"""One dataclass per record that crosses module boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PageSpan:
    """Where a page lies in a document's extracted text (``text[start:end]``)."""

    number: int
    start: int
    end: int


@dataclass(frozen=True)
class Heading:
    offset: int
    level: int
    title: str


@dataclass
class ParsedDocument:
    """A loader's output: the document's whole text with its provenance.

    ``pages`` is empty for formats without pages; ``headings`` marks section starts. Every chunk's
    span indexes into ``text``.
    """

    text: str
    kind: str
    title: str = ""
    pages: list[PageSpan] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    ocr_pages: tuple[int, ...] = ()  # pages whose text OCR read (scans, photos)
    problems: tuple[str, ...] = ()  # what could not be read, for people: "damaged: …", "page 7: OCR found no text"

    def page_at(self, offset: int) -> int | None:
        for page in self.pages:
            if page.start <= offset < page.end or (offset == page.end and page is self.pages[-1]):
                return page.number
        return None

    def heading_at(self, offset: int) -> str:
        current = ""
        for heading in self.headings:
            if heading.offset > offset:
                break
            current = heading.title
        return current


@dataclass(frozen=True)
class ChunkSpan:
    """A chunk as the chunker cuts it: ``text == document.text[start:end]``."""

    start: int
    end: int
    text: str
    page: int | None
    section: str


@dataclass
class Collection:
    id: int
    name: str
    roots: list[str]
    document_count: int = 0


@dataclass
class DocumentRecord:
    id: int
    collection: str
    path: str
    kind: str
    title: str
    status: str  # see engine.ingest.status
    error: str
    pages: int
    chunks: int
    size: int
    indexed_at: float | None


@dataclass(frozen=True)
class Exclusion:
    """A file or folder forgotten inside a followed folder: its scans leave it out until it is included again."""

    path: str
    collection: str


@dataclass
class Hit:
    """A retrieved passage: one chunk, or neighbouring chunks of one document merged."""

    chunk_id: int
    document_id: int
    path: str
    title: str
    page: int | None
    section: str
    start: int
    end: int
    text: str
    score: float
    similarity: float = 0.0  # cosine of the question to the best chunk of the passage
    chunk_ids: tuple[int, ...] = ()
    ranks: dict[str, int] = field(default_factory=dict)
    # (offset in ``text``, offset in the document) where each merged piece starts; empty: ``text`` is
    # ``document_text[start:end]``.
    anchors: tuple[tuple[int, int], ...] = ()

    def document_offset(self, offset: int) -> int:
        """Where ``text[offset]`` lies in the document's text."""
        text_at, document_at = 0, self.start
        for anchor_text, anchor_document in self.anchors:
            if anchor_text > offset:
                break
            text_at, document_at = anchor_text, anchor_document
        return document_at + max(0, offset - text_at)


@dataclass(frozen=True)
class Quote:
    """A sentence of a cited passage that supports a sentence of the answer (document offsets)."""

    n: int  # the citation number
    text: str
    start: int
    end: int
    page: int | None

    def to_json(self) -> dict[str, object]:
        return {"n": self.n, "text": self.text, "start": self.start, "end": self.end, "page": self.page}


@dataclass
class Citation:
    n: int
    path: str
    page: int | None
    start: int
    end: int
    text: str
    title: str = ""
    section: str = ""
    document_id: int = 0
    # The sentences of ``text`` that support the answer: what the app quotes and highlights.
    quotes: tuple[Quote, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"n": self.n, "path": self.path, "page": self.page, "start": self.start, "end": self.end,
                "text": self.text, "quotes": [q.to_json() for q in self.quotes]}

    def to_record(self) -> dict[str, object]:
        """Every field, as plain JSON values (for storing the citation with its conversation)."""
        record = dict(self.__dict__)
        record["quotes"] = [q.to_json() for q in self.quotes]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Citation:
        fields = dict(record)
        fields["quotes"] = tuple(Quote(**q) for q in fields.get("quotes", ()))
        return cls(**fields)
