from __future__ import annotations

from pathlib import Path

import pytest

from engine import paths


def test_hushdocs_home_moves_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUSHDOCS_HOME", str(tmp_path / "portable"))
    monkeypatch.delenv("HUSHDOCS_MODELS")
    for folder in (paths.data_dir(), paths.models_dir(), paths.logs_dir(), paths.settings_dir()):
        assert folder.is_relative_to(tmp_path / "portable") and folder.is_dir()
    assert paths.database_path().parent == paths.data_dir()


def test_tests_never_touch_the_real_home(hushdocs_home: Path) -> None:
    assert paths.data_dir().is_relative_to(hushdocs_home)
