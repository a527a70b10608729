"""The team library: a PostgreSQL server with pgvector behind the protocols of ``engine/library.py``.

Imported only when a database URL is set (``engine.library.open_library``), so the default SQLite library never
loads psycopg or libpq.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg

from engine import offline
from engine.embedding.embedder import Embedder
from engine.errors import HushdocsError
from engine.library import CHECKED_SERVER, LIBRARY_SERVER, Connection, Searcher
from engine.retrieval.postgres_search import PgRetriever
from engine.retrieval.postgres_search import has_documents as pg_has_documents
from engine.retrieval.search import Fusion, Scope
from engine.store.db import connect as connect_sqlite
from engine.store.interface import ConversationLog, LibraryStore
from engine.store.postgres.connection import PgConnection, describe, server_endpoint, socket_folder
from engine.store.postgres.connection import connect as connect_postgres
from engine.store.postgres.conversations import PgConversationStore
from engine.store.postgres.copy_in import LibraryCopy
from engine.store.postgres.index_store import PgIndexStore
from engine.store.postgres.progress import CopyProgress


class PostgresLibrary:
    """A PostgreSQL server with pgvector, shared by every computer pointed at it; ``owner`` is this data home's
    identity, whose conversations are its own."""

    is_shared = True

    def __init__(self, url: str, owner: str) -> None:
        self.url = url
        self.owner = owner
        endpoint = server_endpoint(url)
        if endpoint is not None:
            offline.allow(LIBRARY_SERVER, endpoint)  # the seal lets this process reach that server, and no other
        self._endpoint = endpoint

    @property
    def place(self) -> str:
        if self._endpoint is None:
            return f"on this computer ({socket_folder(self.url)})"
        host, port = self._endpoint
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def connect(self) -> Connection:
        return connect_postgres(self.url)

    def index_store(self, conn: Connection) -> LibraryStore:
        return PgIndexStore(_postgres(conn), self.owner)

    def conversation_store(self, conn: Connection) -> ConversationLog:
        return PgConversationStore(_postgres(conn), self.owner)

    def searcher(self, conn: Connection, embedder: Embedder, fusion: Fusion) -> Searcher:
        return PgRetriever(_postgres(conn), embedder, fusion=fusion)

    def has_documents(self, conn: Connection, collection: Scope = None) -> bool:
        return pg_has_documents(_postgres(conn), collection)


def _postgres(conn: Connection) -> PgConnection:
    assert isinstance(conn, psycopg.Connection), "a team library's stores take its own connections"
    return conn


def check(url: str) -> None:
    """Connect to the team library at ``url`` once and close again (``engine.library.check_library``)."""
    endpoint = server_endpoint(url)
    offline.allow(CHECKED_SERVER, endpoint)
    try:
        connect_postgres(url).close()
    except psycopg.ProgrammingError as error:  # not a connection string libpq reads (an unknown option, a typo)
        raise HushdocsError(f"the library address {describe(url)} is not one PostgreSQL reads: {error}") from error
    finally:
        offline.allow(CHECKED_SERVER, None)


def copy_into(sqlite_path: Path, url: str, owner: str) -> Iterator[CopyProgress]:
    """The SQLite library at ``sqlite_path`` copied into the team library at ``url`` (engine.library.copy_library)."""
    target = PostgresLibrary(url, owner)
    source = connect_sqlite(sqlite_path)
    try:
        server = _postgres(target.connect())
        try:
            yield from LibraryCopy(source, server, target.owner).run()
        finally:
            server.close()
    finally:
        source.close()
