"""Indexing real files: every loader, every bad input, changes, moves, deletes, forgetting, watching."""

from __future__ import annotations

import itertools
import os
import shutil
import time
from pathlib import Path

import pytest

from engine.embedding.embedder import OnnxEmbedder
from engine.ingest.sync import READER_VERSION, Indexer, IndexProgress
from engine.retrieval.search import Retriever
from engine.store.db import connect, rows
from engine.store.index_store import IndexStore
from tests.support.documents import write_docx, write_encrypted_pdf, write_epub, write_pdf, write_scanned_pdf

FACT_PAGES = ["Page one talks about the weather in Lisbon.",
              "Page two: the lighthouse keeper is named Marguerite Okonkwo.",
              "Page three: the harbour opened in 1891."]


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    return IndexStore(connect(tmp_path / "index.sqlite3"))


@pytest.fixture
def indexer(store: IndexStore, embedder) -> Indexer:  # type: ignore[no-untyped-def]
    return Indexer(store, embedder, max_file_bytes=2_000_000, parse_timeout_s=20)


def run(events: object) -> tuple[IndexProgress, list[IndexProgress]]:
    collected = list(events)  # type: ignore[call-overload]
    return collected[-1], collected


def outcomes(events: list[IndexProgress]) -> dict[str, tuple[str, str, str]]:
    return {os.path.basename(e.outcome.path): (e.outcome.action, e.outcome.status, e.outcome.reason)
            for e in events if e.outcome is not None}


def write_notes(folder: Path, count: int) -> Path:
    """A folder of ``count`` small Markdown notes, n0.md, n1.md, ..."""
    folder.mkdir()
    for i in range(count):
        (folder / f"n{i}.md").write_text(f"# Note {i}\n\nNote number {i}.")
    return folder


def assert_consistent(store: IndexStore) -> None:
    """No orphans anywhere: every chunk has its vector, bits and keywords, and the counts add up."""
    conn = store.conn
    assert rows(conn, "PRAGMA integrity_check") == [("ok",)]
    counts = store.counts()
    assert counts["chunks"] == counts["chunk_embeddings"] == counts["chunk_bits"] == counts["chunks_fts"]
    assert rows(conn, "SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)") == [(0,)]
    assert rows(conn, "SELECT count(*) FROM chunk_embeddings WHERE chunk_id NOT IN (SELECT id FROM chunks)") == [(0,)]
    assert rows(conn, "SELECT count(*) FROM chunk_bits WHERE rowid NOT IN (SELECT id FROM chunks)") == [(0,)]
    mismatched = rows(conn, "SELECT d.path FROM documents d WHERE d.chunk_count != "
                            "(SELECT count(*) FROM chunks c WHERE c.document_id = d.id)")
    assert mismatched == []
    doubled = rows(conn, "SELECT document_id, ordinal FROM chunks GROUP BY document_id, ordinal HAVING count(*) > 1")
    assert doubled == []
    chunk_ids = rows(conn, "SELECT id FROM chunks ORDER BY id")
    if chunk_ids:  # chunk_bits exists once an embedder was recorded
        assert rows(conn, "SELECT rowid FROM chunk_bits ORDER BY rowid") == chunk_ids
    # The keyword index holds exactly the chunks' words (FTS5 raises SQLITE_CORRUPT_VTAB otherwise).
    conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")


def test_every_loader_through_the_indexer(tmp_path: Path, indexer: Indexer, store: IndexStore) -> None:
    folder = tmp_path / "library"
    (folder / "sub dir é").mkdir(parents=True)
    write_pdf(folder / "harbour.pdf", FACT_PAGES)
    write_epub(folder / "book.epub", "Tides", "The spring tide reached four metres.")
    (folder / "notes.md").write_text("# Notes\n\nThe vault code is 4417.\n", "utf-8")
    (folder / "utf16.txt").write_bytes("Grüße aus Köln, UTF-16 with a BOM.".encode("utf-16"))
    (folder / "legacy.txt").write_bytes("Café crème costs four euros.".encode("cp1252"))
    (folder / "page.html").write_text("<html><head><title>Ferry</title><script>var x=1;</script></head><body><nav>"
                                      "Home | About</nav><main><p>The ferry leaves at noon.</p></main></body></html>")
    write_docx(folder / "report.docx", "Budget", ["The budget is 12 million."], [["item", "cost"], ["boat", "3"]])
    (folder / "sub dir é" / "🙂 odd name.rst").write_text("Title\n=====\n\nReStructured text works too.\n")
    (folder / "script.py").write_text("def greet():\n    return 'hello from source code'\n")
    (folder / "song.mp3").write_bytes(b"ID3\x04\0\0" + b"\0" * 100)  # not a document type: passed over
    last, _events = run(indexer.add([folder], "Test"))
    assert last.phase == "finished"
    documents = {os.path.basename(d.path): d for d in store.documents()}
    assert set(documents) == {"harbour.pdf", "book.epub", "notes.md", "utf16.txt", "legacy.txt", "page.html",
                              "report.docx", "🙂 odd name.rst", "script.py"}
    assert all(d.status == "indexed" for d in documents.values()), [(d.path, d.error) for d in documents.values()]
    assert documents["harbour.pdf"].pages == 3
    assert last.summary["unsupported"] == 1
    texts = " ".join(r[0] for r in rows(store.conn, "SELECT text FROM chunks"))
    for fact in ("Marguerite Okonkwo", "spring tide", "4417", "Grüße aus Köln", "Café crème", "ferry leaves",
                 "12 million", "item: boat | cost: 3", "ReStructured", "hello from source code"):
        assert fact in texts
    assert "var x" not in texts and "Home | About" not in texts
    page_of = dict(rows(store.conn, "SELECT text, page FROM chunks WHERE text LIKE '%lighthouse%'"))
    assert list(page_of.values()) == [2]
    assert_consistent(store)


def test_bad_files_are_named_with_reasons_and_the_rest_is_indexed(tmp_path: Path, indexer: Indexer,
                                                                  store: IndexStore) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_pdf(folder / "good.pdf", ["A perfectly fine document about owls."])
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(400))
    write_encrypted_pdf(folder / "locked.pdf", "secret text")
    write_scanned_pdf(folder / "scan.pdf")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "huge.txt").write_text("x" * 2_100_000)
    (folder / "fake.txt").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 4)
    (folder / "loop").symlink_to(folder)  # a folder that contains itself
    (folder / "dangling.md").symlink_to(folder / "does-not-exist.md")
    last, events = run(indexer.add([folder]))
    found = outcomes(events)
    assert found["good.pdf"][:2] == ("indexed", "indexed")
    assert found["corrupt.pdf"][1] == "failed"
    assert found["locked.pdf"][1:] == ("needs_password", "encrypted: needs a password")
    assert found["scan.pdf"][1:] == ("empty", "no text found: OCR read nothing on page 1")
    assert found["empty.txt"][1] == "empty"
    assert found["huge.txt"][1] == "skipped" and "too large" in found["huge.txt"][2]
    assert found["fake.txt"][1] == "skipped" and "binary" in found["fake.txt"][2]
    assert "symbolic link loop" in found["loop"][2]
    assert "broken symbolic link" in found["dangling.md"][2]
    statuses = {os.path.basename(d.path): (d.status, d.error) for d in store.documents()}
    assert statuses["scan.pdf"] == ("empty", "no text found: OCR read nothing on page 1")
    assert last.summary["indexed"] == 1
    assert_consistent(store)


def test_unreadable_file_is_reported(tmp_path: Path, store: IndexStore, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "private"
    folder.mkdir()
    secret = folder / "secret.md"
    secret.write_text("# hidden\n\ncontent")
    (folder / "open.md").write_text("# open\n\nreadable content")
    as_root = os.geteuid() == 0
    loader = "tests.support.bad_loaders:deny_secret_files" if as_root else "engine.ingest.loaders:load"
    indexer = Indexer(store, embedder, loader=loader)
    secret.chmod(0)
    try:
        _last, events = run(indexer.add([folder]))
    finally:
        secret.chmod(0o644)
    assert outcomes(events)["secret.md"][1:] == ("failed", "cannot read: permission denied")
    assert outcomes(events)["open.md"][1] == "indexed"


def test_parser_hang_and_crash_do_not_take_the_app_down(tmp_path: Path, store: IndexStore, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "poison-hang.md").write_text("# hang\n\nThis parser never returns.")
    (folder / "poison-crash.md").write_text("# crash\n\nThis parser dies.")
    (folder / "fine.md").write_text("# fine\n\nThis one is fine.")
    indexer = Indexer(store, embedder, parse_timeout_s=3, loader="tests.support.bad_loaders:hang_on_poison")
    started = time.monotonic()
    _last, events = run(indexer.add([folder]))
    found = outcomes(events)
    assert "longer than 3 s" in found["poison-hang.md"][2]
    assert "crashed" in found["poison-crash.md"][2]
    assert found["fine.md"][:2] == ("indexed", "indexed")
    assert time.monotonic() - started < 30


def test_change_reembeds_only_changed_chunks(tmp_path: Path, indexer: Indexer, store: IndexStore) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    sections = [f"## Section {i}\n\n" + f"Paragraph {i} describes topic number {i} at length. " * 12
                for i in range(6)]
    target = folder / "long.md"
    target.write_text("# Long\n\n" + "\n\n".join(sections))
    run(indexer.add([folder]))
    before = store.documents()[0].chunks
    sections[3] = "## Section 3\n\nThis section was rewritten entirely with new facts about otters."
    target.write_text("# Long\n\n" + "\n\n".join(sections))
    _last, events = run(indexer.sync())
    [outcome] = [e.outcome for e in events if e.outcome is not None]
    assert outcome.action == "indexed" and 0 < outcome.embedded < outcome.chunks
    assert before >= outcome.chunks - 1
    assert "otters" in " ".join(r[0] for r in rows(store.conn, "SELECT text FROM chunks"))
    assert_consistent(store)


def test_unchanged_resync_reads_nothing_and_touch_is_not_a_change(tmp_path: Path, indexer: Indexer,
                                                                  store: IndexStore) -> None:
    folder = write_notes(tmp_path / "docs", 20)
    run(indexer.add([folder]))
    last, events = run(indexer.sync())
    assert last.summary["unchanged"] == 20 and last.files_total == 0
    os.utime(folder / "n3.md", ns=(time.time_ns(), time.time_ns() + 10**9))
    last, _events = run(indexer.sync())
    assert last.summary["touched"] == 1 and last.files_total == 0


def test_documents_read_by_an_older_reader_are_read_again_once(tmp_path: Path, indexer: Indexer,
                                                               store: IndexStore) -> None:
    run(indexer.add([write_notes(tmp_path / "docs", 3)]))
    with store.conn:  # as if n1.md had been read before the reader last changed (or before the column existed)
        store.conn.execute("UPDATE documents SET reader_version = 0 WHERE path LIKE '%n1.md'")
    last, events = run(indexer.sync())
    assert {name: action for name, (action, _status, _reason) in outcomes(events).items()} == {"n1.md": "indexed"}
    assert last.summary["unchanged"] == 2
    assert rows(store.conn, "SELECT DISTINCT reader_version FROM documents") == [(READER_VERSION,)]
    [outcome] = [e.outcome for e in events if e.outcome is not None]
    assert outcome.embedded == 0  # same text: its vectors are reused
    last, events = run(indexer.sync())
    assert last.summary["unchanged"] == 3 and not outcomes(events)
    assert_consistent(store)


def test_move_and_rename_keep_the_vectors(tmp_path: Path, indexer: Indexer, store: IndexStore) -> None:
    folder = tmp_path / "docs"
    (folder / "a").mkdir(parents=True)
    write_pdf(folder / "a" / "harbour.pdf", FACT_PAGES)
    run(indexer.add([folder]))
    chunk_ids = rows(store.conn, "SELECT id FROM chunks ORDER BY id")
    (folder / "b").mkdir()
    shutil.move(folder / "a" / "harbour.pdf", folder / "b" / "renamed harbour.pdf")
    _last, events = run(indexer.sync())
    [outcome] = [e.outcome for e in events if e.outcome is not None]
    assert outcome.action == "moved" and outcome.moved_from.endswith("a/harbour.pdf")
    assert [d.path for d in store.documents()] == [str(folder / "b" / "renamed harbour.pdf")]
    assert rows(store.conn, "SELECT id FROM chunks ORDER BY id") == chunk_ids  # nothing re-embedded
    assert_consistent(store)


def test_delete_and_forget_remove_every_trace(tmp_path: Path, indexer: Indexer, store: IndexStore) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_pdf(folder / "one.pdf", FACT_PAGES)
    (folder / "two.md").write_text("# Two\n\nThe second document mentions zebras.")
    run(indexer.add([folder]))
    full = store.counts()
    assert full["documents"] == 2 and full["chunks"] > 0
    (folder / "two.md").unlink()
    last, events = run(indexer.sync())
    assert outcomes(events)["two.md"][0] == "removed"
    assert not rows(store.conn, "SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH 'zebras'")
    assert store.counts()["documents"] == 1
    assert rows(store.conn, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'okonkwo'") == [(1,)]
    assert indexer.forget([folder]) == 1
    assert store.counts() == {"documents": 0, "chunks": 0, "chunk_embeddings": 0, "chunks_fts": 0, "chunk_bits": 0}
    # count(*) on the external-content FTS table counts the chunks table: the keyword index is asked itself.
    assert rows(store.conn, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'okonkwo'") == [(0,)]
    assert store.roots() == []
    _last, events = run(indexer.sync())  # the folder is no longer followed
    assert store.counts()["documents"] == 0


def test_collections_keep_documents_apart(tmp_path: Path, indexer: Indexer, store: IndexStore) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "home").mkdir()
    (tmp_path / "work" / "w.md").write_text("# Work\n\nQuarterly numbers.")
    (tmp_path / "home" / "h.md").write_text("# Home\n\nGarden plans.")
    run(indexer.add([tmp_path / "work"], "Work"))
    run(indexer.add([tmp_path / "home"], "Home"))
    assert {c.name: c.document_count for c in store.collections()} == {"Work": 1, "Home": 1}
    assert [d.path for d in store.documents("Work")] == [str(tmp_path / "work" / "w.md")]


def test_progress_events_and_cancel_between_files(tmp_path: Path, indexer: Indexer, store: IndexStore) -> None:
    import threading

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(6):
        (folder / f"f{i}.md").write_text(f"# File {i}\n\n" + f"Sentence {i} about a subject. " * 30)
    cancel = threading.Event()
    seen: list[IndexProgress] = []
    for event in indexer.add([folder], cancel=cancel):
        seen.append(event)
        if event.files_done == 2:
            cancel.set()
    last = seen[-1]
    assert last.phase == "cancelled" and last.files_done == 2 and last.fraction == 2 / 6
    assert [os.path.basename(p) for p in last.waiting] == ["f2.md", "f3.md", "f4.md", "f5.md"]
    indexing = [e for e in seen if e.phase == "indexing"]
    assert indexing[0].files_total == 6 and indexing[-1].chunks_per_s > 0
    # Each file is named while it is worked on, before its outcome; once done, the label names no file.
    for position, event in enumerate(indexing):
        if event.outcome is not None:
            before = indexing[position - 1]
            assert before.current == event.outcome.path and before.stage in ("reading", "embedding")
            assert event.current == ""
    assert indexing[0].current.endswith("f0.md") and indexing[0].stage == "reading" and indexing[0].files_done == 0
    assert all(a.fraction <= b.fraction for a, b in itertools.pairwise(indexing))
    assert_consistent(store)
    last, _events = run(indexer.sync(last.waiting))  # resumes exactly the four left
    assert last.files_total == 4 and last.summary["indexed"] == 4


def test_the_estimate_waits_for_enough_work_and_ignores_the_scan(tmp_path: Path, indexer: Indexer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.ingest import sync

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    estimate = sync.Estimate(40)
    assert estimate.left_s(1.0) is None  # nothing timed yet
    estimate.start()
    clock[0] += 2
    assert estimate.left_s(1.0) is None  # under 3 s seen
    clock[0] += 2
    assert estimate.left_s(1.5) is None  # under 2 files' worth
    assert estimate.left_s(2.0) == pytest.approx(38 * 4 / 2)  # 2 s a file, 38 files to go
    assert sync.Estimate(1).left_s(0.0) is None
    monkeypatch.undo()

    # A re-scan whose planning takes ten minutes (thousands of unchanged files): the rate of the four new files
    # is not diluted by it.
    folder = write_notes(tmp_path / "notes", 4)
    run(indexer.add([folder]))
    for i in range(4, 8):
        (folder / f"n{i}.md").write_text(f"# Note {i}\n\nNote number {i}.")
    real_plan, real_monotonic = indexer.plan, time.monotonic
    offset = [0.0]

    def slow_plan(*args: object) -> object:
        offset[0] += 600
        return real_plan(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(indexer, "plan", slow_plan)
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + offset[0])
    last, events = run(indexer.sync())
    assert last.files_total == 4 and last.summary["unchanged"] == 4
    estimates = [e.eta_s for e in events if e.eta_s is not None]
    assert all(eta < 30 for eta in estimates), estimates


def test_vector_search_follows_additions_and_deletions(tmp_path: Path, indexer: Indexer, store: IndexStore,
                                                       embedder: OnnxEmbedder) -> None:
    from engine.retrieval.search import Retriever

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "owls.md").write_text("# Owls\n\nOwls hunt small mammals at night.")
    run(indexer.add([folder]))
    retriever = Retriever(store.conn, embedder)
    assert retriever.search("nocturnal birds of prey", k=1, mode="dense")[0].path.endswith("owls.md")
    (folder / "tides.md").write_text("# Tides\n\nThe moon's gravity raises ocean tides twice a day.")
    run(indexer.sync())  # an append: the in-memory binary copy takes the new rows
    assert retriever.search("why does the sea level rise and fall", k=1, mode="dense")[0].path.endswith("tides.md")
    (folder / "tides.md").unlink()
    run(indexer.sync())  # a deletion: the copy is reloaded, no vector of a forgotten file comes back
    assert all(not h.path.endswith("tides.md") for h in retriever.search("ocean tides", k=5, mode="dense"))


def test_a_file_name_that_is_not_utf8_is_indexed_and_followed(tmp_path: Path, indexer: Indexer, store: IndexStore,
                                                              embedder: OnnxEmbedder) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    odd = os.fsdecode(os.fsencode(folder) + b"/bad\xff.txt")  # what os.scandir hands over (PEP 383)
    Path(odd).write_text("The badly named note is about grey herons.", "utf-8")
    (folder / "good.md").write_text("# Good\n\nA note about barn owls.", "utf-8")
    last, events = run(indexer.add([folder]))
    assert last.phase == "finished" and last.summary["indexed"] == 2, outcomes(events)
    documents = {d.path: d for d in store.documents()}
    assert set(documents) == {odd, str(folder / "good.md")}
    assert documents[odd].status == "indexed" and documents[odd].title == "bad\\xff"  # shown, never garbled
    assert rows(store.conn, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'herons'") == [(1,)]
    assert Retriever(store.conn, embedder).search("grey herons", k=1)[0].path == odd  # the same name comes back
    last, _events = run(indexer.sync())  # the next sync finds it unchanged instead of crashing
    assert last.summary["unchanged"] == 2
    os.rename(odd, folder / "renamed.txt")
    _last, events = run(indexer.sync())
    assert outcomes(events)["renamed.txt"][0] == "moved"
    os.rename(folder / "renamed.txt", odd)
    run(indexer.sync())
    assert indexer.forget([odd]) == 1
    assert [d.path for d in store.documents()] == [str(folder / "good.md")]
    assert_consistent(store)


@pytest.mark.timeout(60)
def test_a_fifo_is_reported_never_opened(tmp_path: Path, indexer: Indexer) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    os.mkfifo(folder / "pipe.txt")  # opening it for reading would wait for a writer for ever
    (folder / "fine.md").write_text("# Fine\n\nA plain note.", "utf-8")
    os.mkfifo(tmp_path / "named.md")
    _last, events = run(indexer.add([folder, tmp_path / "named.md"]))
    found = outcomes(events)
    assert found["fine.md"][:2] == ("indexed", "indexed")
    assert found["pipe.txt"][1:] == ("skipped", "not a regular file (a named pipe)")
    assert found["named.md"][1:] == ("skipped", "not a regular file (a named pipe)")


@pytest.mark.timeout(60)
def test_the_size_limit_applies_before_a_file_is_read(tmp_path: Path, store: IndexStore, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "big"
    folder.mkdir()
    with open(folder / "sparse.txt", "wb") as handle:  # 64 GB that take no disk: reading them would take minutes
        handle.truncate(64 * 2**30)
    indexer = Indexer(store, embedder, max_file_bytes=2_000_000)
    started = time.monotonic()
    _last, events = run(indexer.add([folder]))
    assert time.monotonic() - started < 20
    assert outcomes(events)["sparse.txt"][1] == "skipped" and "too large: 64 GB" in outcomes(events)["sparse.txt"][2]


def test_one_huge_file_reports_progress_inside_itself(tmp_path: Path, store: IndexStore, embedder) -> None:  # type: ignore[no-untyped-def]
    """A one-line text file of many embedding slices: the progress moves while it embeds, not only at its end."""
    indexer = Indexer(store, embedder, embed_slice=16)
    folder = tmp_path / "huge"
    folder.mkdir()
    words = ["tide", "harbour", "gull", "net", "rope", "keel", "mast", "sail", "buoy", "anchor", "pier", "wave"]
    (folder / "one line.txt").write_text(" ".join(f"{words[i % len(words)]}{i % 97}" for i in range(2_500)))
    events = list(indexer.add([folder]))
    inside = [e for e in events if e.outcome is None and 0 < e.current_chunks_done < e.current_chunks_total]
    assert inside, "no progress while the file was being embedded"
    assert inside[0].files_done == 0 and inside[0].current.endswith("one line.txt")
    assert 0 < inside[0].fraction < 1 and inside[0].stage == "embedding"
    assert events[-1].phase == "finished" and events[-1].summary["indexed"] == 1
