"""Forget means gone: checked by FTS MATCH, by every table (conversations included) and by a byte scan of
every file in the data home, through the CLI as a person runs it and through the engine as the app does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine import paths
from engine.api import Engine
from engine.records import Citation
from engine.settings import Settings
from engine.store.db import connect, rows

ROOT = Path(__file__).resolve().parents[1]
SECRET = "quorbelvintrix"  # in no dictionary, no model vocabulary, no other file
NOTE = f"# The vault\n\nThe vault password is {SECRET}. Nobody else may know {SECRET}.\n"
OTHER = "# Herons\n\nGrey herons wait motionless at the edge of the pond before they strike.\n"


def _files_holding(home: Path, needle: bytes) -> list[str]:
    """Every file under the data home (database, WAL, SHM, logs, settings, anything) holding ``needle``."""
    found = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes().lower()
        if needle.lower() in data or needle.lower().decode().encode("utf-16-le") in data:
            found.append(str(path.relative_to(home)))
    return found


def _notes(folder: Path) -> Path:
    folder.mkdir()
    (folder / "vault.md").write_text(NOTE, "utf-8")
    (folder / "herons.md").write_text(OTHER, "utf-8")
    return folder


def _main(*args: str) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _match(conn: object, word: str) -> list[tuple[object, ...]]:
    return rows(conn, "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (word,))  # type: ignore[arg-type]


def test_cli_forget_leaves_no_byte_of_the_note_in_the_data_home(tmp_path: Path, hushdocs_home: Path) -> None:
    folder = _notes(tmp_path / "notes")
    _main("index", str(folder))
    assert _files_holding(hushdocs_home, SECRET.encode()) != []  # the scan sees the word while it is indexed
    assert "forgot 1 document" in _main("forget", str(folder / "vault.md"))
    assert _files_holding(hushdocs_home, SECRET.encode()) == []
    conn = connect(hushdocs_home / "data" / "hushdocs.sqlite3")
    assert _match(conn, SECRET) == [] and len(_match(conn, "herons")) == 1  # the other note is untouched
    conn.close()


def _every_value(conn: object) -> list[tuple[str, object]]:
    """(table, value) for every value of every table, the FTS and sqlite-vec shadow tables included."""
    tables = [r[0] for r in rows(conn, "SELECT name FROM sqlite_master WHERE type = 'table'")]  # type: ignore[arg-type]
    return [(table, value) for table in tables
            for row in rows(conn, f'SELECT * FROM "{table}"')  # type: ignore[arg-type]
            for value in row]


def test_forget_removes_every_trace_from_every_table_and_file(tmp_path: Path, hushdocs_home: Path,
                                                              embedder: object) -> None:
    folder = _notes(tmp_path / "notes")
    with Engine(Settings(), embedder=embedder) as engine:  # type: ignore[arg-type]
        list(engine.index([folder]))
        [vault] = [h for h in engine.search(SECRET, k=3, mode="keyword")]
        heron = engine.search("herons", k=1, mode="keyword")[0]
        # A hybrid search too: the keyword list's thread keeps a connection of its own open while the app runs.
        assert engine.search(SECRET, k=1)[0].document_id == vault.document_id
        conn = connect(paths.database_path())
        vectors = [bytes(r[0]) for r in rows(conn, "SELECT e.vector FROM chunk_embeddings e JOIN chunks c ON "
                                                   "c.id = e.chunk_id WHERE c.document_id = ?", (vault.document_id,))]
        conversations = engine.conversations()
        chat = conversations.create("Vault")
        conversations.add_message(chat.id, "user", "What is the vault password?")
        citations = [Citation(1, vault.path, None, vault.start, vault.end, vault.text, document_id=vault.document_id),
                     Citation(2, heron.path, None, heron.start, heron.end, heron.text, document_id=heron.document_id)]
        conversations.add_message(chat.id, "assistant", "It is written in the vault note [1]; herons [2].", citations)

        assert engine.forget([folder / "vault.md"]) == 1

        assert _match(conn, SECRET) == []
        leftovers = [(table, value) for table, value in _every_value(conn)
                     if (isinstance(value, str) and (SECRET in value or "vault.md" in value))
                     or (isinstance(value, bytes) and SECRET.encode() in value)]
        # Its folder is still followed: the path alone stays, so that the next scan leaves the note out.
        assert leftovers == [("exclusions", str(folder / "vault.md"))]
        [question, answer] = conversations.messages(chat.id)
        assert question.content == "What is the vault password?"
        assert answer.content == "It is written in the vault note [1]; herons [2]."  # the person's own text
        assert [c.n for c in answer.citations] == [2] and answer.sources_forgotten
        assert "forgotten" in conversations.export_markdown(chat.id)
        # While the app still runs (its connections open, the WAL in use): not in any file.
        assert _files_holding(hushdocs_home, SECRET.encode()) == []
        assert _files_holding(hushdocs_home, b"vault.md") == ["data/hushdocs.sqlite3"]  # the exclusion's path
        on_disk = b"".join(p.read_bytes() for p in (hushdocs_home / "data").iterdir())
        assert vectors and not any(vector in on_disk for vector in vectors)  # its vectors are gone too
        conn.close()


@pytest.mark.parametrize("how", ["forget everything", "delete the collection"])
def test_forgetting_everything_leaves_no_document_bytes(tmp_path: Path, hushdocs_home: Path, embedder: object,
                                                        how: str) -> None:
    folder = _notes(tmp_path / "notes")
    with Engine(Settings(), embedder=embedder) as engine:  # type: ignore[arg-type]
        list(engine.index([folder], "Private"))
        conversations = engine.conversations()
        chat = conversations.create("Herons")
        conversations.add_message(chat.id, "user", "Where do herons wait?")
        if how == "forget everything":
            engine.forget_everything()
            assert conversations.count() == 0
        else:
            engine.delete_collection("Private")
        assert engine.documents() == [] and engine.collections() == []
        for word in (SECRET, "motionless", "vault.md", "herons.md"):  # the app still running
            assert _files_holding(hushdocs_home, word.encode()) == [], word
        if how == "forget everything":
            assert _files_holding(hushdocs_home, b"Where do herons wait") == []
