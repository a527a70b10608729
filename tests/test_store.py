"""The store: APSW + sqlite-vec, WAL, migrations in transactions, the embedder recorded."""

from __future__ import annotations

from pathlib import Path

import apsw
import numpy as np
import pytest

from engine.errors import IndexMismatchError
from engine.store.db import MIGRATIONS, connect, scalar, schema_version
from engine.store.index_store import IndexStore


def test_connect_loads_sqlite_vec_and_uses_wal(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.sqlite3")
    assert scalar(conn, "SELECT vec_version()").startswith("v")
    assert scalar(conn, "PRAGMA journal_mode") == "wal"
    assert scalar(conn, "PRAGMA foreign_keys") == 1
    assert schema_version(conn) == len(MIGRATIONS)


def test_migrations_are_idempotent_and_numbered(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    connect(path).close()
    conn = connect(path)  # a second open runs nothing again
    assert schema_version(conn) == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"documents", "chunks", "chunks_fts", "chunk_embeddings", "conversations", "messages"} <= tables


def test_embedder_is_recorded_and_a_different_one_refused(tmp_path: Path) -> None:
    store = IndexStore(connect(tmp_path / "c.sqlite3"))
    store.ensure_embedder("all-MiniLM-L6-v2", 384)
    assert store.embedder_info() == ("all-MiniLM-L6-v2", 384)
    store.ensure_embedder("all-MiniLM-L6-v2", 384)
    with pytest.raises(IndexMismatchError, match="Re-index"):
        store.ensure_embedder("another-model", 768)


def test_a_reader_sees_committed_data_beside_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    writer = connect(path)
    reader = connect(path)
    with writer:
        writer.execute("INSERT INTO meta(key, value) VALUES ('k', 'v')")
        # Inside the writer's open transaction the reader still sees the old state (WAL).
        assert scalar(reader, "SELECT count(*) FROM meta WHERE key = 'k'") == 0
    assert scalar(reader, "SELECT value FROM meta WHERE key = 'k'") == "v"


def test_vec0_knn_with_cosine(tmp_path: Path) -> None:
    conn = connect(tmp_path / "e.sqlite3")
    conn.execute("CREATE VIRTUAL TABLE v USING vec0(embedding float[4] distance_metric=cosine)")
    rows = {1: [1, 0, 0, 0], 2: [0, 1, 0, 0], 3: [0.9, 0.1, 0, 0]}
    for rowid, vector in rows.items():
        conn.execute("INSERT INTO v(rowid, embedding) VALUES (?, ?)",
                     (rowid, np.asarray(vector, dtype=np.float32).tobytes()))
    query = np.asarray([1, 0.05, 0, 0], dtype=np.float32).tobytes()
    found = [r[0] for r in conn.execute("SELECT rowid FROM v WHERE embedding MATCH ? AND k = 2", (query,))]
    assert found == [1, 3]


def test_a_failed_migration_leaves_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.store import db

    def broken(conn: apsw.Connection) -> None:
        conn.execute("CREATE TABLE half_done(x)")
        raise RuntimeError("boom")

    path = tmp_path / "f.sqlite3"
    connect(path).close()
    monkeypatch.setattr(db, "MIGRATIONS", [*db.MIGRATIONS, broken])
    with pytest.raises(RuntimeError):
        connect(path)
    conn = apsw.Connection(str(path))
    assert scalar(conn, "PRAGMA user_version") == len(MIGRATIONS)
    assert scalar(conn, "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'") == 0


_FIRST_LAUNCH = """
import sys
from engine.store.db import connect
from engine.store.index_store import IndexStore
print("ready", flush=True)
sys.stdin.read(1)  # all go at once
store = IndexStore(connect(sys.argv[1]))
store.ensure_embedder("all-MiniLM-L6-v2", 384)
store.collection_id("My documents")
print(len(store.collections()))
"""


def test_processes_opening_a_fresh_home_at_once_all_succeed(tmp_path: Path) -> None:
    """The GUI and a CLI command at first launch: every process migrates or waits its turn, none fails."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    for attempt in range(3):
        database = tmp_path / f"home{attempt}.sqlite3"
        processes = [subprocess.Popen([sys.executable, "-c", _FIRST_LAUNCH, str(database)], cwd=root, text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                     for _ in range(6)]
        for process in processes:  # each one imported and waiting at the line
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("g")
            process.stdin.flush()
        results = [(p.wait(60), *p.communicate()) for p in processes]
        failures = [err.strip().splitlines()[-1] for code, _out, err in results if code != 0]
        assert failures == [], f"attempt {attempt}: {failures}"
        assert all(out.strip() == "1" for _code, out, _err in results)
        conn = connect(database)
        assert schema_version(conn) == len(MIGRATIONS)
        assert scalar(conn, "SELECT count(*) FROM collections") == 1
        conn.close()
