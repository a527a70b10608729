"""The packaged app (PyInstaller, dist/Hushdocs) works on its own: no Python, no network, no display.

Builds the bundle with `packaging/build.py` (reused when its inputs are unchanged: a stamp holds a
hash of them), then runs the frozen executable:

- `self-test` with an empty PATH and a new, empty HOME: the bundled models and every native piece
  (llama.cpp, onnxruntime, sqlite-vec, PyMuPDF) load from the bundle alone;
- `self-test` inside a network namespace with no network (`unshare -rn`);
- a CLI command with stdout and stderr closed (the runtime hook gives it a console.log instead);
- the GUI under QT_QPA_PLATFORM=offscreen: it starts, stays up, and logs no crash;
- `index` a folder (a PDF and a Markdown file with known facts) and `ask` one question with the tiny
  bundled model: the JSON answer cites the file that holds the fact.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP_DIR = ROOT / "dist" / "Hushdocs"
EXECUTABLE = APP_DIR / "Hushdocs"
BUNDLED_MODELS = APP_DIR / "_internal" / "models"
TINY_MODEL = BUNDLED_MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
BUILD_TIMEOUT_S = 900
RUN_TIMEOUT_S = 300
# The GUI logs this once its main window is on screen (see packaging/README.md); the start-up time is
# measured from it when present.
WINDOW_SHOWN = re.compile(r"window shown.*monotonic[= ](?P<at>\d+(?:\.\d+)?)")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle() -> Path:
    """dist/Hushdocs, built (or found up to date) by the one documented build command."""
    env = {k: v for k, v in os.environ.items() if k != "HUSHDOCS_HOME"}
    result = subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
    assert result.returncode == 0, f"build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert EXECUTABLE.is_file() and os.access(EXECUTABLE, os.X_OK), result.stdout[-2000:]
    for name in ("all-MiniLM-L6-v2-int8-unguarded.onnx", "all-MiniLM-L6-v2-tokenizer.json",
                 "qwen2.5-coder-0.5b-instruct-q8_0.gguf", TINY_MODEL.name):
        assert (BUNDLED_MODELS / name).is_file(), f"{name} is not bundled"
    return EXECUTABLE


def _bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with nothing in it: an empty PATH folder and a new, empty HOME."""
    empty_bin = tmp_path / "empty-bin"
    home = tmp_path / "home"
    empty_bin.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    return {"PATH": str(empty_bin), "HOME": str(home), "LANG": "C.UTF-8", **extra}


def _run(command: list[str], env: dict[str, str], timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _self_test_report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, f"self-test failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    report: dict[str, Any] = json.loads(result.stdout)
    failed = [c for c in report["checks"] if not c["ok"]]
    assert report["ok"] and not failed, failed
    assert len(report["checks"]) >= 6
    return report


def test_self_test_without_python_or_home(bundle: Path, tmp_path: Path) -> None:
    env = _bare_env(tmp_path)
    assert shutil.which("python3", path=env["PATH"]) is None and shutil.which("python", path=env["PATH"]) is None
    report = _self_test_report(_run([str(bundle), "self-test", "--json"], env))
    # The default chat model came from the bundle: the empty HOME has no model folder with files in it.
    details = " ".join(str(c["detail"]) for c in report["checks"])
    assert "qwen2.5-coder-0.5b-instruct-q8_0.gguf" in details
    user_models = list((tmp_path / "home").rglob("*.gguf"))
    assert not user_models, user_models


def test_self_test_without_network(bundle: Path, tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    assert unshare, "util-linux `unshare` is needed to run the bundle without a network"
    probe = _run([unshare, "-rn", "cat", "/proc/net/dev"], os.environ.copy(), timeout=30)
    assert probe.returncode == 0, f"`unshare -rn` is not permitted here: {probe.stderr}"
    interfaces = [line.split(":")[0].strip() for line in probe.stdout.splitlines()[2:]]
    assert interfaces == ["lo"], f"the namespace should hold only a loopback device: {interfaces}"
    _self_test_report(_run([unshare, "-rn", str(bundle), "self-test", "--json", "--model", str(TINY_MODEL)],
                           _bare_env(tmp_path)))


def test_cli_with_closed_stdout_writes_console_log(bundle: Path, tmp_path: Path) -> None:
    """A windowed start has no stdout/stderr: the runtime hook sends them to logs/console.log."""
    home = tmp_path / "hushdocs"
    env = _bare_env(tmp_path, HUSHDOCS_HOME=str(home))
    result = subprocess.run([str(bundle), "models", "list", "--json"], env=env, stdin=subprocess.DEVNULL,
                            timeout=RUN_TIMEOUT_S, check=False, preexec_fn=_close_stdio)
    assert result.returncode == 0
    console = (home / "logs" / "console.log").read_text("utf-8")
    listing = json.loads(console[console.index("["):])
    states = {m["name"]: m["state"] for m in listing}
    assert states["qwen2.5-coder-0.5b-instruct-q8_0"] == "ok", states
    assert states["smollm2-135m-instruct-q4_1"] == "ok", states


def _close_stdio() -> None:
    os.close(1)
    os.close(2)


def test_gui_starts_offscreen(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "hushdocs"
    env = _bare_env(tmp_path, HUSHDOCS_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    log = home / "logs" / "hushdocs.log"
    started = time.monotonic()
    process = subprocess.Popen([str(bundle)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    shown_at: float | None = None
    try:
        while time.monotonic() - started < 8:
            assert process.poll() is None, f"the app exited ({process.returncode}):\n{process.stdout.read()}"  # type: ignore[union-attr]
            match = WINDOW_SHOWN.search(log.read_text("utf-8")) if log.is_file() else None
            if match:
                shown_at = float(match.group("at"))
                break
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output = process.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
    text = log.read_text("utf-8") if log.is_file() else ""
    assert "CRITICAL" not in text and "Traceback" not in text, text[-3000:]
    assert "Traceback" not in output, output[-3000:]
    faults = home / "logs" / "faults.log"
    assert not faults.is_file() or "Fatal Python error" not in faults.read_text("utf-8", "replace")
    if shown_at is not None:
        print(f"window shown {shown_at - started:.2f} s after the frozen app started")
        assert shown_at - started < 10


def _write_documents(folder: Path) -> tuple[Path, Path]:
    import pymupdf

    folder.mkdir()
    pdf = folder / "lighthouse.pdf"
    document = pymupdf.open()
    page = document.new_page()
    page.insert_textbox(pymupdf.Rect(72, 72, 520, 400),
                        "The Varnholm Lighthouse\n\nThe lighthouse on Varnholm island was built in 1874 by the "
                        "engineer Tilda Marsk. Its lamp can be seen 19 nautical miles out to sea.", fontsize=12)
    document.save(pdf)
    document.close()
    notes = folder / "kettle.md"
    notes.write_text("# The office kettle\n\nThe blue office kettle boils one litre of water in 93 seconds. "
                     "It was bought in March.\n", "utf-8")
    return pdf, notes


def test_index_and_ask_through_the_frozen_cli(bundle: Path, tmp_path: Path) -> None:
    pdf, notes = _write_documents(tmp_path / "docs")
    env = _bare_env(tmp_path, HUSHDOCS_HOME=str(tmp_path / "hushdocs"))

    indexed = _run([str(bundle), "index", str(pdf.parent), "--collection", "packaged", "--json"], env)
    assert indexed.returncode == 0, f"{indexed.stdout}\n{indexed.stderr}"
    report = json.loads(indexed.stdout)
    by_path = {Path(f["path"]).name: f for f in report["files"]}
    assert {"lighthouse.pdf", "kettle.md"} <= set(by_path), report
    assert all(by_path[name]["status"] == "indexed" or by_path[name]["action"] == "indexed"
               for name in ("lighthouse.pdf", "kettle.md")), report

    documents = _run([str(bundle), "docs", "--json"], env)
    assert documents.returncode == 0, documents.stderr
    assert {Path(d["path"]).name for d in json.loads(documents.stdout)} >= {"lighthouse.pdf", "kettle.md"}

    asked = _run([str(bundle), "ask", "Who built the lighthouse on Varnholm island?", "--collection", "packaged",
                  "--model", str(TINY_MODEL), "--json"], env)
    assert asked.returncode == 0, f"{asked.stdout}\n{asked.stderr}"
    answer = json.loads(asked.stdout)
    assert {"answer", "citations", "grounded", "timings", "model"} <= set(answer), answer
    assert answer["answer"].strip(), answer
    cited = [Path(c["path"]).name for c in answer["citations"]]
    assert "lighthouse.pdf" in cited, answer
    citation = next(c for c in answer["citations"] if Path(c["path"]).name == "lighthouse.pdf")
    assert {"n", "path", "page", "start", "end", "text"} <= set(citation)
    assert citation["page"] == 1 and "Tilda Marsk" in citation["text"], citation
