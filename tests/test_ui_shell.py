"""The application shell: the real app, started as a person starts it, ends when it is closed (whatever is
running), and a second launch on the same data home raises the first window instead of opening another."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from engine import paths
from engine.api import Engine
from tests.support.documents import write_pdf
from tests.test_ui_support import NOTES, PAGES
from ui.conversations_panel import day_label, export_file_name
from ui.elided_label import ElidedLabel
from ui.main_window import MainWindow
from ui.settings_dialog import chat_model_choices

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "support" / "app_driver.py"
START_TIMEOUT_S = 120  # the app and its models, on a loaded two-core machine
CLEAN_EXIT_S = 3.0  # nothing running: the workers are joined, the process ends at once
FORCED_EXIT_S = MainWindow.SHUTDOWN_WAIT_S + 4.0  # the bounded wait, then the end of the process

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures


def _environment(home: Path, models: Path | None = None) -> dict[str, str]:
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", HUSHDOCS_HOME=str(home))
    if models is not None:
        environment[paths.MODELS_ENV] = str(models)
    return environment


def _log(home: Path) -> str:
    log = home / "logs" / "hushdocs.log"
    return log.read_text("utf-8", "replace") if log.is_file() else ""


def _wait_for(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def app_home(tmp_path: Path, tiny_model_path: Path) -> Path:
    """A data home whose settings name the tiny chat model with a small context (quick to load)."""
    home = tmp_path / "app-home"
    (home / "settings").mkdir(parents=True)
    (home / "settings" / "settings.json").write_text(
        json.dumps({"chat_model": str(tiny_model_path), "context_size": 2048, "max_answer_tokens": 256}), "utf-8")
    return home


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _quit_and_time(scenario: str, home: Path, tmp_path: Path, processes: list[subprocess.Popen[bytes]],
                   folder: Path | None = None) -> float:
    """Run the app under the driver; the seconds from its Ctrl+Q to the end of the process."""
    marker = tmp_path / f"{scenario}.pressed"
    command = [sys.executable, str(DRIVER), scenario, str(marker)] + ([str(folder)] if folder else [])
    output = (tmp_path / f"{scenario}.out").open("wb")
    process = subprocess.Popen(command, env=_environment(home), stdout=output, stderr=subprocess.STDOUT)
    processes.append(process)
    _wait_for(lambda: marker.exists() or process.poll() is not None, START_TIMEOUT_S, f"the {scenario} state")
    pressed = time.monotonic()
    try:
        code = process.wait(FORCED_EXIT_S + 30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the app was still running {FORCED_EXIT_S + 30:.0f} s after Ctrl+Q ({scenario})")
    output.close()
    assert marker.exists(), (tmp_path / f"{scenario}.out").read_text("utf-8", "replace")[-3000:]
    assert code == 0, (tmp_path / f"{scenario}.out").read_text("utf-8", "replace")[-3000:]
    return time.monotonic() - pressed


def test_quit_ends_the_idle_app_at_once(app_home: Path, tmp_path: Path,
                                        processes: list[subprocess.Popen[bytes]]) -> None:
    elapsed = _quit_and_time("idle", app_home, tmp_path, processes)
    assert elapsed < CLEAN_EXIT_S
    assert "ending the process without them" not in _log(app_home)  # every worker was joined


def test_quit_ends_the_app_while_a_folder_is_indexed(app_home: Path, tmp_path: Path,
                                                     processes: list[subprocess.Popen[bytes]]) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for number in range(40):
        write_pdf(folder / f"report-{number:02d}.pdf", [f"{page} Report {number}." for page in PAGES] * 4)
    elapsed = _quit_and_time("indexing", app_home, tmp_path, processes, folder)
    assert elapsed < FORCED_EXIT_S
    listed = subprocess.run([sys.executable, str(ROOT / "main.py"), "docs"], env=_environment(app_home),
                            capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0, listed.stderr  # the index is readable after the interrupted run


def test_quit_ends_the_app_while_an_answer_is_written(app_home: Path, tmp_path: Path,
                                                      processes: list[subprocess.Popen[bytes]]) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_pdf(folder / "brannock.pdf", PAGES)
    (folder / "garden.md").write_text(NOTES, "utf-8")
    indexed = subprocess.run([sys.executable, str(ROOT / "main.py"), "index", str(folder)], env=_environment(app_home),
                             capture_output=True, text=True, timeout=300, check=False)
    assert indexed.returncode == 0, indexed.stderr
    elapsed = _quit_and_time("answering", app_home, tmp_path, processes)
    assert elapsed < FORCED_EXIT_S


def test_quit_ends_the_app_even_with_a_worker_that_never_stops(app_home: Path, tmp_path: Path,
                                                               processes: list[subprocess.Popen[bytes]]) -> None:
    elapsed = _quit_and_time("stuck", app_home, tmp_path, processes)
    assert elapsed < FORCED_EXIT_S
    assert "ending the process without them" in _log(app_home)


def _launch(home: Path, models: Path, processes: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py")], env=_environment(home, models),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    processes.append(process)
    return process


def _wait_until_shown(home: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    _wait_for(lambda: _log(home).count("window shown") >= count or process.poll() is not None, START_TIMEOUT_S,
              "the window")
    assert process.poll() is None, process.communicate()[1].decode("utf-8", "replace")[-3000:]


def test_a_second_launch_raises_the_first_window_and_exits(tmp_path: Path,
                                                           processes: list[subprocess.Popen[bytes]]) -> None:
    home, no_models = tmp_path / "home", tmp_path / "no-models"  # without models the window opens at once
    first = _launch(home, no_models, processes)
    _wait_until_shown(home, 1, first)

    second = _launch(home, no_models, processes)
    _, error = second.communicate(timeout=60)
    assert second.returncode == 0
    assert b"already open" in error
    _wait_for(lambda: "a second launch asked for the window" in _log(home), 10, "the first app to be asked")
    assert _log(home).count("window shown") == 1  # no second window

    other_home = _launch(tmp_path / "other-home", no_models, processes)  # another data home is another app
    _wait_until_shown(tmp_path / "other-home", 1, other_home)

    for process in (first, other_home):
        process.send_signal(signal.SIGTERM)  # as a session logging out does: closed like Quit
        assert process.wait(FORCED_EXIT_S) == 0


def test_a_killed_app_does_not_block_the_next_launch(tmp_path: Path,
                                                     processes: list[subprocess.Popen[bytes]]) -> None:
    home, no_models = tmp_path / "home", tmp_path / "no-models"
    killed = _launch(home, no_models, processes)
    _wait_until_shown(home, 1, killed)
    killed.kill()  # kill -9: its lock file and socket stay behind
    killed.wait(10)

    after = _launch(home, no_models, processes)
    _wait_until_shown(home, 2, after)  # it opened its own window

    third = _launch(home, no_models, processes)
    _, error = third.communicate(timeout=60)
    assert third.returncode == 0 and b"already open" in error  # and it answers later launches
    after.send_signal(signal.SIGTERM)
    assert after.wait(FORCED_EXIT_S) == 0


# -- the layout at 800×600 ----------------------------------------------------------------------------------------


def _narrower_than_their_minimum(window: MainWindow) -> list[str]:
    """Every visible widget of the window whose width is less than its own minimum size hint."""
    return [f"{type(widget).__name__} ({widget.parentWidget().__class__.__name__}): {widget.width()} px < "
            f"{widget.minimumSizeHint().width()} px"
            for widget in window.findChildren(QWidget)
            if widget.isVisibleTo(window) and widget.minimumSizeHint().isValid()
            and widget.width() < widget.minimumSizeHint().width()]


@pytest.fixture
def long_titled_conversation(make_engine: Callable[..., Engine]) -> tuple[Engine, int]:
    engine = make_engine()
    store = engine.conversations()
    question = "What is the harbour master's name?\nAnd when does the ferry leave on Sundays in the winter months?"
    conversation = store.create(question)
    store.add_message(conversation.id, "user", question)
    store.add_message(conversation.id, "assistant", "The harbour master is Ines Calloway [1].")
    return engine, conversation.id


def test_at_800_by_600_the_viewer_takes_the_librarys_place(qtbot: QtBot, tmp_path: Path,
                                                           long_titled_conversation: tuple[Engine, int],
                                                           open_window: Callable[..., MainWindow]) -> None:
    engine, conversation_id = long_titled_conversation
    note = tmp_path / "garden-notes-of-the-allotment-society.md"
    note.write_text(NOTES, "utf-8")
    window = open_window(engine, preload=False)
    window.resize(800, 600)
    window.chat.load_conversation(conversation_id)
    qtbot.wait(50)
    assert window.left.isVisible()  # no viewer: the library and conversations stay
    assert _narrower_than_their_minimum(window) == []

    window.viewer.show_document(str(note))
    qtbot.waitUntil(lambda: window.viewer.width() >= 0.45 * window.splitter.width(), timeout=3_000)
    assert not window.left.isVisible() and not window.library_action.isChecked()
    assert _narrower_than_their_minimum(window) == []
    title = window.viewer.title
    assert title.height() < 2 * title.fontMetrics().height()  # one line: the name is shortened, not wrapped
    assert window.chat.title.height() < 2 * window.chat.title.fontMetrics().height()

    window.viewer.hide()  # closing the viewer gives the borrowed room back
    qtbot.wait(50)
    assert window.left.isVisible() and window.library_action.isChecked()
    assert _narrower_than_their_minimum(window) == []

    window.viewer.show_document(str(note))
    qtbot.waitUntil(lambda: not window.left.isVisible(), timeout=3_000)
    window.toggle_library()  # the person brings the library back beside the open viewer
    qtbot.wait(50)
    assert window.left.isVisible() and window.viewer.width() >= 150
    assert _narrower_than_their_minimum(window) == []


def test_a_wide_window_keeps_the_library_beside_the_viewer(qtbot: QtBot, tmp_path: Path,
                                                          long_titled_conversation: tuple[Engine, int],
                                                          open_window: Callable[..., MainWindow]) -> None:
    engine, conversation_id = long_titled_conversation
    note = tmp_path / "note.md"
    note.write_text(NOTES, "utf-8")
    window = open_window(engine, preload=False)
    window.resize(1440, 900)
    window.chat.load_conversation(conversation_id)
    window.viewer.show_document(str(note))
    qtbot.waitUntil(lambda: window.viewer.width() >= 400, timeout=3_000)
    assert window.left.isVisible()
    assert _narrower_than_their_minimum(window) == []


# -- the conversation list ----------------------------------------------------------------------------------------


def test_day_labels_and_export_names() -> None:
    now = datetime(2026, 12, 1, 15, 30)
    assert day_label(datetime(2026, 12, 1, 9, 5).timestamp(), now) == "09:05"
    assert day_label(datetime(2026, 11, 30, 23, 59).timestamp(), now) == "Yesterday"
    assert day_label(datetime(2026, 11, 27, 12, 0).timestamp(), now) == "Friday"
    assert day_label(datetime(2026, 3, 4, 12, 0).timestamp(), now) == "4 Mar"
    assert day_label(datetime(2025, 12, 24, 12, 0).timestamp(), now) == "24 Dec 2025"
    assert export_file_name("What is the harbour master's name?") == "What is the harbour master's name.md"
    assert export_file_name('Rates: 2025/26 "winter" | summer…') == "Rates 2025 26 winter summer….md"
    assert export_file_name("?!") == "!.md" and export_file_name("???") == "conversation.md"
    long = export_file_name("why " * 40)
    assert len(long) <= 83 and long.endswith("why.md")


def test_the_conversation_list_shows_one_line_each_with_its_day_and_searches_the_messages(
        qtbot: QtBot, long_titled_conversation: tuple[Engine, int], open_window: Callable[..., MainWindow]) -> None:
    engine, harbour = long_titled_conversation
    store = engine.conversations()
    bread = store.create("Bread")
    store.add_message(bread.id, "user", "How much flour does the loaf need?")
    store.add_message(bread.id, "assistant", "500 g of flour and 10 g of salt_free yeast [1].")
    window = open_window(engine, preload=False)
    panel = window.conversations
    assert panel.model.rowCount() == 2
    row = panel.model.row_of(harbour)
    title = panel.model.data(panel.model.index(row))
    assert "\n" not in title and title.startswith("What is the harbour master's name? And when")
    assert panel.view.sizeHintForRow(row) < 2 * panel.view.fontMetrics().height()  # one line high
    assert panel.model.data(panel.model.index(row), panel.model.DayRole) == datetime.now().strftime("%H:%M")

    harbour_title = panel.model.title_of(harbour)

    def searched(text: str) -> list[str]:
        panel.search.setText(text)
        qtbot.waitUntil(lambda: not panel._search_timer.isActive(), timeout=2_000)
        return [c.title for c in panel.model.rows()]

    assert searched("FLOUR") == ["Bread"]  # a message's words, whatever their case
    assert searched("harbour calloway") == [harbour_title]  # every word, title or messages
    assert searched("salt_free") == ["Bread"] and searched("salt%") == []  # LIKE's wildcards are plain letters
    assert searched("bread harbour") == [] and panel.no_match.isVisible()
    assert len(searched("  ")) == 2 and not panel.no_match.isVisible()


def test_the_rename_dialog_holds_the_whole_title_and_is_wide_enough(
        qtbot: QtBot, long_titled_conversation: tuple[Engine, int], open_window: Callable[..., MainWindow]) -> None:
    engine, harbour = long_titled_conversation
    window = open_window(engine, preload=False)
    dialog = window.conversations.rename_dialog(harbour)
    qtbot.addWidget(dialog)
    dialog.show()
    field = dialog.findChild(QLineEdit)
    assert field is not None
    assert dialog.textValue() == ("What is the harbour master's name? And when does the ferry leave on Sundays in the "
                                  "winter months?")
    assert field.selectedText() == dialog.textValue()  # typing replaces it
    assert field.width() >= 70 * field.fontMetrics().averageCharWidth()  # the whole title shows
    dialog.reject()


def test_settings_no_longer_offer_the_tiny_model_but_keep_a_setting_naming_it() -> None:
    offered = [label for label, _value in chat_model_choices("auto")]
    assert offered and not any("SmolLM2" in label for label in offered)
    kept = dict((value, label) for label, value in chat_model_choices("smollm2-135m-instruct-q4_1"))
    assert "no longer offered" in kept["smollm2-135m-instruct-q4_1"]


def test_settings_show_the_time_this_computer_measured_once_the_model_has_answered() -> None:
    from engine.generation import speeds
    from engine.generation.speeds import Speed
    from engine.models_catalogue import QWEN_05B

    fast = dict((value, label) for label, value in chat_model_choices("auto"))["fast"]
    assert fast.endswith("an answer on this computer (estimated)"), fast
    speeds.record(QWEN_05B.file_name, Speed(52.0, 10.0))  # 260 / 52 + 30 / 10 = 8 s
    fast = dict((value, label) for label, value in chat_model_choices("auto"))["fast"]
    assert fast.endswith("about 8 s an answer on this computer"), fast


def test_an_elided_label_keeps_one_line_and_shortens_to_its_width(qtbot: QtBot) -> None:
    label = ElidedLabel("garden-notes-of-the-allotment\nsociety.md", Qt.TextElideMode.ElideMiddle, bold=True)
    qtbot.addWidget(label)
    label.resize(label.sizeHint())
    label.show()
    assert label.text() == "garden-notes-of-the-allotment society.md" and label.shown_text() == label.text()
    label.resize(label.minimumSizeHint().width() + 40, label.height())
    shown = label.shown_text()
    assert "…" in shown and shown.endswith(".md") and len(shown) < len(label.text())  # the extension stays
    assert label.minimumSizeHint().width() < label.sizeHint().width() // 3  # it never widens its pane
    label.clear()
    assert label.shown_text() == ""
