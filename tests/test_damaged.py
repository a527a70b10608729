"""Damaged files told apart from empty ones: a PDF cut short, which MuPDF silently repairs, is reported as damaged."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from engine.ingest import loaders
from engine.ingest.status import FAILED, INDEXED, LoadError
from engine.ingest.sync import Indexer
from engine.store.db import connect
from engine.store.index_store import IndexStore


def forty_pages() -> bytes:
    """A 40-page PDF written without object streams, page objects in page order (as many writers do)."""
    document = pymupdf.open()
    for number in range(1, 41):
        document.new_page().insert_text((72, 72), f"Page {number} of the harbour log: boats came and went.")
    return bytes(document.tobytes(garbage=0, deflate=False))


def cut_between_objects(data: bytes, fraction: float) -> bytes:
    """``data`` cut short near ``fraction`` of its length, after a whole object (a download stopped there)."""
    end = data.rfind(b"endobj", 0, int(len(data) * fraction))
    return data[: end + len(b"endobj\n")]


def test_a_pdf_cut_short_is_indexed_as_far_as_it_reads_and_reported_damaged(tmp_path: Path) -> None:
    path = tmp_path / "cut.pdf"
    path.write_bytes(cut_between_objects(forty_pages(), 0.6))
    document = loaders.load(path, max_bytes=10_000_000)
    readable = [p.number for p in document.pages if document.text[p.start:p.end].strip()]
    lost = 40 - len(readable)
    assert 0 < lost < 40 and readable == list(range(1, len(readable) + 1))
    assert document.problems == (
        f"damaged: repaired by the reader, {lost} of 40 pages unreadable (pages {len(readable) + 1}–40)",)


def test_a_pdf_whose_tail_is_lost_but_every_page_survives_is_still_flagged(tmp_path: Path) -> None:
    data = forty_pages()
    path = tmp_path / "tail.pdf"
    path.write_bytes(data[:-200])  # the cross-reference table and trailer are gone
    document = loaders.load(path, max_bytes=10_000_000)
    assert len(document.pages) == 40 and "Page 40 of the harbour log" in document.text
    assert document.problems == ("damaged: repaired by the reader, all 40 pages read",)


def test_a_cut_pdf_with_no_readable_page_is_damaged_not_empty(tmp_path: Path) -> None:
    document = pymupdf.open()
    for number in range(1, 41):
        document.new_page().insert_text((72, 72), f"Page {number} of the harbour log.")
    data = document.tobytes(use_objstms=1, garbage=1)  # objects packed in streams at the end, as modern writers do
    path = tmp_path / "half.pdf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError) as failure:
        loaders.load(path, max_bytes=len(data))
    assert (failure.value.status, failure.value.reason) == (
        FAILED, "damaged: repaired by the reader, but no page could be read (the file is cut short or corrupt)")


def test_a_pdf_cut_inside_an_object_is_damaged_with_the_readers_reason(tmp_path: Path) -> None:
    data = forty_pages()
    path = tmp_path / "mid.pdf"
    path.write_bytes(data[: data.find(b"/MediaBox", len(data) // 2) + 12])  # inside a page's [ ... ] array
    with pytest.raises(LoadError) as failure:
        loaders.load(path, max_bytes=len(data))
    assert failure.value.status == FAILED
    assert failure.value.reason.startswith("damaged: the file is cut short and the reader could not repair it (")


def test_the_damage_reaches_the_library_beside_the_readable_pages(tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                 embedder) -> None:
    folder = tmp_path / "log"
    folder.mkdir()
    (folder / "cut.pdf").write_bytes(cut_between_objects(forty_pages(), 0.6))
    store = IndexStore(connect(tmp_path / "index.sqlite3"))
    list(Indexer(store, embedder, max_file_bytes=2_000_000, parse_timeout_s=60).add([folder]))
    [record] = store.documents()
    assert record.status == INDEXED and record.chunks > 0
    assert record.error.startswith("damaged: repaired by the reader, ") and "of 40 pages unreadable" in record.error
