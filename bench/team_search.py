"""The team library's search against the SQLite file's, in the same run, and under load.

    .venv/bin/python -m bench.team_search                       # 100k chunks
    .venv/bin/python -m bench.team_search --sizes 100000 1000000 --queries 100 --load-seconds 30

Chunks: ``bench.search_speed``'s synthetic vectors (noisy mixes of two real MiniLM embeddings of squad-dev
paragraphs and questions), each with the text of the paragraph or question it leans on, so keyword search has
real words to rank. Both libraries hold the same chunks: SQLite (FTS5 + binary vectors in memory + float
re-score) and PostgreSQL (tsvector + HNSW over halfvec + float re-score) on a throwaway server started from the
test wheel (``tests/support/postgres_server.py``: local socket, synchronous_commit off as SQLite's synchronous
NORMAL). Queries are real squad-dev questions, embedded once beforehand: the embedder costs the same on both
backends (bench.search_speed times it), so the figures are the databases' own.

1. p50/p95 of the full hybrid ``search()`` (both lists, fusion, chunk rows, merging) and of the vector list
   alone, with its recall@10 against an exact scan of the same vectors.
2. 8 clients (threads, a connection each) searching for ``--load-seconds`` while one more writes documents
   (20 chunks each, a transaction each): searches per second, p95, errors, documents written. On this 2-core
   machine the clients share the cores with the server; the GIL is released while a client waits on it.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.search_speed import percentile

if TYPE_CHECKING:
    from engine.retrieval.postgres_search import PgRetriever
    from engine.retrieval.search import Retriever
    from tests.support.postgres_server import PostgresServer

    Searching = Retriever | PgRetriever

CLIENTS = 8
CHUNKS_PER_DOCUMENT = 20
SERVER_SETTINGS = {"fsync": "on", "synchronous_commit": "off", "shared_buffers": "512MB",
                   "maintenance_work_mem": "2GB", "max_parallel_maintenance_workers": "1", "max_connections": "50",
                   "max_wal_size": "4GB"}


class KnownQueries:
    """The embedder's ``embed_query`` for questions embedded beforehand (search() embeds its query)."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray, dim: int) -> None:
        self.vectors = dict(zip(texts, vectors, strict=True))
        self.dim = dim
        self.name = "all-MiniLM-L6-v2"

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


def corpus(size: int, bases: np.ndarray, texts: list[str], rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """``size`` synthetic vectors and, for each, the text of the base it leans on most."""
    first = rng.integers(0, len(bases), size)
    second = rng.integers(0, len(bases), size)
    weight = rng.uniform(0.5, 1.0, (size, 1)).astype(np.float32)
    vectors = weight * bases[first] + (1 - weight) * bases[second] + rng.normal(0, 0.035, (size, bases.shape[1]))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return vectors, [texts[i] for i in first]


def build_sqlite(path: Path, vectors: np.ndarray, texts: list[str]) -> None:
    from engine.retrieval.search import quantise
    from engine.store.db import connect
    from engine.store.index_store import IndexStore

    conn = connect(path)
    IndexStore(conn).ensure_embedder("all-MiniLM-L6-v2", vectors.shape[1])
    bits = quantise(vectors)
    with conn:
        conn.execute("INSERT INTO collections(id, name, created_at) VALUES (1, 'Bench', 0)")
        conn.executemany("INSERT INTO documents(id, collection_id, path, status, chunk_count) "
                         "VALUES (?, 1, ?, 'indexed', ?)",
                         ((d + 1, f"/bench/{d}.txt", CHUNKS_PER_DOCUMENT)
                          for d in range((len(vectors) + CHUNKS_PER_DOCUMENT - 1) // CHUNKS_PER_DOCUMENT)))
    for start in range(0, len(vectors), 20_000):
        span = range(start, min(start + 20_000, len(vectors)))
        with conn:
            conn.executemany("INSERT INTO chunks(id, document_id, ordinal, page, start, end, text, text_hash) "
                             "VALUES (?, ?, ?, 1, 0, ?, ?, '')",
                             ((i + 1, i // CHUNKS_PER_DOCUMENT + 1, i % CHUNKS_PER_DOCUMENT, len(texts[i]), texts[i])
                              for i in span))
            conn.executemany("INSERT INTO chunk_embeddings(chunk_id, vector) VALUES (?, ?)",
                             ((i + 1, vectors[i].tobytes()) for i in span))
            conn.executemany("INSERT INTO chunk_bits(rowid, embedding, collection_id) VALUES (?, vec_bit(?), 1)",
                             ((i + 1, bits[i].tobytes()) for i in span))
    conn.close()


def build_postgres(url: str, vectors: np.ndarray, texts: list[str]) -> tuple[float, str]:
    """Bulk load (COPY, then the HNSW index built once); the seconds the index took, and the sizes on disk."""
    from engine.store.postgres.connection import connect
    from engine.store.postgres.index_store import vector_index_sql
    from engine.store.postgres.keywords import CONFIG, fold_accents

    conn = connect(url)
    conn.execute("INSERT INTO meta(key, value) VALUES ('embedder', 'all-MiniLM-L6-v2'), ('embedding_dim', %s)",
                 (str(vectors.shape[1]),))
    conn.execute("INSERT INTO collections(id, name, created_at) OVERRIDING SYSTEM VALUE VALUES (1, 'Bench', 0)")
    documents = (len(vectors) + CHUNKS_PER_DOCUMENT - 1) // CHUNKS_PER_DOCUMENT
    conn.execute("INSERT INTO documents(id, collection_id, path, status, chunk_count) OVERRIDING SYSTEM VALUE "
                 "SELECT d, 1, '/bench/' || (d - 1) || '.txt', 'indexed', %s FROM generate_series(1, %s) d",
                 (CHUNKS_PER_DOCUMENT, documents))
    conn.execute("CREATE UNLOGGED TABLE staged(id BIGINT, text TEXT, folded TEXT, embedding VECTOR)")
    with conn.cursor() as cursor, cursor.copy("COPY staged FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["int8", "text", "text", "vector"])
        for i, (vector, text) in enumerate(zip(vectors, texts, strict=True)):
            copy.write_row((i + 1, text, fold_accents(text), vector))
    conn.execute("INSERT INTO chunks(id, document_id, collection_id, ordinal, page, start, \"end\", text, text_hash, "
                 f"keywords, embedding) OVERRIDING SYSTEM VALUE SELECT id, (id - 1) / %s + 1, 1, (id - 1) %% %s, 1, "
                 f"0, length(text), text, '', to_tsvector('{CONFIG}', folded), embedding FROM staged",
                 (CHUNKS_PER_DOCUMENT, CHUNKS_PER_DOCUMENT))
    conn.execute("DROP TABLE staged")
    for name in ("chunks", "documents", "collections"):
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
    started = time.perf_counter()
    conn.execute(vector_index_sql(vectors.shape[1]))
    index_s = time.perf_counter() - started
    conn.execute("VACUUM ANALYZE chunks")
    sizes = conn.execute("SELECT pg_table_size('chunks'), pg_relation_size('chunks_embedding_hnsw'), "
                         "pg_relation_size('chunks_keywords'), pg_indexes_size('chunks')").fetchone()
    conn.close()
    assert sizes is not None
    rows, hnsw, gin, indexes = (int(v) for v in sizes)
    per_chunk = (rows + indexes) / len(vectors)
    return index_s, (f"rows {rows / 2**20:.0f} MiB, HNSW {hnsw / 2**20:.0f} MiB, GIN {gin / 2**20:.0f} MiB, "
                     f"all indexes {indexes / 2**20:.0f} MiB: {per_chunk / 1024:.1f} KiB a chunk")


def latencies(search: Callable[[str], object], queries: Sequence[str]) -> list[float]:
    for text in queries[:5]:  # warm caches
        search(text)
    times = []
    for text in queries:
        started = time.perf_counter()
        search(text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def under_load(open_searcher: Callable[[], tuple[Searching, Callable[[], None]]],
               write_document: Callable[[int], None], queries: Sequence[str], seconds: float) -> str:
    """CLIENTS threads searching and one writing for ``seconds``: a table row."""
    stop = threading.Event()
    times: list[float] = []
    errors: list[str] = []
    written = [0]
    lock = threading.Lock()

    def client(seed: int) -> None:
        searcher, close = open_searcher()
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                text = queries[int(rng.integers(0, len(queries)))]
                started = time.perf_counter()
                try:
                    searcher.search(text, k=5)
                except Exception as error:  # noqa: BLE001 - counted and reported, the load goes on
                    with lock:
                        errors.append(f"{type(error).__name__}: {error}")
                    continue
                with lock:
                    times.append((time.perf_counter() - started) * 1000)
        finally:
            close()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            try:
                write_document(n)
                written[0] += 1
            except Exception as error:  # noqa: BLE001
                with lock:
                    errors.append(f"writer {type(error).__name__}: {error}")
            n += 1

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(CLIENTS)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    first = {e.split(":")[0]: e for e in reversed(errors)}  # the first message of each kind
    return (f"{len(times) / seconds:>9.1f} {statistics.median(times) if times else 0:>8.1f} "
            f"{percentile(times, 95) if times else 0:>8.1f} {len(errors):>7} {written[0] / seconds:>10.2f}"
            + "".join(f"\n{'':>20}{message[:300]}" for message in first.values()))


def one_client(searcher: Searching, known: KnownQueries, truths: dict[str, set[int]]) -> str:
    """Hybrid search() and the vector list alone, one query after another: a table row's figures."""
    recalls: list[float] = []

    def hybrid(text: str) -> None:
        searcher.search(text, k=5)

    def dense(text: str) -> None:
        found = [cid for cid, _ in searcher.dense_ids(known.vectors[text], 40)][:10]
        recalls.append(len(truths[text] & set(found)) / 10)

    queries = list(known.vectors)
    hybrid_ms = latencies(hybrid, queries)
    vector_ms = latencies(dense, queries)
    return (f"{statistics.median(hybrid_ms):>11.1f} {percentile(hybrid_ms, 95):>11.1f} "
            f"{statistics.median(vector_ms):>11.1f} {percentile(vector_ms, 95):>11.1f} "
            f"{statistics.mean(recalls[5:]):>10.3f}")


def binary_quantised(url: str, known: KnownQueries, truths: dict[str, set[int]]) -> str:
    """The alternative to the halfvec index: HNSW over the sign bits (binary_quantize, 48 bytes a vector),
    candidates by Hamming distance re-scored by the exact cosine, as many candidates as the app's search takes."""
    from engine.retrieval.postgres_search import MAX_EF_SEARCH
    from engine.store.postgres.connection import connect

    conn = connect(url)
    dim = known.dim
    started = time.perf_counter()
    conn.execute(f"CREATE INDEX chunks_bits_hnsw ON chunks USING hnsw ((binary_quantize(embedding)::bit({dim})) "
                 "bit_hamming_ops)")
    build_s = time.perf_counter() - started
    size = int(conn.execute("SELECT pg_relation_size('chunks_bits_hnsw')").fetchone()[0])  # type: ignore[index]
    candidates = min(40 * 5, MAX_EF_SEARCH)
    recalls: list[float] = []

    def dense(text: str) -> None:
        vector = known.vectors[text]
        with conn.transaction():
            conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(candidates),))
            found = conn.execute(
                f"WITH c AS (SELECT id, embedding FROM chunks ORDER BY binary_quantize(embedding)::bit({dim}) "
                f"<~> binary_quantize(%s::vector)::bit({dim}) LIMIT %s) "
                "SELECT id FROM c ORDER BY embedding <=> %s LIMIT 10", (vector, candidates, vector)).fetchall()
        recalls.append(len(truths[text] & {int(r[0]) for r in found}) / 10)

    vector_ms = latencies(dense, list(known.vectors))
    conn.execute("DROP INDEX chunks_bits_hnsw")
    conn.close()
    return (f"{'':>11} {'':>11} {statistics.median(vector_ms):>11.1f} {percentile(vector_ms, 95):>11.1f} "
            f"{statistics.mean(recalls[5:]):>10.3f}   HNSW over bits {build_s:.0f} s, {size / 2**20:.0f} MiB")


def measure(server: PostgresServer, size: int, chunks: tuple[np.ndarray, list[str]], known: KnownQueries, *,
            folder: Path, load_seconds: float, rng: np.random.Generator) -> list[str]:
    """Build both libraries of ``size`` chunks, print the one-client latencies; the rows under load."""
    from engine.records import ChunkSpan
    from engine.retrieval.postgres_search import PgRetriever
    from engine.retrieval.search import Retriever
    from engine.store.db import connect as connect_sqlite
    from engine.store.index_store import IndexStore, NewDocument
    from engine.store.postgres.connection import connect as connect_postgres
    from engine.store.postgres.index_store import PgIndexStore

    vectors, texts = chunks
    queries = list(known.vectors)
    sqlite_path = folder / f"team-{size}.sqlite3"
    started = time.perf_counter()
    build_sqlite(sqlite_path, vectors, texts)
    sqlite_build = time.perf_counter() - started
    url = server.create_database()
    started = time.perf_counter()
    index_s, sizes = build_postgres(url, vectors, texts)
    pg_build = time.perf_counter() - started
    truths = {}
    for text in queries:
        scores = vectors @ known.vectors[text]
        truths[text] = {int(i) + 1 for i in np.argpartition(-scores, 10)[:10]}

    def sqlite_searcher() -> tuple[Searching, Callable[[], None]]:
        conn = connect_sqlite(sqlite_path)
        return Retriever(conn, known), conn.close  # type: ignore[arg-type]

    def pg_searcher() -> tuple[Searching, Callable[[], None]]:
        conn = connect_postgres(url)
        return PgRetriever(conn, known), conn.close  # type: ignore[arg-type]

    backends: list[tuple[str, Callable[[], tuple[Searching, Callable[[], None]]], str]] = [
        ("sqlite", sqlite_searcher, f"{sqlite_build:.0f} s"),
        ("postgres", pg_searcher, f"{pg_build:.0f} s, of which the HNSW index {index_s:.0f} s; {sizes}")]
    for name, open_searcher, build in backends:
        searcher, close = open_searcher()
        print(f"{size:>9} {name:>9} {one_client(searcher, known, truths)}   {build}", flush=True)
        close()
    print(f"{size:>9} {'pg bits':>9} {binary_quantised(url, known, truths)}", flush=True)

    sqlite_writer = connect_sqlite(sqlite_path)
    pg_writer = connect_postgres(url)

    def write(store: IndexStore | PgIndexStore, n: int, tag: str) -> None:
        chosen = rng.integers(0, len(vectors), CHUNKS_PER_DOCUMENT)
        spans = [ChunkSpan(0, len(texts[i]), texts[i], 1, "") for i in chosen]
        store.write_document(NewDocument(1, f"/bench/new-{tag}-{n}.txt", "text", "new", 1, 1, str(n), 1, 4),
                             spans, vectors[chosen], [f"new-{n}-{j}" for j in range(len(spans))])

    def sqlite_write(n: int) -> None:
        write(IndexStore(sqlite_writer), n, "sqlite")

    def pg_write(n: int) -> None:
        write(PgIndexStore(pg_writer, "bench"), n, "postgres")

    rows = [f"{size:>9} {'sqlite':>9} " + under_load(sqlite_searcher, sqlite_write, queries, load_seconds),
            f"{size:>9} {'postgres':>9} " + under_load(pg_searcher, pg_write, queries, load_seconds)]
    sqlite_writer.close()
    pg_writer.close()
    server.drop_database(url)
    sqlite_path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(sqlite_path) + suffix).unlink(missing_ok=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--load-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)

    from engine import paths

    os.environ.setdefault("HUSHDOCS_MODELS", str(paths.models_dir()))
    from bench.squad import load_squad
    from engine.embedding.embedder import load_default_embedder
    from tests.support.postgres_server import PostgresServer

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the server is stopped and removed too
    embedder = load_default_embedder(threads=2)
    articles, questions = load_squad()
    paragraphs = [p for ps in articles.values() for p in ps]
    question_texts = [q.text for q in questions]
    base_texts = paragraphs + question_texts
    bases = embedder.embed(base_texts)
    rng = np.random.default_rng(11)
    queries = [question_texts[i] for i in rng.choice(len(question_texts), args.queries, replace=False)]
    known = KnownQueries(queries, embedder.embed_query(queries), embedder.dim)
    folder = Path(tempfile.mkdtemp(prefix="hushdocs-bench-team-"))

    with PostgresServer(SERVER_SETTINGS) as server:
        print("search, one client (ms):")
        print(f"{'chunks':>9} {'backend':>9} {'hybrid p50':>11} {'hybrid p95':>11} {'vector p50':>11} "
              f"{'vector p95':>11} {'recall@10':>10}   build")
        loads = []
        for size in args.sizes:
            loads += measure(server, size, corpus(size, bases, base_texts, rng), known, folder=folder,
                             load_seconds=args.load_seconds, rng=rng)
        print(f"\n{CLIENTS} clients searching (hybrid, k=5) while one writes {CHUNKS_PER_DOCUMENT}-chunk documents "
              f"for {args.load_seconds:.0f} s:")
        print(f"{'chunks':>9} {'backend':>9} {'search/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7} "
              f"{'written/s':>10}")
        for row in loads:
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
