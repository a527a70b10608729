"""Shared fixtures: an isolated Hushdocs home per test, the real models, and three guards.

- Every test gets ``HUSHDOCS_HOME`` in its own ``tmp_path``: no test reads or writes a user's data.
  Models are shared: ``HUSHDOCS_MODELS`` points at the folder `bootstrap.py` provisioned.
- No test may open a network connection: ``socket.connect`` to anything but a Unix socket fails
  the test (the offline promise, proven on every code path the suite runs). Every Python process a
  test starts (the CLI, the parser child) carries the same guard through ``tests/support/netguard``
  on ``PYTHONPATH``, and an attempt recorded there fails the test that started it.
- No test may leave threads running.

The environment is sealed first (``engine.offline``), as ``main.py`` does, so that nothing the tests
import calls home either.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine import offline, paths
from tests.support import child_network
from tests.support.postgres_server import PostgresServer

offline.seal_environment()
child_network.install()  # every Python subprocess the tests start is guarded too
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Resolve the provisioned model folder before any test moves HUSHDOCS_HOME.
MODELS_DIR = paths.models_dir()
os.environ[paths.MODELS_ENV] = str(MODELS_DIR)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


class NetworkAccessError(AssertionError):
    pass


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded(real: Callable[..., object]) -> Callable[[socket.socket, object], object]:
    def connect(self: socket.socket, address: object) -> object:
        if self.family == socket.AF_UNIX:
            return real(self, address)
        raise NetworkAccessError(f"a network connection was attempted: {address!r}")

    return connect


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded(_real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_real_connect_ex))


@pytest.fixture(autouse=True)
def child_network_guard() -> Iterator[child_network.ChildNetworkLog]:
    log = child_network.ChildNetworkLog()
    log.take()
    yield log
    attempts = log.take()
    assert not attempts, "a process started by this test tried to reach the network:\n" + "\n".join(attempts)


@pytest.fixture(autouse=True)
def hushdocs_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "hushdocs-home"
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    return home


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    for thread in threading.enumerate():
        if thread not in before and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))  # finishing threads get until the deadline
    extra = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    assert not extra, f"test left threads running: {[t.name for t in extra]}"


@pytest.fixture(scope="session")
def qapp() -> object:
    """pytest-qt's application, made as the app makes its own: with it, cyclic garbage is collected on the GUI
    thread only (``ui/collector.py``), for the rest of the session."""
    from ui.application import create_application

    return create_application()


@pytest.fixture(autouse=True)
def cyclic_garbage_collected_on_the_main_thread() -> Iterator[None]:
    """Once the application exists, automatic collection is off; what a test leaves in cycles is collected after
    it, here, as the app's timer would (a test that runs no event loop never lets the timer fire)."""
    yield
    if "ui.collector" in sys.modules and not gc.isenabled():  # the check keeps Qt out of tests that never load it
        from ui.collector import collect_due

        collect_due()


def _model_file(name: str) -> Path:
    from engine.models_catalogue import by_name

    path = MODELS_DIR / by_name(name).file_name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `python3 bootstrap.py setup` (it provisions the models)")
    return path


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    from engine.embedding.embedder import OnnxEmbedder

    return OnnxEmbedder(_model_file("minilm-l6-v2-int8"), _model_file("minilm-l6-v2-tokenizer"), threads=2)


@pytest.fixture(scope="session")
def tiny_model_path() -> Path:
    return _model_file("smollm2-135m-instruct-q4_1")


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    return _model_file("qwen2.5-coder-0.5b-instruct-q8_0")


@pytest.fixture(scope="session")
def tiny_generator(tiny_model_path: Path):  # type: ignore[no-untyped-def]
    from engine.generation.llm import GeneratorOptions, LlamaGenerator

    generator = LlamaGenerator(tiny_model_path, GeneratorOptions(n_ctx=2048, n_threads=2))
    yield generator
    generator.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL with pgvector for the session, on a Unix socket in a temporary folder."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database on the session's server (dropped after the test), as a team library's URL."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def squad_path() -> Path:
    return SHARED_DATA / "squad-dev" / "squad2-dev-2-articles.json"
