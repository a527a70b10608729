"""Connections to a PostgreSQL library and its numbered migrations.

Every connection is in autocommit mode: reads see what others committed, and each write names its own
transaction (``conn.transaction()``), so a connection never sits idle inside one. Concurrency between
machines is the server's: migrations and the embedding model's record take transaction-scoped advisory locks,
documents are upserted by path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from pgvector.psycopg import register_vector

from engine.errors import HushdocsError

PgConnection = psycopg.Connection[tuple[Any, ...]]
Migration = Callable[[PgConnection], None]
CONNECT_TIMEOUT_S = 10
MIGRATION_LOCK = 0x4855_5348  # pg_advisory_xact_lock key: one migrating process at a time ("HUSH")
EMBEDDER_LOCK = MIGRATION_LOCK + 1
MIN_PGVECTOR = (0, 7)  # halfvec, and HNSW over it


def _m001_core(conn: PgConnection) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.execute(
        """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE collections(
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE roots(
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL UNIQUE
        );
        CREATE TABLE exclusions(
            path TEXT PRIMARY KEY,
            collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE
        );
        CREATE TABLE documents(
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            size BIGINT NOT NULL DEFAULT 0,
            mtime_ns BIGINT NOT NULL DEFAULT 0,
            content_hash TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            pages INTEGER NOT NULL DEFAULT 0,
            chunk_count INTEGER NOT NULL DEFAULT 0,
            indexed_at DOUBLE PRECISION,
            reader_version INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX documents_by_hash ON documents(content_hash);
        CREATE INDEX documents_by_collection ON documents(collection_id);
        -- A chunk carries its collection (a document keeps its collection while its chunks exist: another one
        -- rewrites them) so that a vector search filters on the table it scans, as sqlite-vec's chunk_bits does.
        CREATE TABLE chunks(
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            document_id BIGINT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            collection_id BIGINT NOT NULL,
            ordinal INTEGER NOT NULL,
            page INTEGER,
            section TEXT NOT NULL DEFAULT '',
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            text TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            keywords TSVECTOR NOT NULL,
            embedding VECTOR NOT NULL
        );
        CREATE INDEX chunks_by_document ON chunks(document_id, ordinal);
        CREATE INDEX chunks_by_text_hash ON chunks(text_hash);
        CREATE INDEX chunks_by_collection ON chunks(collection_id);
        CREATE INDEX chunks_keywords ON chunks USING GIN (keywords);
        CREATE TABLE conversations(
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            owner TEXT NOT NULL,
            title TEXT NOT NULL,
            collections TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX conversations_by_owner ON conversations(owner, updated_at);
        CREATE TABLE messages(
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            citations TEXT NOT NULL DEFAULT '[]',
            created_at DOUBLE PRECISION NOT NULL,
            sources_forgotten BOOLEAN NOT NULL DEFAULT FALSE,
            stopped BOOLEAN NOT NULL DEFAULT FALSE,
            notice TEXT NOT NULL DEFAULT '',
            closest TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
        """
    )


# Append only: a migration that has shipped is never edited.
MIGRATIONS: list[Migration] = [_m001_core]

_migrated: set[str] = set()  # libraries this process brought up to date (each is checked once per process)
_migrated_lock = threading.Lock()


def schema_version(conn: PgConnection) -> int:
    found = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: PgConnection) -> None:
    """Run each pending migration in its own transaction with its number recorded inside it; a second process
    migrating at once waits on the advisory lock and then finds the work done."""
    for number, migration in enumerate(MIGRATIONS, start=1):
        if schema_version(conn) >= number:
            continue
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations("
                         "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            if schema_version(conn) < number:
                migration(conn)
                conn.execute("INSERT INTO schema_migrations(version) VALUES (%s)", (number,))


def server_endpoint(url: str) -> tuple[str, int] | None:
    """(host, port) of a database URL that names a network host; None for a Unix socket (no host, or a folder)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise HushdocsError(f"the library database {describe(url)} is not a PostgreSQL URL "
                            "(postgresql://user@host:5432/database)")
    host = parts.hostname or ""
    if not host or host.startswith("/"):
        return None
    return host, parts.port or 5432


def socket_folder(url: str) -> str:
    """The folder of a Unix-socket URL's socket (``?host=/run/postgresql``), or libpq's default."""
    host = parse_qs(urlsplit(url).query).get("host", [""])[0] or urlsplit(url).hostname or ""
    return host if host.startswith("/") else "the default socket"


def describe(url: str) -> str:
    """The URL with any password left out, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":…@")
    return parts._replace(netloc=netloc).geturl()


def connect(url: str) -> PgConnection:
    """An autocommit connection with pgvector's types, the schema up to date (once per process and library)."""
    try:
        conn: PgConnection = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as error:
        # libpq's last line says why ("connection refused", "password authentication failed"), indented by a tab
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[-1] if lines else type(error).__name__
        stop = "" if reason.endswith((".", "?", "!")) else "."
        raise HushdocsError(f"the library database {describe(url)} cannot be reached: {reason}{stop} "
                            "Check that the server runs and that this computer may connect to it "
                            "(Settings, HUSHDOCS_DATABASE_URL or --database).") from error
    with _migrated_lock:
        if url not in _migrated:
            try:
                migrate(conn)
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.FeatureNotSupported,
                    psycopg.errors.UndefinedFile) as error:
                conn.close()
                reason = str(error).strip().splitlines()[0]
                raise HushdocsError(f"the library database {describe(url)} has no pgvector ({reason}): the server's "
                                    "admin installs it (pgvector 0.7 or newer) and runs `CREATE EXTENSION vector` "
                                    "in that database as a superuser (README: A team library)") from error
            _check_pgvector(conn, url)
            _migrated.add(url)
    register_vector(conn)
    return conn


def _check_pgvector(conn: PgConnection, url: str) -> None:
    version = str(scalar(conn, "SELECT extversion FROM pg_extension WHERE extname = 'vector'"))
    if tuple(int(part) for part in version.split(".")[:2]) < MIN_PGVECTOR:
        conn.close()
        raise HushdocsError(f"the library database {describe(url)} has pgvector {version}: Hushdocs needs "
                            f"{'.'.join(map(str, MIN_PGVECTOR))} or newer (halfvec and its HNSW index); "
                            "`ALTER EXTENSION vector UPDATE` after installing a newer one")


def rows(conn: PgConnection, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    return conn.execute(sql, args).fetchall()


def scalar(conn: PgConnection, sql: str, args: Sequence[object] = ()) -> Any:
    row = conn.execute(sql, args).fetchone()
    if row is None:
        raise LookupError(f"no row for: {sql}")
    return row[0]


def get_meta(conn: PgConnection, key: str) -> str | None:
    found = rows(conn, "SELECT value FROM meta WHERE key = %s", (key,))
    return str(found[0][0]) if found else None


def set_meta(conn: PgConnection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (key, value))
