"""The chunker with the real MiniLM WordPiece tokenizer: limits, spans, pages, sections, overlap."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pymupdf
import pytest

from engine.ingest.chunker import chunk_document
from engine.ingest.loaders import load
from engine.records import ChunkSpan, Heading, PageSpan, ParsedDocument

Count = Callable[[str], int]


@pytest.fixture(scope="module")
def count(embedder) -> Count:  # type: ignore[no-untyped-def]
    """The real embedder's word-piece count (no truncation), as the indexer uses it."""
    counter: Count = embedder.count_tokens
    return counter


def _sentences(topic: str, n: int) -> str:
    return " ".join(f"The {topic} report number {i} describes measurement {i * 7} in detail." for i in range(n))


def _check(doc: ParsedDocument, chunks: list[ChunkSpan], count: Count, max_tokens: int = 200) -> None:
    """Invariants every chunking must keep."""
    assert chunks
    for chunk in chunks:
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert chunk.text.strip() == chunk.text != ""
        assert count(chunk.text) <= max_tokens
        assert chunk.page == doc.page_at(chunk.start)
        assert chunk.section == doc.heading_at(chunk.start)
        assert not any(chunk.start < h.offset < chunk.end for h in doc.headings), "crosses a heading"
        for page in doc.pages:
            assert not (chunk.start < page.start < chunk.end or chunk.start < page.end < chunk.end), "crosses a page"
    covered = bytearray(len(doc.text))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    missing = [i for i, ch in enumerate(doc.text) if not ch.isspace() and not covered[i]]
    assert not missing, f"uncovered text at {missing[:5]}"


def test_pdf_pages(tmp_path: Path, count: Count) -> None:
    document = pymupdf.open()
    for number in range(1, 5):
        page = document.new_page()
        rect = pymupdf.Rect(50, 50, 550, 800)
        page.insert_textbox(rect, f"Page{number}Marker. " + _sentences(f"page-{number}", 25), fontsize=8)
    path = tmp_path / "pages.pdf"
    document.save(path)
    doc = load(path, max_bytes=2**24)
    chunks = chunk_document(doc, count)
    _check(doc, chunks, count)
    for number in range(1, 5):
        on_page = [c for c in chunks if f"page-{number} " in c.text]
        assert on_page and {c.page for c in on_page} == {number}
    assert len(chunks) > 4  # every page needs more than one chunk


def test_markdown_sections_and_overlap(count: Count) -> None:
    text = (
        "# Intro\n\nShort intro paragraph.\n\nAnother short one.\n\n"
        f"## Long section\n\n{_sentences('long', 60)}\n\n"
        "## Tail\n\nThe end.\n"
    )
    headings = [Heading(text.index("# Intro"), 1, "Intro"), Heading(text.index("## Long"), 2, "Long section"),
                Heading(text.index("## Tail"), 2, "Tail")]
    doc = ParsedDocument(text=text, kind="markdown", headings=headings)
    chunks = chunk_document(doc, count, max_tokens=120, overlap_tokens=32)
    _check(doc, chunks, count, max_tokens=120)
    assert chunks[0].text == "# Intro\n\nShort intro paragraph.\n\nAnother short one."  # paragraphs packed
    assert chunks[-1].text == "## Tail\n\nThe end." and chunks[-1].section == "Tail"
    long = [c for c in chunks if c.section == "Long section"]
    assert len(long) >= 4
    for previous, following in itertools.pairwise(long):
        assert following.start < previous.end, "consecutive chunks of one paragraph overlap"
        overlap = count(doc.text[following.start : previous.end])
        assert 0 < overlap <= 32
    # overlap is whole sentences: the repeated text starts a sentence
    assert all(c.text.startswith(("The long", "## Long")) for c in long)
    # no overlap across sections
    assert chunks[1].start >= text.index("## Long")


def test_long_sentence_and_long_word(count: Count) -> None:
    words = " ".join(f"word{i}" for i in range(700))  # one sentence, no punctuation
    glued = "ab," * 1500  # no whitespace at all: 3,000 word pieces, too long to count in one go
    text = f"{words}\n\n{glued}\n\n日本語の文です。" * 2
    doc = ParsedDocument(text=text, kind="text")
    chunks = chunk_document(doc, count, max_tokens=64, overlap_tokens=8)
    _check(doc, chunks, count, max_tokens=64)


def test_code_without_blank_lines_splits_at_lines(count: Count) -> None:
    text = "\n".join(f"    value_{i} = compute(value_{i - 1}, factor={i})" for i in range(1, 200))
    doc = ParsedDocument(text=text, kind="code")
    chunks = chunk_document(doc, count, max_tokens=100)
    _check(doc, chunks, count, max_tokens=100)
    for chunk in chunks:  # cuts fall at line ends
        assert chunk.end == len(text) or text[chunk.end] == "\n"


def test_empty_and_whitespace_sections(count: Count) -> None:
    text = "# A\n\n\n# B\n\nbody\n\n"
    doc = ParsedDocument(text=text, kind="markdown", headings=[Heading(0, 1, "A"), Heading(6, 1, "B")])
    chunks = chunk_document(doc, count)
    _check(doc, chunks, count)
    assert [c.text for c in chunks] == ["# A", "# B\n\nbody"]
    assert chunk_document(ParsedDocument(text="  \n ", kind="text"), count) == []


def test_big_document_is_fast(count: Count) -> None:
    page_text = "\n\n".join(_sentences(f"topic{p}", 6) for p in range(4))  # about 500 tokens a page
    texts = [f"Page {n}.\n\n{page_text}" for n in range(400)]
    pages, offset = [], 0
    for number, page in enumerate(texts, start=1):
        pages.append(PageSpan(number, offset, offset + len(page)))
        offset += len(page) + 2
    doc = ParsedDocument(text="\n\n".join(texts), kind="pdf", pages=pages)
    started = time.perf_counter()
    chunks = chunk_document(doc, count)
    elapsed = time.perf_counter() - started
    assert len(chunks) >= 800
    assert elapsed < 10, f"{elapsed:.1f} s for 400 pages"
    assert chunks[-1].page == 400
