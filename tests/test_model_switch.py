"""Switching the embedding model re-embeds the stored chunks (no file read again), resumably, never mixing models."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from engine.api import Engine
from engine.embedding.e5 import E5_NAME, E5Embedder
from engine.embedding.embedder import Vectors
from engine.errors import IndexMismatchError
from engine.ingest.reembed import reembed
from engine.ingest.sync import Indexer
from engine.retrieval.search import Retriever
from engine.store import model_switch
from engine.store.db import connect, rows
from engine.store.index_store import IndexStore
from tests.test_e5_embedder import GERMAN_NOTES, QUESTIONS, index_notes


class CountingE5(E5Embedder):
    """The real multilingual embedder, counting the passages it embeds."""

    def __init__(self) -> None:
        super().__init__(threads=2)
        self.embedded = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.embedded += len(texts)
        return super().embed(texts)


def test_switching_re_embeds_stored_chunks_resumably_and_never_mixes_models(  # type: ignore[no-untyped-def]
        tmp_path: Path, embedder) -> None:
    store = IndexStore(connect(tmp_path / "index.sqlite3"))
    notes = tmp_path / "notes"
    index_notes(notes, store, embedder)  # MiniLM
    total = store.counts()["chunks"]
    assert total == len(GERMAN_NOTES)
    texts_before = rows(store.conn, "SELECT id, text FROM chunks ORDER BY id")
    for note in notes.iterdir():  # nothing is read again: the files may be gone
        note.unlink()

    e5 = CountingE5()
    stop = threading.Event()
    first = []
    for step in reembed(store.conn, e5, stop, batch=2):
        first.append(step)
        stop.set()  # stopped after the first batch
    assert [(s.done, s.total, s.finished) for s in first] == [(2, total, False)]
    # Half-way: the index is still MiniLM's, whole, and searched with MiniLM.
    assert store.embedder_info() == ("all-MiniLM-L6-v2", 384)
    assert model_switch.switching_to(store.conn) == E5_NAME
    assert store.counts()["chunk_embeddings"] == store.counts()["chunk_bits"] == total
    assert Retriever(store.conn, embedder).search("Heizung Brenner", k=1, mode="dense")

    second = list(reembed(store.conn, e5, batch=2))  # resumed: only the chunks left
    assert [(s.done, s.finished) for s in second] == [(4, False), (4, True)]
    assert e5.embedded == total
    assert store.embedder_info() == (E5_NAME, 384)
    assert model_switch.switching_to(store.conn) is None
    assert rows(store.conn, "SELECT id, text FROM chunks ORDER BY id") == texts_before
    counts = store.counts()
    assert counts["chunks"] == counts["chunk_embeddings"] == counts["chunk_bits"] == counts["chunks_fts"] == total
    assert rows(store.conn, "SELECT name FROM sqlite_master WHERE name = ?", (model_switch.STAGING,)) == []

    retriever = Retriever(store.conn, e5)  # the new vectors are searched: English questions, German notes
    for question, expected in QUESTIONS.items():
        assert Path(retriever.search(question, k=1, mode="dense")[0].path).name == expected, question
    with pytest.raises(IndexMismatchError):
        Indexer(store, embedder, max_file_bytes=1_000_000, parse_timeout_s=20)  # MiniLM may not add to it now
    assert list(reembed(store.conn, e5))[-1].finished  # switching to the model it has: nothing to do
    assert e5.embedded == total


def test_the_engine_switches_models_and_loads_the_one_its_index_records(tmp_path: Path) -> None:
    database = tmp_path / "index.sqlite3"
    notes = tmp_path / "notes"
    notes.mkdir()
    for name, text in GERMAN_NOTES.items():
        (notes / name).write_text(text, "utf-8")
    engine = Engine(database=database)
    try:
        list(engine.index([notes], "Notes"))
        assert engine.embedder().name == "all-MiniLM-L6-v2"
        steps = list(engine.switch_embedder(E5_NAME))
        assert steps[-1].finished and steps[-1].done == steps[-1].total == len(GERMAN_NOTES)
        assert engine.embedder().name == E5_NAME
        hits = engine.retriever().search("Where are the winter tyres kept?", k=1, mode="dense")
        assert Path(hits[0].path).name == "auto.md"
    finally:
        engine.close()
    reopened = Engine(database=database)
    try:
        assert reopened.embedder().name == E5_NAME  # the index's model, not the default
    finally:
        reopened.close()
