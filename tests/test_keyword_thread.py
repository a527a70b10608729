"""A hybrid search runs its keyword list on a thread of its own, beside the embedding and the vector list: the
same results as both lists on one thread, the thread's own connection, errors raised to the caller, and the
thread and its connection gone when the engine closes or changes library."""

from __future__ import annotations

import threading
from pathlib import Path

import apsw
import pytest

from engine import paths
from engine.api import Engine
from engine.retrieval.search import Retriever
from engine.settings import Settings

NOTES = {
    "herons.md": "# Herons\n\nGrey herons wait motionless at the edge of the pond before they strike at fish.\n",
    "tides.md": "# Tides\n\nThe spring tide comes two days after the full moon and floods the lower quay.\n",
    "boats.md": "# Boats\n\nWinter storage on the hard costs 300 euros; the crane lifts boats out in October.\n",
}


def keyword_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("hushdocs-keyword-list") and t.is_alive()]


def connections_to(database: Path) -> list[apsw.Connection]:
    return [c for c in apsw.connections() if Path(c.filename) == database]


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / name).write_text(text, "utf-8")
    return folder


def test_the_keyword_list_runs_on_its_own_thread_and_finds_what_one_thread_finds(  # type: ignore[no-untyped-def]
        notes: Path, hushdocs_home: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    listed_on: list[tuple[str, apsw.Connection]] = []
    keyword_ids = Retriever.keyword_ids

    def recording(self: Retriever, *args, **kwargs):  # type: ignore[no-untyped-def]
        listed_on.append((threading.current_thread().name, self.conn))
        return keyword_ids(self, *args, **kwargs)

    with Engine(Settings(), embedder=embedder) as engine:
        list(engine.index([notes]))
        monkeypatch.setattr(Retriever, "keyword_ids", recording)
        questions = ["How much does winter storage cost?", "When does the spring tide come?", "grey herons"]
        side_by_side = [engine.search(question, k=3) for question in questions]
        [(thread_name, _conn)] = set(listed_on)  # every list on one thread, over one connection
        assert thread_name.startswith("hushdocs-keyword-list")
        assert all(conn is not engine._connection() for _name, conn in listed_on)  # not the caller's connection

        listed_on.clear()
        one_thread = engine.retriever()
        one_thread.keyword_thread = None
        in_turn = [one_thread.search(question, k=3) for question in questions]
        assert {name for name, _conn in listed_on} == {threading.current_thread().name}
        assert [[(h.chunk_id, h.score, h.ranks) for h in hits] for hits in side_by_side] == \
               [[(h.chunk_id, h.score, h.ranks) for h in hits] for hits in in_turn]
        assert side_by_side[0][0].path.endswith("boats.md") and side_by_side[0][0].ranks.get("keyword") == 1
        assert len(connections_to(paths.database_path())) == 2  # the engine's and the keyword list's
    assert keyword_threads() == []
    assert connections_to(paths.database_path()) == []


def test_an_error_in_the_keyword_list_reaches_the_caller(  # type: ignore[no-untyped-def]
        notes: Path, hushdocs_home: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(self: Retriever, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise apsw.CorruptError("database disk image is malformed")

    with Engine(Settings(), embedder=embedder) as engine:
        list(engine.index([notes]))
        monkeypatch.setattr(Retriever, "keyword_ids", failing)
        with pytest.raises(apsw.CorruptError, match="malformed"):
            engine.search("grey herons", k=3)
        monkeypatch.undo()
        assert engine.search("grey herons", k=3)[0].path.endswith("herons.md")  # the thread goes on


def test_changing_library_ends_the_thread_and_its_connection(  # type: ignore[no-untyped-def]
        notes: Path, hushdocs_home: Path, embedder) -> None:
    with Engine(Settings(), embedder=embedder) as engine:
        list(engine.index([notes]))
        engine.search("grey herons", k=3)
        [first] = keyword_threads()
        engine.use_library("")  # the same file, as Settings' Library row does it: every connection is renewed
        assert not first.is_alive() and keyword_threads() == []
        assert len(connections_to(paths.database_path())) == 1  # this thread's, opened again on the new library
        assert engine.search("grey herons", k=3)[0].path.endswith("herons.md")
        assert len(keyword_threads()) == 1
