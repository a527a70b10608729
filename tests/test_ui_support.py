"""Shared pieces of the UI tests: small real documents, an engine on the tiny chat model, the window.

(No tests here; the other test_ui_* modules import these fixtures.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from engine.api import Engine
from engine.generation.llm import LlamaGenerator
from engine.settings import Settings
from tests.support.documents import write_pdf
from ui.main_window import MainWindow

LIGHTHOUSE = ("The lighthouse keeper of Brannock Island is Morwenna Tallis. She has kept the Brannock light "
              "burning every night since 1987, and she records the weather in a green logbook.")
PAGES = [
    "Chapter one. The ferry to Brannock Island leaves the harbour at seven in the morning, twice a week.",
    LIGHTHOUSE,
    "Chapter three. The island bakery sells oat bread and smoked fish pies to the visiting birdwatchers.",
]
NOTES = ("# Garden notes\n\nThe quince tree in the north corner was planted in 2011.\n\n"
         "## Watering\n\nThe tomatoes need water every second evening in July, never at noon.\n")


@pytest.fixture
def library_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_pdf(folder / "brannock.pdf", PAGES)
    (folder / "garden.md").write_text(NOTES, "utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nthis is not really a PDF at all\n%%EOF\n")
    return folder


@pytest.fixture
def make_engine(tiny_model_path: Path, embedder: object) -> Iterator[Callable[..., Engine]]:
    """Engines on the tiny chat model and the session's embedder; each is closed at the end."""
    engines: list[Engine] = []

    def make(**overrides: object) -> Engine:
        settings = Settings(chat_model=str(tiny_model_path), context_size=2048, threads=2, passages=2,
                            max_answer_tokens=48, temperature=0.0)
        for key, value in overrides.items():
            setattr(settings, key, value)
        engine = Engine(settings, embedder=embedder)  # type: ignore[arg-type]
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture
def open_window(qtbot: QtBot, make_engine: Callable[..., Engine]) -> Iterator[Callable[..., MainWindow]]:
    """Open main windows on injected engines; each is shut down (workers joined, engine closed) at the end."""
    windows: list[MainWindow] = []

    def open_(engine: Engine | None = None, **options: object) -> MainWindow:
        options.setdefault("watch", False)
        window = MainWindow(engine or make_engine(), **options)  # type: ignore[arg-type]
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield open_
    for window in windows:
        window.shutdown()


@pytest.fixture
def first_reply_held_open(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The real model writes the first reply, but a reply it ends early (a short answer, which the 0.5B model
    sometimes gives on another CPU) is held open until the app stops it, as a long one would still be streaming
    then. The event returned is set once the hold begins."""
    real_stream = LlamaGenerator.stream_chat
    held = threading.Event()
    calls = 0

    def stream_chat(self: LlamaGenerator, *args: object, stop: threading.Event | None = None,
                    **kwargs: object) -> Iterator[str]:
        nonlocal calls
        calls += 1
        yield from real_stream(self, *args, stop=stop, **kwargs)  # type: ignore[arg-type]
        if calls == 1 and stop is not None and not stop.is_set():
            held.set()
            stop.wait(120)

    monkeypatch.setattr(LlamaGenerator, "stream_chat", stream_chat)
    return held
