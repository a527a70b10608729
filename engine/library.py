"""Where the library lives: the SQLite file in the data home (the default), or a PostgreSQL server a team shares.

``open_library`` picks one from the database URL (``--database URL``, ``HUSHDOCS_DATABASE_URL`` or the
``database_url`` setting, in that order); without one the SQLite file is used, exactly as before. Both backends
hand out the same protocols (``engine/store/interface.py`` and ``Searcher`` below), so the engine, the indexer
and the answerer never know which one they are talking to.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import apsw

from engine.embedding.embedder import Embedder
from engine.errors import HushdocsError
from engine.records import Hit
from engine.retrieval import search as sqlite_search
from engine.retrieval.keyword_thread import KeywordThread
from engine.retrieval.search import Fusion, Scope, SearchMode
from engine.store.conversations import ConversationStore
from engine.store.db import connect as connect_sqlite
from engine.store.index_store import IndexStore
from engine.store.interface import ConversationLog, LibraryStore
from engine.store.postgres.identity import home_identity

if TYPE_CHECKING:
    from engine.store.postgres.progress import CopyProgress

DATABASE_ENV = "HUSHDOCS_DATABASE_URL"
LIBRARY_SERVER = "library database"  # the network seal's name for the team library's server
CHECKED_SERVER = "library database being checked"  # a library Settings checks before it is used


class Searcher(Protocol):
    """Hybrid search and the statistics answers need (``Answerer``, ``checks.TermStatistics``)."""

    embedder: Embedder
    keyword_thread: KeywordThread | None  # where a hybrid search's keyword list runs; None: on the caller's thread

    def search(self, query: str, k: int = 5, collection: Scope = None, mode: SearchMode = "hybrid", *,
               document_id: int | None = None, merge: bool = True, fusion: Fusion | None = None) -> list[Hit]: ...

    def keyword_ids(self, query: str, n: int, collection_ids: Sequence[int] | None = None,
                    document_id: int | None = None) -> list[tuple[int, float]]: ...

    def has_documents(self, collection: Scope = None) -> bool: ...
    def chunk_count(self) -> int: ...
    def stem_document_frequencies(self, stems: Sequence[str]) -> dict[str, int]: ...


class Connection(Protocol):
    def close(self) -> None: ...


class Library(Protocol):
    """One database: connections (one per thread, the engine keeps them) and the stores over one."""

    @property
    def is_shared(self) -> bool:
        """A team library on a server (True), or this data home's own file."""
        ...

    @property
    def place(self) -> str:
        """Where it is, for people: the file, or the server's host:port (its socket folder on this computer)."""
        ...

    def connect(self) -> Connection: ...
    def index_store(self, conn: Connection) -> LibraryStore: ...
    def conversation_store(self, conn: Connection) -> ConversationLog: ...
    def searcher(self, conn: Connection, embedder: Embedder, fusion: Fusion) -> Searcher: ...
    def has_documents(self, conn: Connection, collection: Scope = None) -> bool: ...


class SqliteLibrary:
    """The data home's own file (``hushdocs.sqlite3``)."""

    is_shared = False

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def place(self) -> str:
        return str(self.path)

    def connect(self) -> apsw.Connection:
        return connect_sqlite(self.path)

    def index_store(self, conn: Connection) -> IndexStore:
        return IndexStore(_sqlite(conn))

    def conversation_store(self, conn: Connection) -> ConversationStore:
        return ConversationStore(_sqlite(conn))

    def searcher(self, conn: Connection, embedder: Embedder, fusion: Fusion) -> sqlite_search.Retriever:
        return sqlite_search.Retriever(_sqlite(conn), embedder, fusion=fusion)

    def has_documents(self, conn: Connection, collection: Scope = None) -> bool:
        return sqlite_search.has_documents(_sqlite(conn), collection)


def _sqlite(conn: Connection) -> apsw.Connection:
    assert isinstance(conn, apsw.Connection), "a SQLite library's stores take its own connections"
    return conn


def database_url(setting: str, explicit: str | None = None) -> str:
    """The team library's URL: given explicitly (``--database``), else ``HUSHDOCS_DATABASE_URL``, else the
    setting; "" for the data home's own SQLite file."""
    if explicit:
        return explicit
    return os.environ.get(DATABASE_ENV, "").strip() or setting.strip()


def open_library(url: str, sqlite_path: Path, data_dir: Path) -> Library:
    """The library the URL names, or the SQLite file at ``sqlite_path`` when it is empty."""
    if not url:
        return SqliteLibrary(sqlite_path)
    from engine.store.postgres.library import PostgresLibrary  # noqa: PLC0415 - psycopg only for a team library

    return PostgresLibrary(url, home_identity(data_dir))


def check_library(url: str) -> None:
    """Connect to the team library at ``url`` once and close again; raises HushdocsError with the reason (server
    unreachable, password refused, no pgvector). The seal lets this process reach its server while it is checked."""
    from engine.store.postgres.library import check  # noqa: PLC0415 - psycopg only for a team library

    check(url)


def copy_library(sqlite_path: Path, url: str, data_dir: Path) -> Iterator[CopyProgress]:
    """Copy the SQLite library at ``sqlite_path`` into the team library at ``url`` (resumable), yielding progress;
    the last event holds the counts of both sides."""
    if not sqlite_path.is_file():
        raise HushdocsError(f"there is no library here to copy: {sqlite_path} does not exist")
    from engine.store.postgres.library import copy_into  # noqa: PLC0415 - psycopg only for a team library

    yield from copy_into(sqlite_path, url, home_identity(data_dir))
