"""The store's behaviour on both backends: the SQLite file and a real PostgreSQL server with pgvector.

Each test runs twice (``library`` is parametrised): the same calls through the protocols of
``engine/store/interface.py`` must give the same results whichever database holds the library.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.embedding.embedder import Embedder
from engine.errors import IndexMismatchError
from engine.library import Connection, Library, SqliteLibrary
from engine.records import ChunkSpan, Citation
from engine.store.index_store import NewDocument
from engine.store.interface import ConversationLog, LibraryStore
from engine.store.postgres.library import PostgresLibrary
from tests.support.postgres_server import PostgresServer

READER = 4


@dataclass
class Opened:
    library: Library
    conn: Connection
    store: LibraryStore
    conversations: ConversationLog


@pytest.fixture(params=["sqlite", "postgres"])
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    library: Library
    if request.param == "sqlite":
        library = SqliteLibrary(tmp_path / "library.sqlite3")
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database()
        request.addfinalizer(lambda: server.drop_database(url))
        library = PostgresLibrary(url, owner="tester")
    conn = library.connect()
    yield Opened(library, conn, library.index_store(conn), library.conversation_store(conn))
    conn.close()


def _document(collection_id: int, path: str, content_hash: str = "h1") -> NewDocument:
    return NewDocument(collection_id, path, "text", Path(path).name, 10, 1, content_hash, 1, READER)


def _write(store: LibraryStore, embedder: Embedder, collection_id: int, path: str, texts: list[str]) -> int:
    chunks = []
    offset = 0
    for text in texts:
        chunks.append(ChunkSpan(text=text, start=offset, end=offset + len(text), page=1, section="Intro"))
        offset += len(text) + 1
    return store.write_document(_document(collection_id, path), chunks, embedder.embed(texts),
                                [f"hash-{t}" for t in texts])


def test_the_embedding_model_is_recorded_and_another_refused(opened: Opened) -> None:
    assert opened.store.embedder_info() == (None, None)
    opened.store.ensure_embedder("all-MiniLM-L6-v2", 384)
    opened.store.ensure_embedder("all-MiniLM-L6-v2", 384)
    assert opened.store.embedder_info() == ("all-MiniLM-L6-v2", 384)
    with pytest.raises(IndexMismatchError):
        opened.store.ensure_embedder("another-model", 768)


def test_collections_roots_and_exclusions(opened: Opened) -> None:
    store = opened.store
    work = store.collection_id("Work")
    assert work is not None and store.collection_id("Work") == work
    assert store.collection_id("Nope", create=False) is None
    store.add_root(work, "/data/work")
    store.exclude(work, "/data/work/private")
    assert store.roots() == [(work, "/data/work")]
    assert [(e.path, e.collection) for e in store.exclusions()] == [("/data/work/private", "Work")]
    store.include(["/data/work/private"])
    assert store.exclusions() == []
    [collection] = store.collections()
    assert (collection.name, collection.roots, collection.document_count) == ("Work", ["/data/work"], 0)
    store.remove_root("/data/work")
    assert store.roots() == []


def test_a_document_is_written_replaced_moved_and_failed_whole(opened: Opened, embedder: Embedder) -> None:
    store = opened.store
    store.ensure_embedder(embedder.name, embedder.dim)
    work = store.collection_id("Work")
    assert work is not None
    doc_id = _write(store, embedder, work, "/data/a.md", ["The ferry leaves at seven.", "The bus at nine."])
    assert _write(store, embedder, work, "/data/a.md", ["Only one chunk now."]) == doc_id  # same path, same row
    [record] = store.documents()
    assert (record.path, record.chunks, record.status) == ("/data/a.md", 1, "indexed")
    assert store.counts()["chunks"] == 1
    reused = store.reusable_vectors(["hash-Only one chunk now.", "hash-unknown"])
    assert list(reused) == ["hash-Only one chunk now."]
    assert np.frombuffer(reused["hash-Only one chunk now."], dtype=np.float32).shape == (embedder.dim,)
    store.move_document(doc_id, "/data/b.md", 11, 2)
    state = store.file_states()["/data/b.md"]
    assert (state.id, state.size, state.mtime_ns) == (doc_id, 11, 2)
    store.record_failure(_document(work, "/data/b.md"), "failed", "damaged: cut short")
    [failed] = store.documents()
    assert (failed.status, failed.error, failed.chunks) == ("failed", "damaged: cut short", 0)
    assert store.counts()["chunks"] == 0


def test_a_write_that_fails_halfway_leaves_the_document_as_it_was(opened: Opened, embedder: Embedder) -> None:
    store = opened.store
    store.ensure_embedder(embedder.name, embedder.dim)
    work = store.collection_id("Work")
    assert work is not None
    _write(store, embedder, work, "/data/a.md", ["The ferry leaves at seven."])
    broken = [ChunkSpan(text="A new first chunk.", start=0, end=18, page=1, section=""),
              ChunkSpan(text=None, start=19, end=30, page=1, section="")]  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - each database reports the missing text its own way
        store.write_document(_document(work, "/data/a.md", "h2"), broken, embedder.embed(["x", "y"]), ["n1", "n2"])
    [record] = store.documents()
    assert record.chunks == 1 and store.file_states()["/data/a.md"].content_hash == "h1"
    assert store.counts()["chunks"] == 1


def test_conversations_are_kept_searched_and_exported(opened: Opened) -> None:
    log = opened.conversations
    chat = log.create("Ferries", ["Work"])
    log.add_message(chat.id, "user", "When does the Ferry leave?")
    log.add_message(chat.id, "assistant", "At seven [1].", [Citation(1, "/data/a.md", 1, 0, 26, "The ferry ...")])
    other = log.create("Buses")
    assert [c.title for c in log.all()] == ["Buses", "Ferries"]  # the most recently updated first
    assert [c.id for c in log.search("ferry")] == [chat.id]  # case does not matter
    assert log.search("") == log.all()
    log.rename(other.id, "  ")
    assert log.get(other.id) is not None and log.get(other.id).title == "Untitled"  # type: ignore[union-attr]
    log.set_collections(other.id, None)
    markdown = log.export_markdown(chat.id)
    assert "**You:**" in markdown and "- [1] /data/a.md, page 1" in markdown
    log.delete_last_answer(chat.id)
    assert [m.role for m in log.messages(chat.id)] == ["user"]
    log.delete(other.id)
    assert log.count() == 1


def test_forgetting_leaves_no_trace_in_chunks_vectors_keywords_or_citations(opened: Opened,
                                                                          embedder: Embedder) -> None:
    store = opened.store
    store.ensure_embedder(embedder.name, embedder.dim)
    work = store.collection_id("Work")
    assert work is not None
    secret = _write(store, embedder, work, "/data/vault.md", ["The vault password is quorbelvintrix."])
    _write(store, embedder, work, "/data/herons.md", ["Grey herons wait at the edge of the pond."])
    chat = opened.conversations.create("Vault")
    opened.conversations.add_message(chat.id, "assistant", "It is quorbelvintrix [1].",
                                     [Citation(1, "/data/vault.md", 1, 0, 36, "The vault password ...",
                                               document_id=secret)])
    searcher = opened.library.searcher(opened.conn, embedder, "relative")
    assert searcher.search("quorbelvintrix", k=3, mode="keyword")
    store.forget_documents([secret])
    assert searcher.search("quorbelvintrix", k=3, mode="keyword") == []
    assert [h.path for h in searcher.search("vault password", k=3, mode="dense")] == ["/data/herons.md"]
    assert set(store.counts().values()) == {1}  # the heron note's row, chunk, vector and keywords, nothing else
    [message] = opened.conversations.messages(chat.id)
    assert message.citations == [] and message.sources_forgotten


def test_hybrid_search_finds_by_meaning_and_by_word_within_collections(opened: Opened, embedder: Embedder) -> None:
    store = opened.store
    store.ensure_embedder(embedder.name, embedder.dim)
    work, home = store.collection_id("Work"), store.collection_id("Home")
    assert work is not None and home is not None
    _write(store, embedder, work, "/work/ferry.md", ["The ferry to the island leaves the harbour at seven.",
                                                     "Tickets are sold on board."])
    _write(store, embedder, work, "/work/cv.md", ["Her résumé lists three years in Zürich."])
    _write(store, embedder, home, "/home/garden.md", ["Tomatoes need sun and water every morning."])
    searcher = opened.library.searcher(opened.conn, embedder, "relative")
    assert searcher.search("when does the boat depart", k=1, mode="dense")[0].path == "/work/ferry.md"
    keyword = searcher.search("resume zurich", k=2, mode="keyword")  # accents fold, as FTS5 folds them here
    assert [h.path for h in keyword] == ["/work/cv.md"]
    hybrid = searcher.search("ferry tickets", k=3)
    assert hybrid[0].path == "/work/ferry.md" and set(hybrid[0].ranks) == {"dense", "keyword"}
    assert hybrid[0].chunk_ids and len(hybrid[0].chunk_ids) == 2  # the two neighbouring chunks merged
    assert [h.path for h in searcher.search("ferry", k=3, collection="Home")] == ["/home/garden.md"]
    assert searcher.search("ferry", k=3, collection=["Nope"]) == []
    assert searcher.has_documents() and searcher.has_documents("Home") and not searcher.has_documents("Nope")
    assert searcher.chunk_count() == 4
    assert searcher.stem_document_frequencies(["harbo", "tomat", "zzz"]) == {"harbo": 1, "tomat": 1, "zzz": 0}


def test_forgetting_everything_empties_the_library(opened: Opened, embedder: Embedder) -> None:
    store = opened.store
    store.ensure_embedder(embedder.name, embedder.dim)
    work = store.collection_id("Work")
    assert work is not None
    store.add_root(work, "/data")
    _write(store, embedder, work, "/data/vault.md", ["The vault password is quorbelvintrix."])
    opened.conversations.create("Vault")
    store.forget_everything()
    assert set(store.counts().values()) == {0}
    assert store.collections() == [] and store.roots() == [] and opened.conversations.count() == 0
    assert store.embedder_info() == (embedder.name, embedder.dim)  # the library keeps its model
