"""The in-memory copy of the binary vectors: it finds what an exact scan finds, and follows writes and deletes.

Real SQLite with sqlite-vec through IndexStore; the vectors are random unit vectors (what is under test is the
index, not the embedder), clustered so that a query has true near neighbours.
"""

from __future__ import annotations

import threading
from pathlib import Path

import apsw
import numpy as np
import pytest

from engine.records import ChunkSpan
from engine.retrieval import binary_index
from engine.retrieval.binary_index import BinaryIndex, Rows, binary_index_for
from engine.retrieval.search import Retriever
from engine.store import index_store, model_switch
from engine.store.db import connect, scalar
from engine.store.index_store import IndexStore, NewDocument

DIM = 384
RNG = np.random.default_rng(5)


def unit(vectors: np.ndarray) -> np.ndarray:
    normalised: np.ndarray = (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)
    return normalised


def clustered(n: int) -> np.ndarray:
    centres = unit(RNG.normal(size=(max(n // 20, 1), DIM)))
    return unit(centres[RNG.integers(0, len(centres), n)] + RNG.normal(0, 0.06, (n, DIM)))


def write(store: IndexStore, path: str, vectors: np.ndarray, collection: str = "c") -> int:
    collection_id = store.collection_id(collection)
    assert collection_id is not None
    doc = NewDocument(collection_id, path, "text", path, 1, 1, path, 1, 1)
    chunks = [ChunkSpan(0, 1, f"{path} {i}", 1, "") for i in range(len(vectors))]
    return store.write_document(doc, chunks, vectors, [f"{path}-{i}" for i in range(len(vectors))])


def chunk_ids(store: IndexStore, doc_id: int) -> list[int]:
    return [int(r[0]) for r in store.conn.execute("SELECT id FROM chunks WHERE document_id = ? ORDER BY id",
                                                  (doc_id,))]


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    binary_index._caches.clear()
    store = IndexStore(connect(tmp_path / "index.sqlite3"))
    store.ensure_embedder("test-model", DIM)
    return store


def test_dense_search_finds_the_exact_nearest(store: IndexStore) -> None:
    vectors = clustered(6000)
    for part in range(3):
        write(store, f"doc{part}", vectors[part * 2000 : (part + 1) * 2000])
    retriever = Retriever(store.conn, embedder=None)  # type: ignore[arg-type]  # dense_ids takes vectors
    recalls = []
    for query in unit(vectors[RNG.choice(len(vectors), 30)] + RNG.normal(0, 0.05, (30, DIM))):
        exact = {int(i) + 1 for i in np.argsort(-(vectors @ query))[:10]}  # chunk ids count from 1 here
        found = {cid for cid, _ in retriever.dense_ids(query, 40)[:10]}
        recalls.append(len(exact & found) / 10)
    assert np.mean(recalls) >= 0.98


def test_a_collection_filter_keeps_only_its_rows(store: IndexStore) -> None:
    vectors = clustered(400)
    write(store, "a", vectors[:200], collection="first")
    second = write(store, "b", vectors[200:], collection="second")
    second_id = store.collection_id("second")
    assert second_id is not None
    found = binary_index_for(store.conn).nearest(vectors[0], 50, [second_id])  # a query from the first collection
    assert found and set(found) <= set(chunk_ids(store, second))


def test_deletes_are_masked_without_reloading_and_a_reused_id_is_the_new_row(
        store: IndexStore, monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = clustered(300)
    write(store, "keep", vectors[:200])
    last = write(store, "last", vectors[200:])  # holds the highest chunk ids
    index = binary_index_for(store.conn)
    assert len(index) == 300
    gone = chunk_ids(store, last)
    full_loads: list[int] = []
    read = binary_index._read

    def counted_read(conn: apsw.Connection, after: int, words: int) -> Rows:
        if after == 0:
            full_loads.append(after)
        return read(conn, after, words)

    monkeypatch.setattr(binary_index, "_read", counted_read)

    store.delete_document(last)
    index = binary_index_for(store.conn)
    assert len(index) == 200 and not set(gone) & set(index.rows.ids.tolist())
    assert binary_index_for(store.conn).nearest(vectors[250], 20)[0] not in gone

    # SQLite gives the next rows the highest ids again; between two refreshes a document with the highest ids
    # is deleted and another written under the same ids: the copy must hold the new vectors under them.
    again = write(store, "again", clustered(100))
    assert len(binary_index_for(store.conn)) == 300
    store.delete_document(again)
    replacement = clustered(100)
    third = write(store, "third", replacement)
    assert chunk_ids(store, third) == gone
    index = binary_index_for(store.conn)
    assert len(index) == 300
    assert index.nearest(replacement[7], 5)[0] == chunk_ids(store, third)[7]
    assert full_loads == []  # every change above was applied in place


def test_the_query_against_the_bits_ranks_better_than_hamming_distance(store: IndexStore) -> None:
    rng = np.random.default_rng(8)
    vectors = clustered(6000)
    for part in range(3):
        write(store, f"doc{part}", vectors[part * 2000 : (part + 1) * 2000])
    index = binary_index_for(store.conn)
    by_bits, by_hamming = [], []
    for query in unit(vectors[rng.choice(len(vectors), 50)] + rng.normal(0, 0.05, (50, DIM))):
        exact = {int(i) + 1 for i in np.argsort(-(vectors @ query))[:10]}
        by_bits.append(len(exact & set(index.nearest(query, 10))) / 10)
        hamming = index.rows.hamming(binary_index._pack(query, index.rows.columns.shape[0]))
        nearest_by_hamming = index.rows.ids[binary_index._closest(hamming, 10, DIM + 1)[:10]]
        by_hamming.append(len(exact & set(nearest_by_hamming.tolist())) / 10)
    assert np.mean(by_bits) >= np.mean(by_hamming) + 0.05


def test_a_copy_older_than_the_trimmed_log_reloads(store: IndexStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_store, "DELETION_LOG_LIMIT", 40)
    vectors = clustered(200)
    docs = [write(store, f"d{i}", vectors[i * 20 : (i + 1) * 20]) for i in range(10)]
    stale = BinaryIndex()  # another process's copy, last refreshed now
    stale.refresh(store.conn)
    for doc in docs[:6]:  # 120 deletions: the log is trimmed on the way
        store.delete_document(doc)
    assert scalar(store.conn, "SELECT count(*) FROM chunk_deletions") < 120
    stale.refresh(store.conn)
    live = {cid for doc in docs[6:] for cid in chunk_ids(store, doc)}
    assert set(stale.rows.ids.tolist()) == live


def test_switching_the_embedding_model_reloads_the_copy(store: IndexStore) -> None:
    vectors = clustered(100)
    doc = write(store, "doc", vectors)
    assert len(binary_index_for(store.conn)) == 100
    ids = chunk_ids(store, doc)
    flipped = -vectors  # the "new model" puts every chunk on the other side of every hyperplane
    model_switch.begin(store.conn, "other-model", DIM)
    model_switch.stage(store.conn, ids, flipped)
    assert model_switch.finish(store.conn)
    index = binary_index_for(store.conn)
    assert index.nearest(flipped[3], 1) == [ids[3]]


def test_searches_in_other_threads_never_see_half_a_refresh(tmp_path: Path) -> None:
    """Eight searching threads while a writer adds and deletes documents: every search returns ids that existed,
    none fails (a search that read the ids of one state and the bits of another indexed past the end)."""
    binary_index._caches.clear()
    path = tmp_path / "shared.sqlite3"
    writer = IndexStore(connect(path))
    writer.ensure_embedder("test-model", DIM)
    vectors = clustered(4000)
    docs = [write(writer, f"seed{i}", vectors[i * 400 : (i + 1) * 400]) for i in range(5)]
    stop = threading.Event()
    failures: list[BaseException] = []

    def search(seed: int) -> None:
        conn = connect(path)
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                found = binary_index_for(conn).nearest(vectors[rng.integers(len(vectors))], 50)
                assert found and min(found) >= 1
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures.append(error)
        finally:
            conn.close()

    threads = [threading.Thread(target=search, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    try:
        for round_number in range(40):
            docs.append(write(writer, f"new{round_number}", vectors[(round_number % 10) * 400 :][:200]))
            writer.delete_document(docs.pop(0))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[0]
