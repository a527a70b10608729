"""The watcher's batches join the app's indexing queue: cancelled and joined at shutdown, no connection left open."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from engine.api import Engine
from tests.support.watching import ManualWatcher, install_manual_watcher, write_long_notes
from ui.main_window import MainWindow

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures


@pytest.fixture
def manual_watcher(monkeypatch: pytest.MonkeyPatch) -> Callable[[], ManualWatcher]:
    return install_manual_watcher(monkeypatch)


def test_watcher_batches_run_as_indexing_jobs_and_connections_do_not_grow(
        qtbot: QtBot, tmp_path: Path, make_engine: Callable[..., Engine], open_window: Callable[..., MainWindow],
        manual_watcher: Callable[[], ManualWatcher]) -> None:
    folder = tmp_path / "watched"
    write_long_notes(folder, 2)
    hushdocs = make_engine()
    list(hushdocs.index([folder]))
    window = open_window(hushdocs, watch=True, preload=False)
    qtbot.waitUntil(lambda: not window.indexing.is_busy(), timeout=30_000)  # the start-up catch-up
    most = 0
    for i in range(100):
        path = folder / f"note{i % 2:02d}.md"
        path.write_text(f"# Note {i}\n\nBatch {i}: the tide turns.", "utf-8")
        with qtbot.waitSignal(window.indexing.job_finished, timeout=20_000) as finished:
            manual_watcher().on_paths({str(path)})
        assert finished.args[0].phase == "finished"
        most = max(most, hushdocs.open_connections())
    assert most <= 2  # the GUI thread's, and a worker's while its job runs
    qtbot.waitUntil(lambda: hushdocs.open_connections() <= 1, timeout=5_000)
    assert hushdocs.search("turns", k=1, mode="keyword")


def test_a_watcher_sync_is_cancelled_and_joined_at_shutdown(
        qtbot: QtBot, tmp_path: Path, make_engine: Callable[..., Engine], open_window: Callable[..., MainWindow],
        manual_watcher: Callable[[], ManualWatcher]) -> None:
    folder = tmp_path / "watched"
    write_long_notes(folder, 1)
    hushdocs = make_engine()
    list(hushdocs.index([folder]))
    window = open_window(hushdocs, watch=True, preload=False)
    qtbot.waitUntil(lambda: not window.indexing.is_busy(), timeout=30_000)
    write_long_notes(folder, 40)
    with qtbot.waitSignal(window.indexing.progress, timeout=20_000,
                          check_params_cb=lambda event: event.phase == "indexing"):
        manual_watcher().on_paths({str(p) for p in folder.iterdir()})
    worker = window.indexing._worker
    assert worker is not None and window.indexing._job is not None and window.indexing._job.from_watcher
    window.shutdown()
    assert worker.done.is_set()  # joined before the engine closed
    assert len(hushdocs.documents()) < 40  # cancelled between files
