"""Connections and schema migrations.

APSW, not ``sqlite3``: it bundles a current SQLite with FTS5 and can always load extensions (this
machine's and macOS's system Python cannot). Each thread opens its own connection through
``connect``; WAL lets readers run beside the one writer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw
import sqlite_vec

from engine.errors import DiskFullError

Migration = Callable[[apsw.Connection], None]
BUSY_TIMEOUT_MS = 10_000  # how long a connection waits for another process's write lock


def _m001_core(conn: apsw.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE collections(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL
        );
        CREATE TABLE roots(
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL UNIQUE
        );
        CREATE TABLE documents(
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            size INTEGER NOT NULL DEFAULT 0,
            mtime_ns INTEGER NOT NULL DEFAULT 0,
            content_hash TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            pages INTEGER NOT NULL DEFAULT 0,
            chunk_count INTEGER NOT NULL DEFAULT 0,
            indexed_at REAL
        );
        CREATE INDEX documents_by_hash ON documents(content_hash);
        CREATE INDEX documents_by_collection ON documents(collection_id);
        CREATE TABLE chunks(
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            page INTEGER,
            section TEXT NOT NULL DEFAULT '',
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            text TEXT NOT NULL,
            text_hash TEXT NOT NULL
        );
        CREATE INDEX chunks_by_document ON chunks(document_id, ordinal);
        CREATE TABLE chunk_embeddings(
            chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
            vector BLOB NOT NULL
        );
        CREATE INDEX chunks_by_text_hash ON chunks(text_hash);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        """
    )


def _m002_conversations(conn: apsw.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE conversations(
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            collection TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE messages(
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            citations TEXT NOT NULL DEFAULT '[]',
            created_at REAL NOT NULL
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
        """
    )


def _m003_reader_version(conn: apsw.Connection) -> None:
    # Which version of the reading pipeline (loaders, chunker) made a document's chunks: 0 for those made
    # before this column, so that they are read again once.
    conn.execute("ALTER TABLE documents ADD COLUMN reader_version INTEGER NOT NULL DEFAULT 0")


def _m004_forgetting_leaves_nothing(conn: apsw.Connection) -> None:
    # FTS5 normally deletes by adding "delete" markers beside the old entries, which keep the words until a
    # merge: secure-delete removes them in place. 'optimize' merges away what older deletes left behind.
    conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('secure-delete', 1)")
    conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
    # An answer whose cited documents were forgotten keeps its text and says so.
    conn.execute("ALTER TABLE messages ADD COLUMN sources_forgotten INTEGER NOT NULL DEFAULT 0")


def _m005_exclusions(conn: apsw.Connection) -> None:
    # Files or folders forgotten inside a followed folder: the scanner leaves them out until they are included
    # again. Only the path is kept, never anything of the content.
    conn.execute(
        """
        CREATE TABLE exclusions(
            path TEXT PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE
        );
        """
    )


def _m006_conversation_scope_and_outcomes(conn: apsw.Connection) -> None:
    # A conversation searches a set of collections (a JSON list; NULL: all of them), not the one collection the
    # library showed when it began: that one becomes its set.
    conn.execute("ALTER TABLE conversations ADD COLUMN collections TEXT")
    conn.execute("UPDATE conversations SET collections = json_array(collection) WHERE collection IS NOT NULL")
    conn.execute("ALTER TABLE conversations DROP COLUMN collection")
    # How an answer ended, so a reopened conversation shows it as it was: stopped by the person, the notice a
    # decline showed instead of its text, and the closest passages it offered (JSON citations).
    conn.execute("ALTER TABLE messages ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE messages ADD COLUMN notice TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE messages ADD COLUMN closest TEXT NOT NULL DEFAULT '[]'")


def _m007_chunk_deletions(conn: apsw.Connection) -> None:
    # The ids of deleted chunks, in order, so an in-memory copy of the vectors (retrieval/binary_index.py)
    # drops just those rows instead of reloading the whole table (seconds at a million chunks). Ids only, no
    # content; trimmed as it grows (index_store.py), and a copy older than the trimmed part reloads.
    conn.execute("CREATE TABLE chunk_deletions(seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id INTEGER NOT NULL)")


# Append only: a migration that has shipped is never edited.
MIGRATIONS: list[Migration] = [_m001_core, _m002_conversations, _m003_reader_version,
                               _m004_forgetting_leaves_nothing, _m005_exclusions,
                               _m006_conversation_scope_and_outcomes, _m007_chunk_deletions]

_migrate_lock = threading.Lock()


def schema_version(conn: apsw.Connection) -> int:
    return int(scalar(conn, "PRAGMA user_version"))


@contextmanager
def write_transaction(conn: apsw.Connection) -> Iterator[None]:
    """A transaction that takes the write lock first (``BEGIN IMMEDIATE``), waiting on the busy timeout.

    A plain transaction that reads and then writes cannot wait: when another process wrote in between,
    SQLite fails it at once with "database is locked". Anything that decides on what it read uses this.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: apsw.Connection) -> None:
    """Run each pending migration in its own transaction, bumping ``user_version`` inside it.

    Two processes may open a fresh data home at once (the app and a command at first launch): each
    migration takes the write lock and re-reads the version inside it, so the second process waits and
    then finds the work done.
    """
    with _migrate_lock:
        for number, migration in enumerate(MIGRATIONS, start=1):
            if schema_version(conn) >= number:
                continue
            with write_transaction(conn):  # the migration and its version land together or not at all
                if schema_version(conn) < number:
                    migration(conn)
                    conn.execute(f"PRAGMA user_version = {number}")


def _use_wal(conn: apsw.Connection) -> None:
    """Switch to WAL (it persists in the file: the first process to create it does it for all).

    Two processes creating the file at once: SQLite does not wait on the busy timeout for the lock this
    switch needs, so the one that finds it taken tries again until the same timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except apsw.BusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def connect(path: Path | str, *, readonly: bool = False) -> apsw.Connection:
    """A connection with sqlite-vec loaded, WAL, foreign keys on, and the schema up to date."""
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    conn = apsw.Connection(str(path), flags=flags)
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    conn.enable_load_extension(False)
    conn.set_busy_timeout(BUSY_TIMEOUT_MS)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten with zeros, not left in free space
    if not readonly:
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    return conn


@contextmanager
def disk_full_is_plain(conn: apsw.Connection) -> Iterator[None]:
    """Turn SQLite's "database or disk is full" into a message a person can act on.

    Every document is written in one transaction, so the failed one is rolled back and the others stay.
    """
    try:
        yield
    except apsw.FullError as error:
        raise DiskFullError(
            f"the disk is full: the index could not be written to {conn.filename or 'the data folder'}. "
            "Nothing was lost: what was indexed so far is saved whole. "
            "Free some space, then run `main.py sync` (or Re-scan in the app) to go on."
        ) from error


def purge(conn: apsw.Connection) -> None:
    """After a forget: copy the WAL into the database and truncate it, so no old page image stays in it."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def scalar(conn: apsw.Connection, sql: str, args: Sequence[object] = ()) -> Any:
    """The first column of the first row (the query must return one)."""
    row = conn.execute(sql, args).fetchone()
    if row is None:
        raise LookupError(f"no row for: {sql}")
    return row[0]


def rows(conn: apsw.Connection, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(sql, args)]


def get_meta(conn: apsw.Connection, key: str) -> str | None:
    found = rows(conn, "SELECT value FROM meta WHERE key = ?", (key,))
    return str(found[0][0]) if found else None


def set_meta(conn: apsw.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (key, value))
