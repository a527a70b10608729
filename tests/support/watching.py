"""A stand-in for the folder watcher (the test says when a batch of changed paths arrives), and long notes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import engine.api

SENTENCES = "Some words about tides, harbours and the boats that wait for them. " * 150


class ManualWatcher:
    """Takes ``FolderWatcher``'s place: ``on_paths`` is the engine's callback for one batch of changes."""

    latest: ManualWatcher | None = None

    def __init__(self, on_paths: Callable[[set[str]], None], quiet_s: float = 1.0) -> None:
        self.on_paths = on_paths
        ManualWatcher.latest = self

    def watch(self, folders: object) -> None:
        pass

    def stop(self) -> None:
        pass


def install_manual_watcher(monkeypatch: pytest.MonkeyPatch) -> Callable[[], ManualWatcher]:
    """Make the engine watch with a ManualWatcher; the returned function gives the one watching now."""
    ManualWatcher.latest = None
    monkeypatch.setattr(engine.api, "FolderWatcher", ManualWatcher)

    def latest() -> ManualWatcher:
        assert ManualWatcher.latest is not None, "watching has not started"
        return ManualWatcher.latest

    return latest


def write_long_notes(folder: Path, count: int) -> None:
    """note00.md, note01.md, ...: about 150 sentences each, several chunks to embed."""
    folder.mkdir(exist_ok=True)
    for i in range(count):
        (folder / f"note{i:02d}.md").write_text(f"# Note {i}\n\n{SENTENCES}", "utf-8")
