"""Forgetting one file inside a followed folder sticks: later scans leave it out until it is included again."""

from __future__ import annotations

from pathlib import Path

from engine.ingest.sync import Indexer
from engine.store.db import connect, rows
from engine.store.index_store import IndexStore

SECRET = "zorvantiquel"  # in no dictionary: found only where the note's text is


def _match(store: IndexStore, word: str) -> list[tuple[object, ...]]:
    return rows(store.conn, "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (word,))


def _database_holds(path: Path, needle: bytes) -> bool:
    return any(needle in p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))


def test_a_file_forgotten_inside_a_followed_folder_stays_out_until_included(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "index.sqlite3"
    store = IndexStore(connect(database))
    indexer = Indexer(store, embedder, parse_timeout_s=20)
    folder = tmp_path / "notes"
    (folder / "inner").mkdir(parents=True)
    private = folder / "private.md"
    private.write_text(f"# Private\n\nThe safe opens with {SECRET}.\n", "utf-8")
    (folder / "herons.md").write_text("# Herons\n\nGrey herons wait at the pond.\n", "utf-8")
    (folder / "inner" / "tides.md").write_text("# Tides\n\nThe spring tide came at dawn.\n", "utf-8")
    list(indexer.add([folder]))
    assert len(_match(store, SECRET)) == 1

    assert indexer.forget([private]) == 1
    assert [e.path for e in store.exclusions()] == [str(private)]
    assert [root for _, root in store.roots()] == [str(folder)]  # the folder is still followed
    private.write_text(f"# Private\n\nThe safe opens with {SECRET}, and now the vault too.\n", "utf-8")  # edited
    (folder / "new.md").write_text("# New\n\nA new note about gulls.\n", "utf-8")
    last = list(indexer.sync())[-1]  # a re-scan of every folder
    assert last.summary["indexed"] == 1  # new.md, not the forgotten note
    last = list(indexer.sync([private]))[-1]  # the watcher saw the file change
    assert last.files_total == 0
    documents = {Path(d.path).name for d in store.documents()}
    assert documents == {"herons.md", "tides.md", "new.md"}
    assert _match(store, SECRET) == []
    assert not _database_holds(database, SECRET.encode())  # the exclusion holds the path, never the text

    # A forgotten sub-folder stays out too; forgetting the whole folder drops its exclusions with it.
    indexer.forget([folder / "inner"])
    list(indexer.sync())
    assert {Path(d.path).name for d in store.documents()} == {"herons.md", "new.md"}

    last = list(indexer.include([private]))[-1]  # "Index again"
    assert last.summary["indexed"] == 1 and len(_match(store, SECRET)) == 1
    assert [e.path for e in store.exclusions()] == [str(folder / "inner")]
    list(indexer.add([folder / "inner"]))  # adding a forgotten folder by hand includes it again
    assert store.exclusions() == [] and "tides.md" in {Path(d.path).name for d in store.documents()}
    indexer.forget([private])
    indexer.forget([folder])
    assert store.exclusions() == [] and store.documents() == [] and store.roots() == []
    store.conn.close()
