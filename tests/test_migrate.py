"""`main.py migrate --to URL`: a local library copied into a team library on a real PostgreSQL server,
without re-embedding, resumed after a stop, verified by counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import GeneratorType

import numpy as np
import pytest

from engine import paths
from engine.api import Engine, HushdocsError, Settings
from engine.embedding.embedder import Embedder
from engine.records import Citation
from engine.store.db import connect, rows
from engine.store.postgres.connection import connect as connect_postgres
from engine.store.postgres.connection import rows as pg_rows

ROOT = Path(__file__).resolve().parents[1]
NOTES = {
    "ferry.md": "# Ferry\n\nThe ferry to the island leaves the harbour at seven every morning.\n",
    "garden.md": "# Garden\n\nTomatoes need sun and water; the hose is behind the shed.\n",
    "vault.md": "# Vault\n\nThe code of the vault is 4417. Only the night guard knows it.\n",
}


def _local_library(folder: Path, embedder: Embedder) -> int:
    """Index the notes into the data home's SQLite file with a conversation citing the ferry note; its id."""
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / name).write_text(text, "utf-8")
    with Engine(Settings(), embedder=embedder) as engine:
        assert not engine.library.is_shared
        list(engine.index([folder], "Notes"))
        [ferry] = [d for d in engine.documents() if d.path.endswith("ferry.md")]
        chat = engine.conversations().create("Ferries", ["Notes"])
        engine.conversations().add_message(chat.id, "user", "When does the ferry leave?")
        engine.conversations().add_message(chat.id, "assistant", "At seven [1].", [Citation(
            1, ferry.path, None, 0, 40, "The ferry to the island ...", document_id=ferry.id)])
        return ferry.id


def _someone_elses_note(tmp_path: Path, url: str, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "colleague"))
    folder = tmp_path / "colleague-notes"
    folder.mkdir()
    (folder / "herons.md").write_text("# Herons\n\nGrey herons wait at the edge of the pond.\n", "utf-8")
    with Engine(Settings(), database_url=url, embedder=embedder) as engine:
        list(engine.index([folder], "Birds"))


def _vectors_by_text(pairs: list[tuple[object, ...]]) -> dict[str, np.ndarray]:
    return {str(text): np.frombuffer(bytes(vector), dtype=np.float32) if isinstance(vector, bytes | memoryview)
            else vector.to_numpy() for text, vector in pairs}  # type: ignore[attr-defined]


def test_a_local_library_is_copied_resumed_and_verified(tmp_path: Path, postgres_url: str, embedder: Embedder,
                                                        hushdocs_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _someone_elses_note(tmp_path, postgres_url, embedder, monkeypatch)  # the team library already holds one
    monkeypatch.setenv(paths.HOME_ENV, str(hushdocs_home))
    local_ferry_id = _local_library(tmp_path / "notes", embedder)
    with Engine(Settings()) as engine:  # no embedder is loaded: nothing is embedded again
        run = engine.migrate_to(postgres_url)
        for progress in run:
            if progress.stage == "documents" and progress.copied_now == 1:
                break  # stopped after one document, as a kill between two documents would
        assert isinstance(run, GeneratorType)
        run.close()
    assert engine._embedder is None

    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "migrate", "--to", postgres_url, "--json"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["copied_now"] == {"documents": 2, "conversations": 1}  # the first document was not copied again
    assert report["complete"] and report["counts"]["documents"] == {"here": 3, "server": 3}
    assert report["counts"]["messages"] == {"here": 2, "server": 2}

    again = subprocess.run([sys.executable, str(ROOT / "main.py"), "migrate", "--to", postgres_url],
                           capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0 and "copied now: 0 document(s), 0 conversation(s)" in again.stdout
    listed = subprocess.run([sys.executable, str(ROOT / "main.py"), "--database", postgres_url, "collections",
                             "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert [c["name"] for c in json.loads(listed.stdout)] == ["Birds", "Notes"]  # --database: the team library

    local = connect(paths.database_path())
    server = connect_postgres(postgres_url)
    local_vectors = _vectors_by_text(rows(local, "SELECT c.text, e.vector FROM chunks c "
                                                "JOIN chunk_embeddings e ON e.chunk_id = c.id"))
    server_vectors = _vectors_by_text(pg_rows(server, "SELECT text, embedding FROM chunks"))
    assert local_vectors.keys() == server_vectors.keys() - {"# Herons\n\nGrey herons wait at the edge of the pond."}
    for text, vector in local_vectors.items():
        assert np.array_equal(vector, server_vectors[text])  # the very vectors, not new ones
    local.close()
    server.close()

    with Engine(Settings(), database_url=postgres_url, embedder=embedder) as team:
        assert team.library.is_shared
        assert [(c.name, c.document_count) for c in team.collections()] == [("Birds", 1), ("Notes", 3)]
        assert team.search("when does the boat depart", k=1)[0].path.endswith("ferry.md")
        [chat] = team.conversations().all()  # this home's conversations came along, as this home's
        [question, answer] = team.conversations().messages(chat.id)
        [server_ferry] = [d for d in team.documents() if d.path.endswith("ferry.md")]
        assert answer.citations[0].document_id == server_ferry.id != local_ferry_id  # renumbered to the server's ids
        assert (question.content, answer.content) == ("When does the ferry leave?", "At seven [1].")
        assert team.forget([answer.citations[0].path]) == 1
        [_, answer] = team.conversations().messages(chat.id)
        assert answer.citations == [] and answer.sources_forgotten  # the renumbered citation is found and dropped


def test_migrating_without_a_local_library_says_so(tmp_path: Path, postgres_url: str) -> None:
    with Engine(Settings()) as engine, pytest.raises(HushdocsError, match="no library here to copy"):
        list(engine.migrate_to(postgres_url))
