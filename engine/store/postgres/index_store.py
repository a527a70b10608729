"""The index on PostgreSQL: collections, roots, exclusions, documents and chunks with their keywords and vectors.

The same records and rules as ``engine/store/index_store.py``: every change to one document is one transaction
(its row, chunks, keywords, vectors and status), so a client killed at any moment leaves the library as it was
or as it is now. The float vectors are pgvector ``vector`` columns; the HNSW index searched is over their
``halfvec`` (16-bit) copy, created with the dimension of the embedding model the library records.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import psycopg

from engine.embedding.embedder import Vectors
from engine.errors import IndexMismatchError
from engine.filenames import from_db, printable, to_db
from engine.records import ChunkSpan, Collection, DocumentRecord, Exclusion
from engine.store.index_store import FileState, NewDocument
from engine.store.postgres.connection import EMBEDDER_LOCK, PgConnection, describe, get_meta, rows, scalar, set_meta
from engine.store.postgres.conversations import PgConversationStore
from engine.store.postgres.keywords import CONFIG, fold_accents

# Tables vacuumed after a forget, so that no dead row version of a forgotten document stays in them.
CONTENT_TABLES = ("chunks", "documents", "messages", "conversations", "exclusions", "roots", "collections")
HNSW_M = 16  # pgvector's defaults: links per node and the build's candidate list
HNSW_EF_CONSTRUCTION = 64


def vector_index_sql(dim: int) -> str:
    return (f"CREATE INDEX IF NOT EXISTS chunks_embedding_hnsw ON chunks USING hnsw "
            f"((embedding::halfvec({dim})) halfvec_cosine_ops) WITH (m = {HNSW_M}, "
            f"ef_construction = {HNSW_EF_CONSTRUCTION})")


class PgIndexStore:
    def __init__(self, conn: PgConnection, owner: str) -> None:
        self.conn = conn
        self.owner = owner  # whose conversations a forget-everything removes (every user's citations are dropped)

    @contextlib.contextmanager
    def writes(self) -> Iterator[None]:
        """Writes to the server: nothing to translate (a full disk is the server's, reported in its own words)."""
        yield

    # -- embedding model ------------------------------------------------------------------------

    def ensure_embedder(self, name: str, dim: int) -> None:
        """Record the embedding model with the library; refuse to mix vectors of two models."""
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (EMBEDDER_LOCK,))
            recorded = get_meta(self.conn, "embedder")
            if recorded is None:
                set_meta(self.conn, "embedder", name)
                set_meta(self.conn, "embedding_dim", str(dim))
                self.conn.execute(vector_index_sql(dim))
            elif recorded != name or get_meta(self.conn, "embedding_dim") != str(dim):
                raise IndexMismatchError(
                    f"The team library {describe(self.conn.info.dsn)} was built with the embedding model "
                    f"{recorded!r} ({get_meta(self.conn, 'embedding_dim')} dimensions), not {name!r} ({dim}). "
                    "Every computer sharing it must use the same model: choose it in Settings.")

    def embedder_info(self) -> tuple[str | None, int | None]:
        dim = get_meta(self.conn, "embedding_dim")
        return get_meta(self.conn, "embedder"), int(dim) if dim else None

    # -- collections ----------------------------------------------------------------------------

    def collection_id(self, name: str, create: bool = True) -> int | None:
        found = rows(self.conn, "SELECT id FROM collections WHERE name = %s", (name,))
        if found:
            return int(found[0][0])
        if not create:
            return None
        self.conn.execute("INSERT INTO collections(name, created_at) VALUES (%s, %s) ON CONFLICT(name) DO NOTHING",
                          (name, time.time()))
        return int(scalar(self.conn, "SELECT id FROM collections WHERE name = %s", (name,)))

    def add_root(self, collection_id: int, path: str) -> None:
        self.conn.execute("INSERT INTO roots(collection_id, path) VALUES (%s, %s) "
                          "ON CONFLICT(path) DO UPDATE SET collection_id = excluded.collection_id",
                          (collection_id, to_db(path)))

    def remove_root(self, path: str) -> None:
        self.conn.execute("DELETE FROM roots WHERE path = %s", (to_db(path),))

    def roots(self, collection_id: int | None = None) -> list[tuple[int, str]]:
        """(collection id, path) of every folder or file added (by any computer sharing the library)."""
        if collection_id is None:
            found = rows(self.conn, "SELECT collection_id, path FROM roots ORDER BY path")
        else:
            found = rows(self.conn, "SELECT collection_id, path FROM roots WHERE collection_id = %s ORDER BY path",
                         (collection_id,))
        return [(int(c), from_db(p)) for c, p in found]

    # -- exclusions -------------------------------------------------------------------------------

    def exclude(self, collection_id: int, path: str) -> None:
        self.conn.execute("INSERT INTO exclusions(path, collection_id) VALUES (%s, %s) "
                          "ON CONFLICT(path) DO UPDATE SET collection_id = excluded.collection_id",
                          (to_db(path), collection_id))

    def include(self, paths: Iterable[str]) -> None:
        with self.conn.transaction():
            for path in paths:
                self.conn.execute("DELETE FROM exclusions WHERE path = %s", (to_db(path),))

    def exclusions(self, collection: str | None = None) -> list[Exclusion]:
        query = "SELECT e.path, c.name FROM exclusions e JOIN collections c ON c.id = e.collection_id"
        args: tuple[object, ...] = ()
        if collection is not None:
            query += " WHERE c.name = %s"
            args = (collection,)
        return [Exclusion(from_db(path), str(name)) for path, name in rows(self.conn, query + " ORDER BY e.path", args)]

    def collections(self) -> list[Collection]:
        found = rows(self.conn, "SELECT c.id, c.name, (SELECT count(*) FROM documents d WHERE d.collection_id = c.id) "
                                "FROM collections c ORDER BY c.name")
        return [Collection(int(cid), str(name), [p for _, p in self.roots(int(cid))], int(count))
                for cid, name, count in found]

    def delete_collection(self, collection_id: int) -> None:
        """The collection, its folders and every trace of its documents (see ``forget_documents``)."""
        with self.conn.transaction():
            doc_ids = [int(r[0]) for r in rows(self.conn, "SELECT id FROM documents WHERE collection_id = %s "
                                                          "FOR UPDATE", (collection_id,))]
            self._forget(doc_ids)
            self.conn.execute("DELETE FROM collections WHERE id = %s", (collection_id,))
        self._purge()

    # -- documents ------------------------------------------------------------------------------

    def file_states(self, collection_id: int | None = None) -> dict[str, FileState]:
        query = "SELECT id, collection_id, path, size, mtime_ns, content_hash, status, reader_version FROM documents"
        args: tuple[object, ...] = ()
        if collection_id is not None:
            query += " WHERE collection_id = %s"
            args = (collection_id,)
        return {
            from_db(row[2]): FileState(int(row[0]), int(row[1]), from_db(row[2]), int(row[3]), int(row[4]),
                                       str(row[5]), str(row[6]), int(row[7]))
            for row in rows(self.conn, query, args)
        }

    def documents(self, collection: str | None = None) -> list[DocumentRecord]:
        query = ("SELECT d.id, c.name, d.path, d.kind, d.title, d.status, d.error, d.pages, d.chunk_count, d.size, "
                 "d.indexed_at FROM documents d JOIN collections c ON c.id = d.collection_id")
        args: tuple[object, ...] = ()
        if collection is not None:
            query += " WHERE c.name = %s"
            args = (collection,)
        query += " ORDER BY c.name, d.path"
        return [DocumentRecord(int(r[0]), str(r[1]), from_db(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]),
                               int(r[7]), int(r[8]), int(r[9]), r[10])
                for r in rows(self.conn, query, args)]

    def write_document(self, doc: NewDocument, chunks: Sequence[ChunkSpan], vectors: Vectors,
                       text_hashes: Sequence[str], *, status: str = "indexed", note: str = "") -> int:
        """Replace everything indexed for ``doc.path`` with these chunks and vectors, in one transaction."""
        assert len(chunks) == len(vectors) == len(text_hashes)
        with self.conn.transaction():
            doc_id = self._upsert_document(doc, status=status, error=note, chunk_count=len(chunks))
            self._delete_chunks(doc_id)
            with self.conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO chunks(document_id, collection_id, ordinal, page, section, start, \"end\", text, "
                    f"text_hash, keywords, embedding) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
                    f"to_tsvector('{CONFIG}', %s), %s)",
                    [(doc_id, doc.collection_id, ordinal, chunk.page, chunk.section, chunk.start, chunk.end, chunk.text,
                      text_hash, fold_accents(chunk.text), np.asarray(vector, dtype=np.float32))
                     for ordinal, (chunk, vector, text_hash) in enumerate(zip(chunks, vectors, text_hashes,
                                                                               strict=True))])
        return doc_id

    def record_failure(self, doc: NewDocument, status: str, error: str) -> int:
        with self.conn.transaction():
            doc_id = self._upsert_document(doc, status=status, error=error, chunk_count=0)
            self._delete_chunks(doc_id)
        return doc_id

    def touch(self, doc_id: int, size: int, mtime_ns: int) -> None:
        self.conn.execute("UPDATE documents SET size = %s, mtime_ns = %s WHERE id = %s", (size, mtime_ns, doc_id))

    def move_document(self, doc_id: int, new_path: str, size: int, mtime_ns: int) -> None:
        self.conn.execute("UPDATE documents SET path = %s, size = %s, mtime_ns = %s WHERE id = %s",
                          (to_db(new_path), size, mtime_ns, doc_id))

    def delete_document(self, doc_id: int) -> None:
        with self.conn.transaction():
            self._delete_chunks(doc_id)
            self.conn.execute("DELETE FROM documents WHERE id = %s", (doc_id,))

    def forget_everything(self) -> None:
        """Every collection, folder and document, and this user's conversations; the citations other users'
        answers made of these documents go too. Then the tables are vacuumed."""
        with self.conn.transaction():
            self._forget([int(r[0]) for r in rows(self.conn, "SELECT id FROM documents FOR UPDATE")])
            self.conn.execute("DELETE FROM collections")
            self.conn.execute("DELETE FROM conversations WHERE owner = %s", (self.owner,))
        self._purge()

    def forget_documents(self, doc_ids: Iterable[int]) -> None:
        """Remove every trace of these documents at once: rows, chunks, keywords, vectors, and the passages and
        paths every user's conversations cite from them; then vacuum, so no dead row version keeps them."""
        with self.conn.transaction():
            self._forget(list(doc_ids))
        self._purge()

    def reusable_vectors(self, text_hashes: Iterable[str]) -> dict[str, bytes]:
        """Float vectors (float32 bytes) already computed for chunks with these texts."""
        wanted = list(set(text_hashes))
        found: dict[str, bytes] = {}
        for text_hash, vector in rows(self.conn, "SELECT DISTINCT ON (text_hash) text_hash, embedding FROM chunks "
                                                 "WHERE text_hash = ANY(%s)", (wanted,)):
            found[str(text_hash)] = vector.to_numpy().astype(np.float32).tobytes()
        return found

    def counts(self) -> dict[str, int]:
        """Rows that hold a document's content: its row, chunks, vectors and keywords (tests prove forgetting)."""
        return {"documents": int(scalar(self.conn, "SELECT count(*) FROM documents")),
                "chunks": int(scalar(self.conn, "SELECT count(*) FROM chunks")),
                "chunk_embeddings": int(scalar(self.conn, "SELECT count(embedding) FROM chunks")),
                "chunk_keywords": int(scalar(self.conn, "SELECT count(*) FROM chunks WHERE keywords != ''"))}

    # -- internals ------------------------------------------------------------------------------

    def _upsert_document(self, doc: NewDocument, *, status: str, error: str, chunk_count: int) -> int:
        return int(scalar(
            self.conn,
            "INSERT INTO documents(collection_id, path, kind, title, size, mtime_ns, content_hash, status, error, "
            "pages, chunk_count, indexed_at, reader_version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "%s) ON CONFLICT(path) DO UPDATE SET collection_id = excluded.collection_id, kind = excluded.kind, "
            "title = excluded.title, size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "content_hash = excluded.content_hash, status = excluded.status, error = excluded.error, "
            "pages = excluded.pages, chunk_count = excluded.chunk_count, indexed_at = excluded.indexed_at, "
            "reader_version = excluded.reader_version RETURNING id",
            (doc.collection_id, to_db(doc.path), doc.kind, printable(doc.title), doc.size, doc.mtime_ns,
             doc.content_hash, status, printable(error), doc.pages, chunk_count, time.time(), doc.reader_version)))

    def _delete_chunks(self, doc_id: int) -> None:
        self.conn.execute("DELETE FROM chunks WHERE document_id = %s", (doc_id,))

    def _forget(self, doc_ids: Sequence[int]) -> None:
        """Inside the caller's transaction: delete the documents and their citations in every conversation."""
        paths = {from_db(r[0]) for r in rows(self.conn, "SELECT path FROM documents WHERE id = ANY(%s)",
                                             (list(doc_ids),))}
        self.conn.execute("DELETE FROM documents WHERE id = ANY(%s)", (list(doc_ids),))  # chunks by cascade
        PgConversationStore(self.conn, self.owner).forget_sources(set(doc_ids), paths)

    def _purge(self) -> None:
        """VACUUM the content tables: the dead row versions of what was deleted are cleared from their pages."""
        for table in CONTENT_TABLES:
            try:
                self.conn.execute(f"VACUUM {table}")
            except psycopg.errors.InsufficientPrivilege:
                return  # a role that does not own the tables: autovacuum clears them in its time
