"""Reads and writes of the index: collections, documents, chunks, keywords and vectors.

Every change to one document happens in one transaction (document row, chunks, FTS rows through
triggers, float vectors, binary vectors, status), so a kill at any moment leaves the database
consistent: a document is either fully indexed as it was before, or fully as it is now.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import apsw
import numpy as np

from engine.embedding.embedder import Vectors
from engine.errors import IndexMismatchError
from engine.filenames import from_db, printable, to_db
from engine.records import ChunkSpan, Collection, DocumentRecord, Exclusion
from engine.store.conversations import ConversationStore
from engine.store.db import disk_full_is_plain, get_meta, purge, rows, scalar, set_meta, write_transaction

DEFAULT_COLLECTION = "My documents"
DELETION_LOG_LIMIT = 200_000  # chunk ids in the deletion log before its older half is dropped


@dataclass
class FileState:
    """What the index remembers of a file, to decide whether it changed."""

    id: int
    collection_id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str
    status: str
    reader_version: int


@dataclass
class NewDocument:
    collection_id: int
    path: str
    kind: str
    title: str
    size: int
    mtime_ns: int
    content_hash: str
    pages: int
    reader_version: int


class IndexStore:
    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn

    def writes(self) -> AbstractContextManager[None]:
        """Around writes: a full disk said in words a person can act on (``disk_full_is_plain``)."""
        return disk_full_is_plain(self.conn)

    # -- embedding model ------------------------------------------------------------------------

    def ensure_embedder(self, name: str, dim: int) -> None:
        """Record the embedding model with the index; refuse to mix vectors of two models."""
        with write_transaction(self.conn):  # read, then write: another process may be doing the same
            recorded = get_meta(self.conn, "embedder")
            if recorded is None:
                set_meta(self.conn, "embedder", name)
                set_meta(self.conn, "embedding_dim", str(dim))
            elif recorded != name or get_meta(self.conn, "embedding_dim") != str(dim):
                raise IndexMismatchError(
                    f"This index was built with the embedding model {recorded!r} "
                    f"({get_meta(self.conn, 'embedding_dim')} dimensions), not {name!r} ({dim}). "
                    "Re-index with the new model: close Hushdocs, move the index file "
                    f"({self.conn.filename or 'hushdocs.sqlite3 in the data folder'}) aside and add your folders "
                    "again (that file also holds the conversations)."
                )
            self.conn.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS chunk_bits USING vec0("
                f"embedding bit[{dim}], collection_id integer)"
            )

    def embedder_info(self) -> tuple[str | None, int | None]:
        dim = get_meta(self.conn, "embedding_dim")
        return get_meta(self.conn, "embedder"), int(dim) if dim else None

    # -- collections ----------------------------------------------------------------------------

    def collection_id(self, name: str, create: bool = True) -> int | None:
        found = rows(self.conn, "SELECT id FROM collections WHERE name = ?", (name,))
        if found:
            return int(found[0][0])
        if not create:
            return None
        with self.conn:  # another process may have created it since the look-up
            self.conn.execute("INSERT INTO collections(name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
                              (name, time.time()))
        return int(scalar(self.conn, "SELECT id FROM collections WHERE name = ?", (name,)))

    def add_root(self, collection_id: int, path: str) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT INTO roots(collection_id, path) VALUES (?, ?) "
                "ON CONFLICT(path) DO UPDATE SET collection_id = excluded.collection_id",
                (collection_id, to_db(path)),
            )

    def remove_root(self, path: str) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM roots WHERE path = ?", (to_db(path),))

    def roots(self, collection_id: int | None = None) -> list[tuple[int, str]]:
        """(collection id, path) of every folder or file the user added."""
        if collection_id is None:
            found = rows(self.conn, "SELECT collection_id, path FROM roots ORDER BY path")
        else:
            found = rows(self.conn, "SELECT collection_id, path FROM roots WHERE collection_id = ? ORDER BY path",
                         (collection_id,))
        return [(int(c), from_db(p)) for c, p in found]

    # -- exclusions: forgotten inside a followed folder, left out of its scans --------------------

    def exclude(self, collection_id: int, path: str) -> None:
        """Keep ``path`` (a file or folder inside a followed folder) out of the index: only its path is kept."""
        with self.conn:
            self.conn.execute(
                "INSERT INTO exclusions(path, collection_id) VALUES (?, ?) "
                "ON CONFLICT(path) DO UPDATE SET collection_id = excluded.collection_id",
                (to_db(path), collection_id),
            )

    def include(self, paths: Iterable[str]) -> None:
        """Stop excluding these paths (the next scan of their folder reads them again)."""
        with self.conn:
            for path in paths:
                self.conn.execute("DELETE FROM exclusions WHERE path = ?", (to_db(path),))

    def exclusions(self, collection: str | None = None) -> list[Exclusion]:
        """Every excluded path with its collection's name, by path."""
        query = "SELECT e.path, c.name FROM exclusions e JOIN collections c ON c.id = e.collection_id"
        args: tuple[object, ...] = ()
        if collection is not None:
            query += " WHERE c.name = ?"
            args = (collection,)
        return [Exclusion(from_db(path), str(name)) for path, name in rows(self.conn, query + " ORDER BY e.path", args)]

    def collections(self) -> list[Collection]:
        result = []
        for cid, name in rows(self.conn, "SELECT id, name FROM collections ORDER BY name"):
            roots = [p for _, p in self.roots(int(cid))]
            count = scalar(self.conn, "SELECT count(*) FROM documents WHERE collection_id = ?", (cid,))
            result.append(Collection(int(cid), str(name), roots, int(count)))
        return result

    def delete_collection(self, collection_id: int) -> None:
        """The collection, its folders and every trace of its documents (see ``forget_documents``)."""
        doc_ids = [int(r[0]) for r in rows(self.conn, "SELECT id FROM documents WHERE collection_id = ?",
                                           (collection_id,))]
        with self.conn:
            self._forget(doc_ids)
            self.conn.execute("DELETE FROM collections WHERE id = ?", (collection_id,))
        purge(self.conn)

    # -- documents ------------------------------------------------------------------------------

    def file_states(self, collection_id: int | None = None) -> dict[str, FileState]:
        query = "SELECT id, collection_id, path, size, mtime_ns, content_hash, status, reader_version FROM documents"
        args: tuple[object, ...] = ()
        if collection_id is not None:
            query += " WHERE collection_id = ?"
            args = (collection_id,)
        return {
            from_db(row[2]): FileState(int(row[0]), int(row[1]), from_db(row[2]), int(row[3]), int(row[4]),
                                       str(row[5]), str(row[6]), int(row[7]))
            for row in rows(self.conn, query, args)
        }

    def documents(self, collection: str | None = None) -> list[DocumentRecord]:
        query = (
            "SELECT d.id, c.name, d.path, d.kind, d.title, d.status, d.error, d.pages, d.chunk_count, d.size, "
            "d.indexed_at FROM documents d JOIN collections c ON c.id = d.collection_id"
        )
        args: tuple[object, ...] = ()
        if collection is not None:
            query += " WHERE c.name = ?"
            args = (collection,)
        query += " ORDER BY c.name, d.path"
        return [
            DocumentRecord(int(r[0]), str(r[1]), from_db(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]),
                           int(r[7]), int(r[8]), int(r[9]), r[10])
            for r in rows(self.conn, query, args)
        ]

    def write_document(self, doc: NewDocument, chunks: Sequence[ChunkSpan], vectors: Vectors,
                       text_hashes: Sequence[str], *, status: str = "indexed", note: str = "") -> int:
        """Replace everything indexed for ``doc.path`` with these chunks and vectors, atomically; ``note`` says
        what of the file could not be read (kept where a failure keeps its reason)."""
        assert len(chunks) == len(vectors) == len(text_hashes)
        bits = np.packbits(vectors > 0, axis=1)
        with self.conn:
            doc_id = self._upsert_document(doc, status=status, error=note, chunk_count=len(chunks))
            self._delete_chunks(doc_id)
            rows = zip(chunks, vectors, bits, text_hashes, strict=True)
            for ordinal, (chunk, vector, bit, text_hash) in enumerate(rows):
                self.conn.execute(
                    "INSERT INTO chunks(document_id, ordinal, page, section, start, end, text, text_hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (doc_id, ordinal, chunk.page, chunk.section, chunk.start, chunk.end, chunk.text, text_hash),
                )
                chunk_id = self.conn.last_insert_rowid()
                self.conn.execute("INSERT INTO chunk_embeddings(chunk_id, vector) VALUES (?, ?)",
                                  (chunk_id, vector.astype(np.float32).tobytes()))
                self.conn.execute("INSERT INTO chunk_bits(rowid, embedding, collection_id) VALUES (?, vec_bit(?), ?)",
                                  (chunk_id, bit.tobytes(), doc.collection_id))
            self._bump("index_generation")
        return doc_id

    def record_failure(self, doc: NewDocument, status: str, error: str) -> int:
        """Remember a file that could not be indexed (with its reason), dropping any older chunks."""
        with self.conn:
            doc_id = self._upsert_document(doc, status=status, error=error, chunk_count=0)
            self._delete_chunks(doc_id)
        return doc_id

    def touch(self, doc_id: int, size: int, mtime_ns: int) -> None:
        """Same content, new size or mtime (e.g. a `touch`): remember the new stat, keep the chunks."""
        with self.conn:
            self.conn.execute("UPDATE documents SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, doc_id))

    def move_document(self, doc_id: int, new_path: str, size: int, mtime_ns: int) -> None:
        """A renamed or moved file: same content, new path. Nothing is re-embedded."""
        with self.conn:
            self.conn.execute("UPDATE documents SET path = ?, size = ?, mtime_ns = ? WHERE id = ?",
                              (to_db(new_path), size, mtime_ns, doc_id))

    def delete_document(self, doc_id: int) -> None:
        with self.conn:
            self._delete_document(doc_id)

    def forget_everything(self) -> None:
        """Every collection, folder, document and conversation. The file is then rebuilt from what is left
        (VACUUM) and the WAL truncated: no byte of a document or a conversation stays in the data home."""
        doc_ids = [int(r[0]) for r in rows(self.conn, "SELECT id FROM documents")]
        with self.conn:
            self._forget(doc_ids)
            self.conn.execute("DELETE FROM collections")  # their folders go with them (ON DELETE CASCADE)
            self.conn.execute("DELETE FROM conversations")  # and the messages
            self.conn.execute("DELETE FROM chunk_deletions")  # nothing left to mask: copies of the vectors reload
            self._bump("index_rebuilds")
        self.conn.execute("VACUUM")
        purge(self.conn)

    def forget_documents(self, doc_ids: Iterable[int]) -> None:
        """Remove every trace of these documents at once: their rows, chunks, keywords and vectors (zeroed on
        disk: secure_delete), and the passages and paths that conversations cite from them; then the WAL is
        checkpointed and truncated, so no copy of an old page stays in any file."""
        with self.conn:
            self._forget(list(doc_ids))
        purge(self.conn)

    def reusable_vectors(self, text_hashes: Iterable[str]) -> dict[str, bytes]:
        """Float vectors already computed for chunks with these texts (anywhere in the index)."""
        found: dict[str, bytes] = {}
        wanted = list(set(text_hashes))
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            marks = ",".join("?" * len(batch))
            for text_hash, vector in rows(
                self.conn, f"SELECT c.text_hash, e.vector FROM chunks c JOIN chunk_embeddings e ON e.chunk_id = c.id "
                f"WHERE c.text_hash IN ({marks})", batch
            ):
                found[str(text_hash)] = bytes(vector)
        return found

    def counts(self) -> dict[str, int]:
        """Row counts of the tables that hold a document's content: its row, chunks, vectors and keywords (tests
        prove forgetting with it). Folders, collections and conversations citing the document are not counted."""
        tables = ("documents", "chunks", "chunk_embeddings", "chunks_fts", "chunk_bits")
        result = {}
        for table in tables:
            try:
                result[table] = int(scalar(self.conn, f"SELECT count(*) FROM {table}"))
            except apsw.SQLError:  # chunk_bits exists once an embedder was recorded
                result[table] = 0
        return result

    # -- internals ------------------------------------------------------------------------------

    def _upsert_document(self, doc: NewDocument, *, status: str, error: str, chunk_count: int) -> int:
        self.conn.execute(
            "INSERT INTO documents(collection_id, path, kind, title, size, mtime_ns, content_hash, status, error, "
            "pages, chunk_count, indexed_at, reader_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET collection_id = excluded.collection_id, kind = excluded.kind, "
            "title = excluded.title, size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "content_hash = excluded.content_hash, status = excluded.status, error = excluded.error, "
            "pages = excluded.pages, chunk_count = excluded.chunk_count, indexed_at = excluded.indexed_at, "
            "reader_version = excluded.reader_version",
            (doc.collection_id, to_db(doc.path), doc.kind, printable(doc.title), doc.size, doc.mtime_ns,
             doc.content_hash, status, printable(error), doc.pages, chunk_count, time.time(), doc.reader_version),
        )
        return int(scalar(self.conn, "SELECT id FROM documents WHERE path = ?", (to_db(doc.path),)))

    def _bump(self, counter: str) -> None:
        """Tell in-memory copies of the vectors (retrieval/binary_index.py) that the index changed."""
        set_meta(self.conn, counter, str(int(get_meta(self.conn, counter) or 0) + 1))

    def _delete_chunks(self, doc_id: int) -> None:
        ids = [int(r[0]) for r in rows(self.conn, "SELECT id FROM chunks WHERE document_id = ?", (doc_id,))]
        self.delete_vectors(ids)
        # The FTS rows go with the chunks through the chunks_fts_delete trigger.
        self.conn.execute("DELETE FROM chunks WHERE document_id = ?", (doc_id,))

    def delete_vectors(self, chunk_ids: Sequence[int]) -> None:
        """Inside the caller's transaction: these chunks' vectors, logged for the in-memory copies to drop."""
        if not chunk_ids:
            return
        self._bump("index_generation")
        self.conn.executemany("INSERT INTO chunk_deletions(chunk_id) VALUES (?)", ((i,) for i in chunk_ids))
        self._trim_deletions()
        for start in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(batch))
            self.conn.execute(f"DELETE FROM chunk_bits WHERE rowid IN ({marks})", batch)
            self.conn.execute(f"DELETE FROM chunk_embeddings WHERE chunk_id IN ({marks})", batch)

    def _trim_deletions(self) -> None:
        """Keep the newest half of the deletion log once it passes its limit; in-memory copies of the vectors
        that have not seen the trimmed part reload in full (chunk_deletions_trimmed says up to where)."""
        newest = int(scalar(self.conn, "SELECT coalesce(max(seq), 0) FROM chunk_deletions"))
        oldest = int(scalar(self.conn, "SELECT coalesce(min(seq), 0) FROM chunk_deletions"))
        if newest - oldest < DELETION_LOG_LIMIT:
            return
        through = newest - DELETION_LOG_LIMIT // 2
        self.conn.execute("DELETE FROM chunk_deletions WHERE seq <= ?", (through,))
        set_meta(self.conn, "chunk_deletions_trimmed", str(through))

    def _delete_document(self, doc_id: int) -> None:
        self._delete_chunks(doc_id)
        self.conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    def _forget(self, doc_ids: Sequence[int]) -> None:
        """Inside the caller's transaction: delete the documents and their citations in conversations."""
        paths: set[str] = set()
        for doc_id in doc_ids:
            paths.update(from_db(r[0]) for r in rows(self.conn, "SELECT path FROM documents WHERE id = ?", (doc_id,)))
            self._delete_document(doc_id)
        ConversationStore(self.conn).forget_sources(set(doc_ids), paths)
