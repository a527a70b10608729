"""Search latency at scale: the vector search against exact numpy, the keyword search and the whole hybrid search.

    .venv/bin/python -m bench.search_speed                   # 10k, 100k and 1M chunks
    .venv/bin/python -m bench.search_speed --sizes 10000 100000 --queries 200

Synthetic vectors (fine for scale), but shaped like real ones: each is a noisy mix of two real
MiniLM embeddings of squad-dev paragraphs and questions, so neighbourhoods exist. Queries are real
question embeddings. Per query: the query embedding (the real ONNX embedder), then the fast path
(`Retriever.dense_ids`, exactly what search uses); an exact float32 scan of the same vectors in numpy
gives the truth and a reference time. Recall@10 is the share of the exact top 10 the fast path finds.

Each chunk also has a text, so FTS5 indexes it as indexing would: about 110 words of consecutive sentences
from a random place in a pool of real ones (the squad-dev articles and, where installed, the realdocs manuals).
At 1M chunks every sentence of the pool recurs hundreds of times, which makes a question's middling words
commoner than in a real library of that size: the keyword times are an upper bound. "keyword" is
`Retriever.keyword_ids` (FTS5 BM25, 40 results, what search asks for); "hybrid" is `Retriever.search(k=5)`,
everything a search does: the query embedding, both lists, fusion, the re-score and the chunks' rows, with the
keyword list on a thread of its own (``KeywordThread``) as the app runs it; "1 thr" is the same search with both
lists on the calling thread, one after the other. The keyword list counts how many chunks hold each word of the
question (to leave out the commonest) and remembers the counts until the index changes: each pass starts with
none remembered, so its first questions count every word and later ones only the words not seen before (of
these 200 questions' words, half were in an earlier one); "kw1" and "hyb1" forget them before every question.

The passes run one after the other, not interleaved: OpenBLAS's threads spin for a while after the
exact scan's matrix product, and on a 2-core machine they took the cores from the next query's
embedding and search (an interleaved run measured the fast path at 44 / 71 ms p50 / p95 at 1M, the
same code 21 / 29 ms on its own). "warm" is queries back to back, as a person searching or a script
asking; "cold" streams 64 MB through the CPU caches before each query first, as if the chat model or
another program had run in between (the embedder's weights and the bits come from memory again).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path

import apsw
import numpy as np

from engine.retrieval.keyword_thread import KeywordThread
from engine.retrieval.search import KEYWORD_MATCH_BUDGET, Retriever, quantise
from engine.retrieval.word_counts import word_counts_for
from engine.store.db import connect, set_meta


def synthetic_vectors(bases: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    first = bases[rng.integers(0, len(bases), n)]
    second = bases[rng.integers(0, len(bases), n)]
    weight = rng.uniform(0.5, 1.0, (n, 1)).astype(np.float32)
    vectors: np.ndarray = (weight * first + (1 - weight) * second
                           + rng.normal(0, 0.035, (n, bases.shape[1])).astype(np.float32))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def sentence_pool(paragraphs: list[str]) -> tuple[list[str], str]:
    """Real sentences to make chunk texts of, and where they come from."""
    import pymupdf

    from bench import realdocs

    texts, sources = list(paragraphs), ["squad-dev"]
    manuals = [d for d in realdocs.documents(realdocs.load_questions()) if Path(d).is_file()]
    for document in manuals:
        with pymupdf.open(stream=realdocs.document_bytes(document), filetype="pdf") as pdf:
            texts.extend(page.get_text() for page in pdf)
    if manuals:
        sources.append(f"{len(manuals)} realdocs manuals")
    sentences = [s.strip() for text in texts for s in re.split(r"(?<=[.!?])\s+", text.replace("\n", " "))
                 if len(s.split()) >= 3]
    return sentences, " and ".join(sources)


def chunk_text(sentences: list[str], rng: np.random.Generator, words: int = 110) -> str:
    start = int(rng.integers(0, len(sentences)))
    parts: list[str] = []
    count = 0
    for sentence in sentences[start:] + sentences[:start]:
        parts.append(sentence)
        count += len(sentence.split())
        if count >= words:
            break
    return " ".join(parts)


def build_database(path: Path, vectors: np.ndarray, sentences: list[str], rng: np.random.Generator) -> None:
    """A library of ``len(vectors)`` chunks, 100 to a document, with texts made from ``sentences``."""
    conn = connect(path)
    dim = vectors.shape[1]
    conn.execute(f"CREATE VIRTUAL TABLE chunk_bits USING vec0(embedding bit[{dim}], collection_id integer)")
    with conn:
        conn.execute("INSERT INTO collections(id, name, created_at) VALUES (1, 'bench', 0)")
    step = 50_000
    for start in range(0, len(vectors), step):
        add_chunks(conn, start + 1, vectors[start : start + step], sentences, rng)
    conn.close()


def add_chunks(conn: apsw.Connection, first_id: int, vectors: np.ndarray, sentences: list[str],
               rng: np.random.Generator) -> None:
    """Chunks with ids from ``first_id`` on: their documents (100 chunks each), texts (FTS5 indexes them by
    trigger) and vectors."""
    ids = range(first_id, first_id + len(vectors))
    with conn:
        conn.executemany("INSERT OR IGNORE INTO documents(id, collection_id, path, status) "
                         "VALUES (?, 1, ?, 'indexed')", {((i - 1) // 100 + 1, f"/bench/{(i - 1) // 100 + 1}.pdf")
                                                          for i in ids})
        conn.executemany("INSERT INTO chunks(id, document_id, ordinal, page, start, end, text, text_hash) "
                         "VALUES (?, ?, ?, 1, 0, 0, ?, '')",
                         ((i, (i - 1) // 100 + 1, (i - 1) % 100, chunk_text(sentences, rng)) for i in ids))
        add_vectors(conn, first_id, vectors)


def add_vectors(conn: apsw.Connection, first_id: int, vectors: np.ndarray) -> None:
    """As IndexStore.write_document writes them: float vectors and their bits, ids from ``first_id`` on."""
    bits = quantise(vectors)
    with conn:  # a savepoint inside add_chunks' transaction
        conn.executemany("INSERT INTO chunk_embeddings(chunk_id, vector) VALUES (?, ?)",
                         ((first_id + i, vector.tobytes()) for i, vector in enumerate(vectors)))
        conn.executemany("INSERT INTO chunk_bits(rowid, embedding, collection_id) VALUES (?, vec_bit(?), 1)",
                         ((first_id + i, packed.tobytes()) for i, packed in enumerate(bits)))
        set_meta(conn, "index_generation", str(first_id))


def timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


@cache
def _cache_flush_buffer() -> np.ndarray:
    return np.ones(8 * 1024 * 1024)  # 64 MB of float64: more than this machine's 32 MB L3


def flush_cpu_caches() -> None:
    _cache_flush_buffer().sum()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def embed_and_search(retriever: Retriever, text: str, pool: int) -> object:
    return retriever.dense_ids(retriever.embedder.embed([text])[0], pool)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--pool", type=int, default=40, help="dense results search() asks for (default 40)")
    parser.add_argument("--oversample", type=int, help="binary candidates per dense result (default: Retriever's)")
    args = parser.parse_args(argv)

    from engine import paths

    os.environ.setdefault("HUSHDOCS_MODELS", str(paths.models_dir()))
    from bench.squad import load_squad
    from engine.embedding.embedder import load_default_embedder
    from engine.retrieval.binary_index import binary_index_for
    from engine.store.index_store import IndexStore

    embedder = load_default_embedder(threads=2)
    articles, questions = load_squad()
    paragraphs = [p for ps in articles.values() for p in ps]
    sentences, sentence_source = sentence_pool(paragraphs)
    question_texts = [q.text for q in questions]
    bases = embedder.embed(paragraphs + question_texts)
    rng = np.random.default_rng(11)
    query_texts = [question_texts[i] for i in rng.choice(len(question_texts), args.queries, replace=False)]
    folder = Path(tempfile.mkdtemp(prefix="hushdocs-bench-search-"))
    print(f"chunk texts: {len(sentences)} sentences of {sentence_source}; {args.queries} squad-dev questions")
    print(f"{'chunks':>9} {'warm p50':>9} {'warm p95':>9} {'cold p50':>9} {'cold p95':>9} {'exact p50':>10}"
          f" {'exact p95':>10} {'recall@10':>10} {'embed p50':>10} {'load':>7} {'delete':>7} {'append':>7}"
          f" {'kw1 p50':>8} {'kw1 p95':>8} {'kw p50':>7} {'kw p95':>7} {'kw all p50':>10} {'kw all p95':>10}"
          f" {'hyb1 p50':>9} {'hyb1 p95':>9} {'hybrid p50':>10} {'hybrid p95':>10} {'1 thr p50':>10} {'1 thr p95':>10}"
          "   (ms; warm to exact and hybrid include the query embedding; warm: back to back; cold: CPU caches"
          " flushed first; load: the in-memory bits read in full; delete, append: brought current after 100 chunks"
          " are deleted, added; kw1: the keyword search with no word counted before (each query as if it were a"
          " session's first); kw: the keyword search as the app runs it, the counts of earlier queries' words"
          " remembered; kw all: the same with every word searched, however common; hybrid: the whole search, as the"
          " app runs it, the keyword list on a thread of its own beside the embedding and the vector list; hyb1: the"
          " same with no word counted before; 1 thr:"
          " the same search with both lists on one thread, one after the other)")
    for size in args.sizes:
        vectors = synthetic_vectors(bases, size, rng)
        database = folder / f"search-{size}.sqlite3"
        started = time.perf_counter()
        build_database(database, vectors, sentences, rng)
        build_s = time.perf_counter() - started
        retriever = Retriever(connect(database), embedder)
        if args.oversample:
            retriever.oversample = args.oversample
        load_s = timed(partial(binary_index_for, retriever.conn))
        for text in query_texts[:5]:  # warm the page cache and the embedder
            retriever.dense_ids(embedder.embed([text])[0], args.pool)
        queries, embed, warm, cold, found = [], [], [], [], []
        for text in query_texts:
            t0 = time.perf_counter()
            query = embedder.embed([text])[0]
            t1 = time.perf_counter()
            found.append([cid for cid, _ in retriever.dense_ids(query, args.pool)][: args.k])
            t2 = time.perf_counter()
            queries.append(query)
            embed.append((t1 - t0) * 1000)
            warm.append((t2 - t0) * 1000)
        for text in query_texts:
            flush_cpu_caches()
            cold.append(timed(partial(embed_and_search, retriever, text, args.pool)) * 1000)
        exact: list[float] = []
        recalls: list[float] = []
        for query, fast_found, embed_ms in zip(queries, found, embed, strict=True):
            t0 = time.perf_counter()
            scores = vectors @ query
            top = np.argpartition(-scores, args.k)[: args.k]
            truth = {int(i) + 1 for i in top[np.argsort(-scores[top])]}
            exact.append((time.perf_counter() - t0) * 1000 + embed_ms)
            recalls.append(len(truth & set(fast_found)) / args.k)
        counts = word_counts_for(retriever.conn)
        keyword_first = []
        for text in query_texts:
            counts.forget()
            keyword_first.append(timed(partial(retriever.keyword_ids, text, args.pool)) * 1000)
        counts.forget()  # each pass below starts as a session's first question does, no word counted yet
        keyword = [timed(partial(retriever.keyword_ids, text, args.pool)) * 1000 for text in query_texts]
        retriever.keyword_match_budget = size + 1  # every word, however common
        keyword_all = [timed(partial(retriever.keyword_ids, text, args.pool)) * 1000 for text in query_texts]
        retriever.keyword_match_budget = KEYWORD_MATCH_BUDGET
        counts.forget()
        one_thread = [timed(partial(retriever.search, text, 5)) * 1000 for text in query_texts]
        retriever.keyword_thread = keyword_thread = KeywordThread(partial(connect, database),
                                                                  partial(Retriever, embedder=embedder))
        hybrid_first = []
        for text in query_texts:
            counts.forget()
            hybrid_first.append(timed(partial(retriever.search, text, 5)) * 1000)
        counts.forget()
        hybrid = [timed(partial(retriever.search, text, 5)) * 1000 for text in query_texts]
        keyword_thread.close()
        retriever.keyword_thread = None
        with retriever.conn:
            IndexStore(retriever.conn).delete_vectors([int(i) for i in rng.choice(size, 100, replace=False) + 1])
        delete_s = timed(partial(binary_index_for, retriever.conn))
        add_chunks(retriever.conn, size + 1, synthetic_vectors(bases, 100, rng), sentences, rng)
        append_s = timed(partial(binary_index_for, retriever.conn))
        print(f"{size:>9} {statistics.median(warm):>9.1f} {percentile(warm, 95):>9.1f} "
              f"{statistics.median(cold):>9.1f} {percentile(cold, 95):>9.1f} "
              f"{statistics.median(exact):>10.1f} {percentile(exact, 95):>10.1f} {statistics.mean(recalls):>10.3f} "
              f"{statistics.median(embed):>10.1f} {load_s * 1000:>7.0f} {delete_s * 1000:>7.0f} {append_s * 1000:>7.0f}"
              f" {statistics.median(keyword_first):>8.1f} {percentile(keyword_first, 95):>8.1f}"
              f" {statistics.median(keyword):>7.1f} {percentile(keyword, 95):>7.1f}"
              f" {statistics.median(keyword_all):>10.1f} {percentile(keyword_all, 95):>10.1f}"
              f" {statistics.median(hybrid_first):>9.1f} {percentile(hybrid_first, 95):>9.1f}"
              f" {statistics.median(hybrid):>10.1f} {percentile(hybrid, 95):>10.1f}"
              f" {statistics.median(one_thread):>10.1f} {percentile(one_thread, 95):>10.1f}"
              f"   (built in {build_s:.0f} s)", flush=True)
        retriever.conn.close()
        database.unlink()
        for suffix in ("-wal", "-shm"):
            Path(str(database) + suffix).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
