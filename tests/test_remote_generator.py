"""Answers from a server: the remote generator against llama-cpp-python's own OpenAI-compatible server
(``python -m llama_cpp.server``, its ``server`` extra) on 127.0.0.1 with the tiny model, one server for the module.

Streaming, stop (between pieces and while the server is still silent), a cited answer through ``Engine.ask``
from a real indexed file with the real embedder, a clear message when the server is down or fails, and the
network seal letting exactly the configured server through (under strace, in a process started as the app is).
"""

from __future__ import annotations

import _socket
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from engine.api import AnswerServerError, Engine, HushdocsError, ServerAddress, Settings
from engine.embedding.embedder import OnnxEmbedder
from engine.generation.llm import LlamaGenerator
from engine.generation.remote import STOP_POLL_S, RemoteGenerator
from tests.support.child_network import GUARD_DIR
from ui.settings_dialog import SettingsDialog

ROOT = Path(__file__).resolve().parents[1]
SEAL_DRIVER = ROOT / "tests" / "support" / "remote_seal_driver.py"
SERVER_START_S = 240  # importing FastAPI and loading the model on a busy machine
SERVER_CONTEXT = 2048
# llama_cpp.server as `python -m` runs it, after the CPU backend is registered as the app registers it: a dispatch
# build of llama.cpp (every CPU variant its own library, bootstrap.py's build where the CPU has AVX-512) loads no
# backend by itself, and the stock server then fails with "no backends are loaded".
SERVER_MAIN = ("import runpy; from engine.generation.cpu_backend import load_cpu_backend; load_cpu_backend(); "
               "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)")
VAULT = "# Vault\n\nThe code of the vault is 4417. Only the night guard knows it.\n"
WEATHER = "# Weather\n\nLisbon is mild in winter and the harbour rarely freezes.\n"


def _free_port() -> int:
    with socket.socket() as probe:  # binding is local: the test guard only refuses connections
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerAddress]:
    """llama-cpp-python's server on a free port of 127.0.0.1, ready when uvicorn says it is listening."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-c", SERVER_MAIN, "--model", str(tiny_model_path),
                                    "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(SERVER_CONTEXT),
                                    "--n_threads", "2"], stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while "Uvicorn running on" not in log.read_text("utf-8", "replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start:\n{log.read_text('utf-8', 'replace')[-3000:]}")
            time.sleep(0.2)
        yield ServerAddress.parse(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)  # uvicorn waits for a request in flight; the model cannot stop mid-prompt
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _only_to(port: int, real: Callable[..., object]) -> Callable[[socket.socket, object], object]:
    def connect(self: socket.socket, address: object) -> object:
        if self.family == socket.AF_UNIX or address == ("127.0.0.1", port):
            return real(self, address)
        raise AssertionError(f"a connection to {address!r}, not to the answer server, was attempted")

    return connect


def _open_guard_to(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test guard, opened for one port of 127.0.0.1 alone (the app's own seal is tested in its own process)."""
    monkeypatch.setattr(socket.socket, "connect", _only_to(port, _socket.socket.connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _only_to(port, _socket.socket.connect_ex))


@pytest.fixture
def server_network(server: ServerAddress, monkeypatch: pytest.MonkeyPatch) -> None:
    _open_guard_to(server.port, monkeypatch)


@pytest.fixture
def remote(server: ServerAddress, server_network: None) -> Iterator[RemoteGenerator]:
    generator = RemoteGenerator(server, default_n_ctx=SERVER_CONTEXT)
    yield generator
    generator.close()


def test_the_server_generator_streams_a_reply_and_counts_with_the_servers_tokenizer(
        remote: RemoteGenerator, tiny_model_path: Path) -> None:
    pieces = list(remote.stream_chat([{"role": "user", "content": "Name three colours."}], max_tokens=24,
                                     temperature=0.0))
    assert len(pieces) > 1 and "".join(pieces).strip()
    assert remote.name == tiny_model_path.name  # the server lists the model by its path
    assert remote.n_ctx == SERVER_CONTEXT and remote.n_ctx_source == "the Context size setting"  # no /props here
    assert remote.token_counting == "the server's /extras/tokenize/count"
    text = "Lighthouse keepers of Porto Velho, 1891–2004: Marguerite Okonkwo kept the light. " * 4
    local = LlamaGenerator(tiny_model_path)
    try:
        expected = local.count_tokens(text)
    finally:
        local.close()
    assert remote.count_tokens(text) in (expected, expected + 1)  # the server may count a BOS token


def test_stop_ends_the_stream_between_pieces(remote: RemoteGenerator) -> None:
    stop = threading.Event()
    pieces = []
    for piece in remote.stream_chat([{"role": "user", "content": "Count from one to one hundred in words."}],
                                    max_tokens=200, temperature=0.0, stop=stop):
        pieces.append(piece)
        if len(pieces) == 3:
            stop.set()
    assert len(pieces) == 3


def test_a_reply_the_server_breaks_off_is_an_error_not_an_empty_answer(remote: RemoteGenerator) -> None:
    too_long = [{"role": "user", "content": "word " * 3000}]  # more tokens than the server's window
    with pytest.raises(AnswerServerError, match=r"at http://127\.0\.0\.1:\d+ ended its reply before finishing"):
        list(remote.stream_chat(too_long, max_tokens=8))  # type: ignore[arg-type]


def test_a_model_the_server_does_not_have_is_named(server: ServerAddress, server_network: None) -> None:
    with pytest.raises(AnswerServerError, match=r"has no model named 'llama-70b'; it offers: .*SmolLM2"):
        RemoteGenerator(server, model="llama-70b")


def test_an_answer_from_the_server_cites_the_indexed_file(server: ServerAddress, server_network: None, tmp_path: Path,
                                                          embedder: OnnxEmbedder, tiny_model_path: Path) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "vault.md").write_text(VAULT, "utf-8")
    (folder / "weather.md").write_text(WEATHER, "utf-8")
    settings = Settings(answers_from="server", server_url=server.url, context_size=SERVER_CONTEXT, temperature=0.0)
    with Engine(settings, embedder=embedder) as engine:
        list(engine.index([folder]))
        events = list(engine.ask("What is the code of the vault?"))
        assert engine.chat_model_title() == (f"{tiny_model_path.name} on the server {server.netloc}, "
                                             "the only computer Hushdocs contacts")
    tokens = [e for e in events if e.kind == "token"]
    [done] = [e for e in events if e.kind == "done"]
    answer = done.answer
    assert answer is not None and len(tokens) > 1
    assert answer.model == tiny_model_path.name  # written by the server's model, not a local one
    assert answer.grounded and "4417" in answer.text, (answer.decision, answer.text, answer.left_out)
    assert [Path(c.path).name for c in answer.citations] == ["vault.md"]
    assert f"[{answer.citations[0].n}]" in answer.text


def test_an_unreachable_server_is_named_in_a_clear_message_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()  # nothing listens there
    _open_guard_to(port, monkeypatch)
    closed = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with pytest.raises(AnswerServerError, match=re.escape(f"answer server at {closed}: nothing is listening")):
        RemoteGenerator(ServerAddress.parse(closed), connect_timeout_s=3.0)
    assert time.perf_counter() - started < 2.0
    # The same through the engine, as the app loads its chat model.
    with Engine(Settings(answers_from="server", server_url=closed)) as engine, \
            pytest.raises(HushdocsError, match=re.escape(closed)):
        engine.generator()


def test_a_malformed_server_address_is_refused_before_any_connection() -> None:
    for text in ("ftp://gpu-box:21", "http://", "http://gpu-box:99999"):
        with pytest.raises(HushdocsError, match="answer server address"):
            ServerAddress.parse(text)
    assert ServerAddress.parse("gpu-box.lan:8080/v1/").url == "http://gpu-box.lan:8080"
    assert "answer server address" in Engine(Settings(answers_from="server", server_url="ftp://x")).missing_models()


def test_the_server_settings_keep_the_key_to_their_owner(hushdocs_home: Path) -> None:
    settings = Settings(answers_from="server", server_url="http://gpu-box.lan:8080", server_api_key="sk-secret")
    hushdocs_home.mkdir(parents=True, exist_ok=True)
    path = hushdocs_home / "settings.json"
    settings.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert Settings.load(path) == settings
    assert "sk-secret" not in repr(settings)
    assert Settings.load(path).needs_model_reload(Settings(answers_from="server", server_url="http://other:8080"))


def test_the_settings_dialog_chooses_who_writes_answers(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings(), gpu_supported=False)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.answers_from.currentData() == "local" and not dialog.server_url.isVisible()
    dialog.answers_from.setCurrentIndex(dialog.answers_from.findData("server"))
    assert dialog.server_url.isVisible() and not dialog.model.isEnabled()
    assert dialog.server_key.echoMode() == QLineEdit.EchoMode.Password
    dialog.server_url.setText(" http://gpu-box.lan:8080 ")
    dialog.server_model.setText("qwen2.5-7b-instruct")
    dialog.server_key.setText("sk-secret")
    values = dialog.values()
    assert (values.answers_from, values.server_url, values.server_model, values.server_api_key) == (
        "server", "http://gpu-box.lan:8080", "qwen2.5-7b-instruct", "sk-secret")


def test_ask_with_a_model_file_writes_here_whatever_server_the_settings_name(
        tmp_path: Path, tiny_model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.app import run

    Settings(answers_from="server", server_url="http://192.0.2.1:8080").save()  # the test guard refuses it
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "vault.md").write_text(VAULT, "utf-8")
    assert run(["index", str(folder), "--json"]) == 0
    assert run(["ask", "What is the code of the vault?", "--model", str(tiny_model_path), "--json"]) == 0
    printed = capsys.readouterr().out  # the index report, then the answer's
    assert json.loads(printed[printed.rindex('{\n  "answer"'):])["model"] == tiny_model_path.name


def _without_test_guard() -> dict[str, str]:
    """This environment less the tests' subprocess guard: what refuses a connection there must be the app."""
    environment = dict(os.environ)
    entries = [e for e in environment.get("PYTHONPATH", "").split(os.pathsep) if e and e != str(GUARD_DIR)]
    environment["PYTHONPATH"] = os.pathsep.join(entries)
    return environment


def test_the_seal_lets_only_the_configured_server_through(server: ServerAddress, tmp_path: Path) -> None:
    """In a process started as the app is: with default settings even the server is refused; with it configured,
    it answers and another port, another host and a name lookup are refused; closed, it is refused again. strace
    shows that no connect() reached the system but to the server."""
    strace = shutil.which("strace")
    if strace is None:  # fail, never skip: without the trace, the promise is unproven
        pytest.fail("`strace` is needed to prove which hosts were contacted (apt-get install strace)")
    trace = tmp_path / "trace.txt"
    closed_port = _free_port()
    result = subprocess.run([strace, "-f", "-qq", "-e", "trace=connect,sendto", "-o", str(trace), sys.executable,
                             str(SEAL_DRIVER), server.url, str(closed_port)], env=_without_test_guard(),
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["default"] == "sealed"
    assert report["pieces"] and report["server"] == "connected"
    assert report["other port"] == report["other host"] == report["lookup"] == "sealed"
    assert report["title"].endswith(f"on the server {server.netloc}, the only computer Hushdocs contacts")
    assert report["after close"] == "sealed"
    internet = [line for line in trace.read_text("utf-8", "replace").splitlines() if re.search(r"AF_INET6?\b", line)]
    assert internet, "strace saw no connection at all: the trace did not work"
    elsewhere = [line for line in internet if f"htons({server.port})" not in line or '"127.0.0.1"' not in line]
    assert elsewhere == [], "the app reached past the server:\n" + "\n".join(elsewhere[:20])


def test_stop_ends_the_wait_while_the_server_reads_a_long_prompt(remote: RemoteGenerator) -> None:
    stop = threading.Event()
    """Last in the module: the server goes on reading the prompt after the client has gone."""
    prompt = "The harbour opened in 1891 and handles fishing boats. " * 130  # ~1,700 tokens: seconds to read
    threading.Timer(0.3, stop.set).start()
    started = time.perf_counter()
    pieces = list(remote.stream_chat([{"role": "user", "content": prompt}], max_tokens=8, stop=stop))
    waited = time.perf_counter() - started
    assert pieces == [] and waited < 0.3 + STOP_POLL_S + 1.0, f"stopped after {waited:.1f} s"
