"""Switching the embedding model: new vectors for every stored chunk, staged beside the old ones, swapped at once.

The chunks' text is in the index, so no file is read again. The new model's vectors go to
``chunk_vectors_next``, a batch per transaction (a stop or a crash keeps what was done), and the model being
switched to is recorded in ``meta`` (``next_embedder``, ``next_embedding_dim``). Search and indexing go on with
the recorded model meanwhile, so the vectors searched are always one model's. When every chunk has its new
vector, one transaction replaces the float vectors, the binary vectors and the recorded model.
"""

from __future__ import annotations

from collections.abc import Sequence

import apsw
import numpy as np

from engine.embedding.embedder import Vectors
from engine.store.db import get_meta, rows, scalar, set_meta, write_transaction

STAGING = "chunk_vectors_next"
_BATCH = 500


def begin(conn: apsw.Connection, name: str, dim: int) -> None:
    """Start (or go on with) the switch to model ``name``; a switch to another model is dropped."""
    with write_transaction(conn):
        if get_meta(conn, "next_embedder") != name or get_meta(conn, "next_embedding_dim") != str(dim):
            conn.execute(f"DROP TABLE IF EXISTS {STAGING}")
            set_meta(conn, "next_embedder", name)
            set_meta(conn, "next_embedding_dim", str(dim))
        conn.execute(f"CREATE TABLE IF NOT EXISTS {STAGING}("
                     "chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE, vector BLOB NOT NULL)")


def abandon(conn: apsw.Connection) -> None:
    """Drop a switch under way and the vectors it staged; the index keeps its model."""
    with write_transaction(conn):
        conn.execute(f"DROP TABLE IF EXISTS {STAGING}")
        conn.execute("DELETE FROM meta WHERE key IN ('next_embedder', 'next_embedding_dim')")


def switching_to(conn: apsw.Connection) -> str | None:
    """The model a switch under way is embedding with, or None."""
    return get_meta(conn, "next_embedder")


def pending(conn: apsw.Connection, limit: int) -> list[tuple[int, str]]:
    """Up to ``limit`` chunks (id, text) that have no vector of the new model yet."""
    return [(int(r[0]), str(r[1])) for r in rows(
        conn, f"SELECT c.id, c.text FROM chunks c WHERE NOT EXISTS "
              f"(SELECT 1 FROM {STAGING} s WHERE s.chunk_id = c.id) ORDER BY c.id LIMIT ?", (limit,))]


def progress(conn: apsw.Connection) -> tuple[int, int]:
    """(chunks with their new vector, chunks in the index), while a switch is under way."""
    done = int(scalar(conn, f"SELECT count(*) FROM {STAGING} s JOIN chunks c ON c.id = s.chunk_id"))
    return done, chunk_total(conn)


def chunk_total(conn: apsw.Connection) -> int:
    return int(scalar(conn, "SELECT count(*) FROM chunks"))


def stage(conn: apsw.Connection, chunk_ids: Sequence[int], vectors: Vectors) -> None:
    """Keep the new model's vectors of these chunks; a chunk deleted since it was read is passed over."""
    with write_transaction(conn):
        for chunk_id, vector in zip(chunk_ids, vectors, strict=True):
            conn.execute(f"INSERT OR REPLACE INTO {STAGING}(chunk_id, vector) "
                         "SELECT ?, ? WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?)",
                         (chunk_id, vector.astype(np.float32).tobytes(), chunk_id))


def finish(conn: apsw.Connection) -> bool:
    """Swap the new vectors in and record the new model, in one transaction; False while a chunk lacks one."""
    with write_transaction(conn):
        if pending(conn, 1):
            return False
        name, dim = get_meta(conn, "next_embedder"), get_meta(conn, "next_embedding_dim")
        assert name is not None and dim is not None, "finish() without begin()"
        conn.execute("DELETE FROM chunk_embeddings")
        conn.execute(f"INSERT INTO chunk_embeddings(chunk_id, vector) SELECT chunk_id, vector FROM {STAGING}")
        conn.execute("DROP TABLE IF EXISTS chunk_bits")
        conn.execute(f"CREATE VIRTUAL TABLE chunk_bits USING vec0(embedding bit[{int(dim)}], collection_id integer)")
        last = 0
        while True:
            batch = rows(conn, "SELECT e.chunk_id, e.vector, d.collection_id FROM chunk_embeddings e "
                               "JOIN chunks c ON c.id = e.chunk_id JOIN documents d ON d.id = c.document_id "
                               "WHERE e.chunk_id > ? ORDER BY e.chunk_id LIMIT ?", (last, _BATCH))
            if not batch:
                break
            vectors = np.frombuffer(b"".join(bytes(r[1]) for r in batch), dtype=np.float32).reshape(len(batch), -1)
            for (chunk_id, _vector, collection_id), bits in zip(batch, np.packbits(vectors > 0, axis=1), strict=True):
                conn.execute("INSERT INTO chunk_bits(rowid, embedding, collection_id) VALUES (?, vec_bit(?), ?)",
                             (chunk_id, bits.tobytes(), collection_id))
            last = int(batch[-1][0])
        conn.execute(f"DROP TABLE {STAGING}")
        set_meta(conn, "embedder", name)
        set_meta(conn, "embedding_dim", dim)
        conn.execute("DELETE FROM meta WHERE key IN ('next_embedder', 'next_embedding_dim')")
        for counter in ("index_rebuilds", "index_generation"):  # in-memory copies of the bits reload
            set_meta(conn, counter, str(int(get_meta(conn, counter) or 0) + 1))
    return True
