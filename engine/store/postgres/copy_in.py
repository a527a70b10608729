"""``main.py migrate --to URL``: a data home's SQLite library copied into a team library on PostgreSQL.

Nothing is read or embedded again: documents, chunks and their float vectors, collections, folders, exclusions
and this home's conversations are copied as they are. Each document and each conversation is one transaction
on the server that also records it in ``copied_rows`` (which source row became which row there), so a copy
stopped or killed at any moment goes on, when run again, with the first row not yet copied. The answers'
citations name documents by id: they are rewritten to the ids the documents have on the server. At the end
the rows copied are counted on both sides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import apsw
import numpy as np

from engine.records import ChunkSpan
from engine.store.db import rows as sqlite_rows
from engine.store.index_store import NewDocument
from engine.store.postgres.connection import PgConnection, rows, scalar
from engine.store.postgres.index_store import PgIndexStore
from engine.store.postgres.progress import CopyProgress

DOCUMENT, CONVERSATION = "document", "conversation"


def _ensure_ledger(conn: PgConnection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS copied_rows(source TEXT NOT NULL, kind TEXT NOT NULL, "
                 "source_id BIGINT NOT NULL, target_id BIGINT NOT NULL, PRIMARY KEY (source, kind, source_id))")


def _copied(conn: PgConnection, source: str, kind: str) -> dict[int, int]:
    return {int(s): int(t) for s, t in rows(conn, "SELECT source_id, target_id FROM copied_rows "
                                                  "WHERE source = %s AND kind = %s", (source, kind))}


class LibraryCopy:
    """Copies the library of ``sqlite`` into ``server`` as the data home ``owner`` (its conversations' owner)."""

    def __init__(self, sqlite: apsw.Connection, server: PgConnection, owner: str) -> None:
        self.sqlite = sqlite
        self.server = server
        self.owner = owner
        self.store = PgIndexStore(server, owner)

    def run(self) -> Iterator[CopyProgress]:
        _ensure_ledger(self.server)
        name, dim = self._embedder()
        if name is not None and dim is not None:
            self.store.ensure_embedder(name, dim)  # a library of another model is refused, naming both
        collections = self._collections()
        yield from self._documents(collections)
        yield from self._conversations()
        yield CopyProgress("verified", counts=self.counts())

    def _embedder(self) -> tuple[str | None, int | None]:
        found = dict(sqlite_rows(self.sqlite, "SELECT key, value FROM meta WHERE key IN ('embedder', 'embedding_dim')"))
        return found.get("embedder"), int(found["embedding_dim"]) if "embedding_dim" in found else None

    def _collections(self) -> dict[int, int]:
        """Collections by name, their folders and exclusions (idempotent: they are upserted)."""
        ids: dict[int, int] = {}
        for source_id, name in sqlite_rows(self.sqlite, "SELECT id, name FROM collections ORDER BY id"):
            target = self.store.collection_id(str(name))
            assert target is not None
            ids[int(source_id)] = target
        with self.server.transaction():
            for collection_id, path in sqlite_rows(self.sqlite, "SELECT collection_id, path FROM roots"):
                self.store.add_root(ids[int(collection_id)], str(path))
            for path, collection_id in sqlite_rows(self.sqlite, "SELECT path, collection_id FROM exclusions"):
                self.store.exclude(ids[int(collection_id)], str(path))
        return ids

    def _documents(self, collections: dict[int, int]) -> Iterator[CopyProgress]:
        documents = sqlite_rows(self.sqlite, "SELECT id, collection_id, path, kind, title, size, mtime_ns, "
                                             "content_hash, status, error, pages, reader_version FROM documents "
                                             "ORDER BY id")
        copied = _copied(self.server, self.owner, DOCUMENT)
        progress = CopyProgress("documents", len(copied.keys() & {int(d[0]) for d in documents}), len(documents))
        yield progress
        for row in documents:
            source_id = int(row[0])
            if source_id in copied:
                continue
            document = NewDocument(collections[int(row[1])], str(row[2]), str(row[3]), str(row[4]), int(row[5]),
                                   int(row[6]), str(row[7]), int(row[10]), int(row[11]))
            status, error = str(row[8]), str(row[9])
            chunks = sqlite_rows(self.sqlite, "SELECT c.ordinal, c.page, c.section, c.start, c.end, c.text, "
                                              "c.text_hash, e.vector FROM chunks c JOIN chunk_embeddings e "
                                              "ON e.chunk_id = c.id WHERE c.document_id = ? ORDER BY c.ordinal",
                                 (source_id,))
            with self.server.transaction():  # the document and its ledger line land together or not at all
                if chunks:
                    spans = [ChunkSpan(int(c[3]), int(c[4]), str(c[5]), c[1], str(c[2])) for c in chunks]
                    vectors = np.frombuffer(b"".join(bytes(c[7]) for c in chunks), dtype=np.float32)
                    target_id = self.store.write_document(document, spans, vectors.reshape(len(chunks), -1),
                                                          [str(c[6]) for c in chunks], status=status, note=error)
                else:
                    target_id = self.store.record_failure(document, status, error)
                self.server.execute("INSERT INTO copied_rows(source, kind, source_id, target_id) "
                                    "VALUES (%s, %s, %s, %s)", (self.owner, DOCUMENT, source_id, target_id))
            progress.done += 1
            progress.copied_now += 1
            yield progress

    def _conversations(self) -> Iterator[CopyProgress]:
        conversations = sqlite_rows(self.sqlite, "SELECT id, title, collections, created_at, updated_at "
                                                 "FROM conversations ORDER BY id")
        copied = _copied(self.server, self.owner, CONVERSATION)
        documents = _copied(self.server, self.owner, DOCUMENT)
        progress = CopyProgress("conversations", len(copied.keys() & {int(c[0]) for c in conversations}),
                                len(conversations))
        yield progress
        for source_id, title, scope, created_at, updated_at in conversations:
            if int(source_id) in copied:
                continue
            with self.server.transaction():
                target_id = int(scalar(
                    self.server, "INSERT INTO conversations(owner, title, collections, created_at, updated_at) "
                                 "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                    (self.owner, title, scope, created_at, updated_at)))
                for message in sqlite_rows(self.sqlite, "SELECT role, content, citations, created_at, "
                                                        "sources_forgotten, stopped, notice, closest FROM messages "
                                                        "WHERE conversation_id = ? ORDER BY id", (source_id,)):
                    role, content, cited, created, forgotten, stopped, notice, closest = message
                    self.server.execute(
                        "INSERT INTO messages(conversation_id, role, content, citations, created_at, "
                        "sources_forgotten, stopped, notice, closest) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        (target_id, role, content, _renumbered(cited, documents), created, bool(forgotten),
                         bool(stopped), notice, _renumbered(closest, documents)))
                self.server.execute("INSERT INTO copied_rows(source, kind, source_id, target_id) "
                                    "VALUES (%s, %s, %s, %s)", (self.owner, CONVERSATION, int(source_id), target_id))
            progress.done += 1
            progress.copied_now += 1
            yield progress

    def counts(self) -> dict[str, tuple[int, int]]:
        """(rows in the file, the rows they became on the server) for each kind of row copied."""
        def local(sql: str) -> int:
            return int(sqlite_rows(self.sqlite, sql)[0][0])

        def server(sql: str) -> int:
            return int(scalar(self.server, sql, (self.owner,)))

        mapped_documents = "(SELECT target_id FROM copied_rows WHERE source = %s AND kind = 'document')"
        mapped_conversations = "(SELECT target_id FROM copied_rows WHERE source = %s AND kind = 'conversation')"
        return {
            "documents": (local("SELECT count(*) FROM documents"),
                          server(f"SELECT count(*) FROM documents WHERE id IN {mapped_documents}")),
            "chunks": (local("SELECT count(*) FROM chunks"),
                       server(f"SELECT count(*) FROM chunks WHERE document_id IN {mapped_documents}")),
            "vectors": (local("SELECT count(*) FROM chunk_embeddings"),
                        server(f"SELECT count(embedding) FROM chunks WHERE document_id IN {mapped_documents}")),
            "conversations": (local("SELECT count(*) FROM conversations"),
                              server(f"SELECT count(*) FROM conversations WHERE id IN {mapped_conversations}")),
            "messages": (local("SELECT count(*) FROM messages"),
                         server(f"SELECT count(*) FROM messages WHERE conversation_id IN {mapped_conversations}")),
        }


def _renumbered(payload: str, documents: dict[int, int]) -> str:
    """JSON citations with each document id replaced by the id that document has on the server."""
    citations = json.loads(payload)
    for citation in citations:
        source_id = citation.get("document_id")
        if isinstance(source_id, int) and source_id in documents:
            citation["document_id"] = documents[source_id]
    return json.dumps(citations)
