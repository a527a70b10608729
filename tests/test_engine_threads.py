"""Thread-bound resources have one owner: the watcher's syncs, the database connections, the two models."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import engine.api
from engine.api import Engine, IndexProgress, Settings
from engine.generation.llm import GeneratorOptions
from tests.support.watching import ManualWatcher, install_manual_watcher, write_long_notes


@pytest.fixture
def manual_watcher(monkeypatch: pytest.MonkeyPatch) -> Callable[[], ManualWatcher]:
    return install_manual_watcher(monkeypatch)


def sync_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "watcher sync" and t.is_alive()]


def test_a_watcher_sync_is_cancelled_and_joined_when_watching_stops(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "watched"
    write_long_notes(folder, 1)
    events: list[IndexProgress] = []
    with Engine(Settings(), embedder=embedder) as engine:
        list(engine.index([folder]))
        engine.start_watching(events.append)
        write_long_notes(folder, 40)  # one batch of 39 new files: a sync of many seconds
        deadline = time.monotonic() + 30
        while not any(e.phase == "indexing" for e in events):
            assert time.monotonic() < deadline, "the watcher's batch never started a sync"
            time.sleep(0.05)
        started = time.monotonic()
        engine.stop_watching()
        assert time.monotonic() - started < 10  # cancelled between files, not run to the end
        assert not sync_threads()  # joined
        assert events[-1].phase == "cancelled"
        assert len(engine.documents()) < 40
        assert engine.open_connections() == 1  # this thread's; the sync thread's closed with its work


def test_connections_do_not_grow_over_100_watcher_batches(tmp_path: Path, embedder,  # type: ignore[no-untyped-def]
                                                          manual_watcher: Callable[[], ManualWatcher]) -> None:
    folder = tmp_path / "watched"
    write_long_notes(folder, 2)
    with Engine(Settings(), embedder=embedder) as hushdocs:
        list(hushdocs.index([folder]))
        finished: list[IndexProgress] = []
        hushdocs.start_watching(lambda event: finished.append(event) if event.phase == "finished" else None)
        most = 0
        for i in range(100):
            path = folder / f"note{i % 2:02d}.md"
            path.write_text(f"# Note {i}\n\nBatch {i}: the tide turns.", "utf-8")
            manual_watcher().on_paths({str(path)})
            deadline = time.monotonic() + 20
            while len(finished) <= i:
                assert time.monotonic() < deadline, f"batch {i} was not synced"
                time.sleep(0.01)
            most = max(most, hushdocs.open_connections())
        assert most <= 2  # this thread's, and the sync thread's while it works
        deadline = time.monotonic() + 5
        while hushdocs.open_connections() > 1:
            assert time.monotonic() < deadline, "the sync thread kept its connection after its work"
            time.sleep(0.01)
        assert [d.chunks > 0 for d in hushdocs.documents()] == [True, True]
        hushdocs.stop_watching()
        assert not sync_threads()


def test_indexing_does_not_wait_for_the_chat_model_to_load(tmp_path: Path, embedder,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    loading = threading.Event()
    release = threading.Event()

    class SlowGenerator:
        def __init__(self, path: Path, options: GeneratorOptions) -> None:
            loading.set()
            release.wait(30)

        def prefill(self, messages: object) -> None:
            pass

        def close(self) -> None:
            pass

    monkeypatch.setattr(engine.api, "LlamaGenerator", SlowGenerator)
    folder = tmp_path / "notes"
    write_long_notes(folder, 2)
    with Engine(Settings(), embedder=embedder) as hushdocs:
        loader = threading.Thread(target=hushdocs.generator)
        loader.start()
        try:
            assert loading.wait(10)
            events = list(hushdocs.index([folder]))  # the chat model is still loading
            assert events[-1].phase == "finished" and not release.is_set()
        finally:
            release.set()
            loader.join(30)
