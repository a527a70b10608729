from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import paths
from engine.settings import Settings


def test_hushdocs_home_moves_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUSHDOCS_HOME", str(tmp_path / "portable"))
    monkeypatch.delenv("HUSHDOCS_MODELS")
    for folder in (paths.data_dir(), paths.models_dir(), paths.logs_dir(), paths.settings_dir()):
        assert folder.is_relative_to(tmp_path / "portable") and folder.is_dir()
    assert paths.database_path().parent == paths.data_dir()


def test_tests_never_touch_the_real_home(hushdocs_home: Path) -> None:
    assert paths.data_dir().is_relative_to(hushdocs_home)


def test_settings_file_keeps_only_what_the_person_changed(hushdocs_home: Path) -> None:
    Settings(passages=5, temperature=0.1).save()
    assert json.loads(paths.settings_path().read_text("utf-8")) == {"passages": 5}  # 0.1 is the default
    loaded = Settings.load()
    assert loaded.passages == 5 and loaded.passage_tokens == Settings().passage_tokens
    hand_edited = {"passage_tokens": 120, "threads": "many", "unknown": 1, "fusion": "no-such-fusion"}
    paths.settings_path().write_text(json.dumps(hand_edited), "utf-8")
    loaded = Settings.load()  # wrong types, unknown keys and unknown choices fall back, they do not fail
    assert loaded.passage_tokens == 120 and loaded.threads == Settings().threads
    assert loaded.fusion == "relative"
