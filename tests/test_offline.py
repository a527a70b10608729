"""Nothing leaves the machine: proven at the system-call level for the app's own process and children,
and by the socket guard for every Python process the tests start."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.ingest.parser_process import ParserProcess
from engine.offline import SEALED_ENVIRONMENT
from tests.support.child_network import ChildNetworkLog
from tests.support.documents import write_pdf
from tests.test_ui_support import PAGES

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "support" / "offline_driver.py"
LINGER_S = 12  # onnxruntime looked its telemetry host up ~9 s after creating a session
_INTERNET_SOCKET = re.compile(r"\bAF_INET6?\b")


def _unsealed_environment() -> dict[str, str]:
    """This environment without the off switches: the app must set them itself."""
    return {key: value for key, value in os.environ.items() if key not in SEALED_ENVIRONMENT}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # fail, never skip: without the trace, the promise is unproven
        pytest.fail(f"`{name}` is needed to prove that nothing calls home (apt-get install strace util-linux)")
    return path


def test_no_process_of_the_app_opens_an_internet_socket(tmp_path: Path, tiny_model_path: Path) -> None:
    """Index, ask, then the window loading its models, in a network namespace under strace: no AF_INET(6)
    socket, connect or sendto in the app's process or any child (the parser), for longer than onnxruntime's
    telemetry delay after its last session was created."""
    folder = tmp_path / "docs"
    folder.mkdir()
    write_pdf(folder / "brannock.pdf", PAGES)
    (folder / "note.md").write_text("# Note\n\nThe ferry leaves at seven.\n", "utf-8")
    trace = tmp_path / "trace.txt"
    command = [_tool("unshare"), "-rn", _tool("strace"), "-f", "-qq", "-e", "trace=socket,connect,sendto",
               "-o", str(trace), sys.executable, str(DRIVER), str(folder), str(tiny_model_path), str(LINGER_S)]
    result = subprocess.run(command, env=_unsealed_environment(), capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert trace.is_file() and trace.stat().st_size > 0  # strace saw the process (AF_UNIX sockets at least)
    calls = [line for line in trace.read_text("utf-8", "replace").splitlines() if _INTERNET_SOCKET.search(line)]
    assert calls == [], "the app reached for the network:\n" + "\n".join(calls[:20])


def test_main_seals_the_environment_before_anything_loads() -> None:
    script = ("import sys, json; import main, os; "
              "print(json.dumps({k: os.environ.get(k) for k in sys.argv[1:]})); "
              "print(sorted(m for m in ('onnxruntime', 'tokenizers', 'llama_cpp') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script, *SEALED_ENVIRONMENT], cwd=ROOT,
                            env=_unsealed_environment(), capture_output=True, text=True, check=True)
    values, loaded = result.stdout.splitlines()
    assert json.loads(values) == SEALED_ENVIRONMENT
    assert loaded == "[]"  # importing main loads none of the heavy libraries


def test_the_parser_child_seals_its_own_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in SEALED_ENVIRONMENT:
        monkeypatch.delenv(key, raising=False)  # the child is started without them
    note = tmp_path / "note.md"
    note.write_text("anything", "utf-8")
    with ParserProcess(timeout_s=30, loader="tests.support.net_loaders:report_environment") as parser:
        parser.submit(note)
        document = parser.result()
    assert json.loads(document.text) == SEALED_ENVIRONMENT


def test_the_frozen_app_seals_before_main(monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy

    for key in SEALED_ENVIRONMENT:
        monkeypatch.delenv(key, raising=False)
    runpy.run_path(str(ROOT / "packaging" / "rthook_offline.py"))
    assert {key: os.environ.get(key) for key in SEALED_ENVIRONMENT} == SEALED_ENVIRONMENT
    spec = (ROOT / "pyinstaller.spec").read_text("utf-8")
    assert re.search(r"runtime_hooks=\[[^\]]*rthook_offline\.py", spec)


def test_a_subprocess_that_tries_the_network_is_stopped_and_recorded(child_network_guard: ChildNetworkLog) -> None:
    script = "import socket; socket.create_connection(('192.0.2.1', 80), timeout=1)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "NetworkAccessError" in result.stderr
    [attempt] = child_network_guard.take()
    assert "192.0.2.1" in attempt


def test_the_parser_child_is_guarded(tmp_path: Path, child_network_guard: ChildNetworkLog) -> None:
    from engine.ingest.status import LoadError

    note = tmp_path / "note.md"
    note.write_text("anything", "utf-8")
    with ParserProcess(timeout_s=30, loader="tests.support.net_loaders:phone_home") as parser:
        parser.submit(note)
        with pytest.raises(LoadError, match="network connection was attempted"):
            parser.result()
    [attempt] = child_network_guard.take()
    assert f"pid {os.getpid()} " not in attempt and "192.0.2.1" in attempt  # recorded by the child, not here
