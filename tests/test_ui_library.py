"""The library panel and its models, and the source viewer on a text document."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from engine.api import Engine, IndexProgress
from engine.records import Citation, DocumentRecord, Exclusion
from tests.support.documents import write_encrypted_pdf
from tests.test_ui_support import NOTES
from ui import dialogs, library_panel
from ui.library_model import EXCLUDED, PAUSED, QUEUED, LibraryModel, merge_rows
from ui.main_window import MainWindow

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures


def _record(path: str, status: str = "indexed", error: str = "") -> DocumentRecord:
    return DocumentRecord(1, "Work", path, "pdf", "", status, error, 2, 5, 100, None)


def test_library_model_is_a_well_behaved_model(qapp: object, qtmodeltester: ModelTester) -> None:
    model = LibraryModel()
    model.set_rows(merge_rows([_record("/d/a.pdf"), _record("/d/b.pdf", "needs_ocr", "no text layer: needs OCR"),
                               _record("/d/e.pdf", "needs_password", "encrypted: needs a password")],
                              {"/d/c.md": QUEUED, "/d/d.md": QUEUED, "/d/f.md": PAUSED}, None, current="/d/c.md",
                              roots=[("Work", "/d")], exclusions=[Exclusion("/d/g.md", "Work")]))
    qtmodeltester.check(model, force_py=True)  # PySide 6.12: the C++ tester fails to construct
    statuses = {r.name: r.status for r in model.rows()}
    assert statuses == {"a.pdf": "indexed", "b.pdf": "needs_ocr", "c.md": "indexing", "d.md": "queued",
                        "e.pdf": "needs_password", "f.md": "paused", "g.md": "excluded"}
    assert "needs OCR: no text layer" in model.data(model.index(1))
    assert model.data(model.index(0)).endswith("indexed · 2 pages · 5 chunks")
    assert model.data(model.index(4)).endswith("needs a password")
    assert "Resume" in model.data(model.index(5)) and "Index again" in model.data(model.index(6))
    # Same files, new statuses: updated in place, not reset (a view keeps its selection).
    assert model.set_rows(merge_rows([_record("/d/a.pdf")], {}, None))  # rows gone: a reset
    assert not model.set_rows(merge_rows([_record("/d/a.pdf", "failed", "gone")], {}, None))


def test_pending_rows_follow_the_collection() -> None:
    rows = merge_rows([], {"/x/a.md": QUEUED, "/w/b.md": PAUSED}, "Work", roots=[("Other", "/x"), ("Work", "/w")])
    assert [(r.name, r.collection) for r in rows] == [("b.md", "Work")]


def test_forget_and_rescan_from_the_panel(qtbot: QtBot, library_folder: Path, monkeypatch: object,
                                          open_window: Callable[..., MainWindow]) -> None:
    window = open_window(preload=False)
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000):
        window.add_paths([str(library_folder)])
    qtbot.waitUntil(lambda: len(window.library.model.rows()) == 3, timeout=5_000)
    assert window.library.collections.count() == 2  # "All collections" and the default one
    library = window.library
    library.collections.setCurrentIndex(0)  # "All collections": nothing to delete, a re-scan covers them all
    library.more_menu.aboutToShow.emit()
    assert not library.delete_action.isEnabled() and library.rescan_action.text() == "Re-scan all collections"
    library.collections.setCurrentIndex(1)
    library.more_menu.aboutToShow.emit()
    assert library.delete_action.isEnabled() and library.rescan_action.text() == "Re-scan this collection"

    # A new file appears after a re-scan.
    (library_folder / "more.txt").write_text("The harbour master is called Ewan Price.", "utf-8")
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000):
        window.library.rescan_requested.emit(None)
    qtbot.waitUntil(lambda: window.library.row(str(library_folder / "more.txt")) is not None, timeout=5_000)

    # Forget asks first, then the document leaves the index: its row says it is forgotten (left out of its folder).
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *_args: True)  # type: ignore[attr-defined]
    with qtbot.waitSignal(window.indexing.busy_changed, timeout=30_000, check_params_cb=lambda busy: not busy):
        window.library.forget_requested.emit([str(library_folder / "more.txt")])
    more = str(library_folder / "more.txt")
    qtbot.waitUntil(lambda: getattr(window.library.row(more), "status", "") == EXCLUDED, timeout=5_000)
    assert more not in {d.path for d in window.engine.documents()}


def test_start_up_catches_up_with_what_changed_while_the_app_was_closed(
        qtbot: QtBot, library_folder: Path, make_engine: Callable[..., Engine],
        open_window: Callable[..., MainWindow]) -> None:
    engine = make_engine()
    list(engine.index([library_folder]))
    (library_folder / "garden.md").unlink()
    (library_folder / "more.txt").write_text("The harbour master is called Ewan Price.", "utf-8")
    window = open_window(engine, watch=True, preload=False)
    def caught_up() -> bool:
        added = window.library.row(str(library_folder / "more.txt"))  # a row shows as "queued" before it is indexed
        return added is not None and added.status == "indexed" and window.library.row(
            str(library_folder / "garden.md")) is None

    qtbot.waitUntil(caught_up, timeout=60_000)
    assert {Path(d.path).name for d in engine.documents()} == {"brannock.pdf", "broken.pdf", "more.txt"}


def _notes(folder: Path, count: int, sentences: int = 60) -> Path:
    folder.mkdir()
    for i in range(count):  # distinct sentences: nothing is reused, so the whole job takes seconds
        text = " ".join(f"Note {i} records tide {k} at {k * i % 89} cm near boat {k + i}." for k in range(sentences))
        (folder / f"note{i:02d}.md").write_text(f"# Note {i}\n\n{text}", "utf-8")
    return folder


def test_cancel_keeps_the_rest_waiting_and_resume_indexes_exactly_those(
        qtbot: QtBot, tmp_path: Path, open_window: Callable[..., MainWindow]) -> None:
    count = 12
    folder = _notes(tmp_path / "many", count, sentences=80)
    window = open_window(preload=False)
    window.resize(800, 600)
    seen: list[IndexProgress] = []
    window.indexing.progress.connect(seen.append)
    window.add_paths([str(folder)])
    qtbot.waitUntil(lambda: any(e.files_done >= 1 for e in seen), timeout=60_000)
    with qtbot.waitSignal(window.indexing.job_finished, timeout=30_000) as finished:
        window.progress.cancel.click()
    cancelled = finished.args[0]
    assert cancelled.phase == "cancelled" and 1 <= cancelled.files_done < count
    assert not any(e.current and e.outcome is not None and e.outcome.path == e.current for e in seen)
    qtbot.waitUntil(lambda: not window.indexing.is_busy(), timeout=10_000)
    window._refresh_throttle.flush()
    rows = {Path(r.path).name: r.status for r in window.library.model.rows()}
    waiting = sorted(name for name, status in rows.items() if status == PAUSED)
    assert len(rows) == count and len(waiting) == count - cancelled.files_done  # nothing vanished from the list
    assert waiting == [Path(p).name for p in cancelled.waiting]
    # The strip says what waits and offers Resume; so does the library; the bar is not full.
    assert window.progress.isVisible() and window.progress.resume.isVisible()
    assert not window.progress.cancel.isVisible()
    assert f"{len(waiting)} files waiting" in window.progress.label.text()
    assert window.progress.bar.value() < window.progress.bar.maximum()
    assert window.library.resume.isVisible() and f"({len(waiting)} waiting)" in window.library.resume.text()

    with qtbot.waitSignal(window.indexing.job_finished, timeout=300_000) as resumed:
        window.progress.resume.click()
    assert resumed.args[0].phase == "finished"
    assert resumed.args[0].files_total == len(waiting) and resumed.args[0].summary["indexed"] == len(waiting)
    qtbot.waitUntil(lambda: not window.indexing.is_busy(), timeout=10_000)
    window._refresh_throttle.flush()
    assert {r.status for r in window.library.model.rows()} == {"indexed"} and len(window.library.model.rows()) == count
    assert not window.library.resume.isVisible() and not window.progress.resume.isVisible()


def test_the_selection_survives_an_indexing_run(qtbot: QtBot, library_folder: Path, tmp_path: Path,
                                                open_window: Callable[..., MainWindow]) -> None:
    window = open_window(preload=False)
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000):
        window.add_paths([str(library_folder)])
    window._refresh_throttle.flush()
    garden = str(library_folder / "garden.md")
    view = window.library.view
    [row] = [i for i, r in enumerate(window.library.model.rows()) if r.path == garden]
    view.setCurrentIndex(window.library.proxy.mapFromSource(window.library.model.index(row)))
    assert window.library.selected_paths() == [garden]

    resets: list[bool] = []
    window.library.model.modelReset.connect(lambda: resets.append(True))
    selections: list[list[str]] = []
    window.indexing.library_changed.connect(lambda: selections.append(window.library.selected_paths()))
    with qtbot.waitSignal(window.indexing.job_finished, timeout=120_000):
        window.add_paths([str(_notes(tmp_path / "more", 6))])  # new rows arrive: the model is reset
    window._refresh_throttle.flush()
    assert resets, "no reset happened: the test proves nothing"
    assert window.library.selected_paths() == [garden]
    assert all(selected == [garden] for selected in selections)
    assert window.library.view.currentIndex().data(LibraryModel.PathRole) == garden


def _action(window: MainWindow, paths: list[str], text: str) -> None:
    """Select ``paths`` in the library and trigger its context menu's ``text``."""
    library = window.library
    library._select(paths, paths[0])
    menu = library.context_menu()
    assert menu is not None
    [action] = [a for a in menu.actions() if a.text() == text]
    action.trigger()


def test_a_file_forgotten_inside_its_folder_stays_out_and_can_be_indexed_again(
        qtbot: QtBot, library_folder: Path, monkeypatch: pytest.MonkeyPatch,
        open_window: Callable[..., MainWindow]) -> None:
    window = open_window(preload=False)
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000):
        window.add_paths([str(library_folder)])
    garden = str(library_folder / "garden.md")
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *_args: True)
    with qtbot.waitSignal(window.indexing.busy_changed, timeout=30_000, check_params_cb=lambda busy: not busy):
        _action(window, [garden], "Forget")
    window._refresh_throttle.flush()
    assert window.library.row(garden).status == EXCLUDED  # type: ignore[union-attr]
    (library_folder / "garden.md").write_text(NOTES + "\nThe pears ripen in September.\n", "utf-8")
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000):
        window.indexing.rescan()  # F5: the folder is scanned again, the forgotten note stays out
    window._refresh_throttle.flush()
    assert window.library.row(garden).status == EXCLUDED  # type: ignore[union-attr]
    assert window.engine.search("when do the pears ripen", k=3, mode="keyword") == []
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000) as included:
        _action(window, [garden], "Index again")
    assert included.args[0].summary["indexed"] == 1
    window._refresh_throttle.flush()
    assert window.library.row(garden).status == "indexed"  # type: ignore[union-attr]
    assert "pears" in window.engine.search("when do the pears ripen", k=1)[0].text


def test_the_password_prompt_reads_an_encrypted_pdf(qtbot: QtBot, tmp_path: Path, hushdocs_home: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   open_window: Callable[..., MainWindow]) -> None:
    password = "Quill-harbour-5531"
    folder = tmp_path / "locked"
    folder.mkdir()
    locked = str(write_encrypted_pdf(folder / "minutes.pdf", "The regatta moved to the second Sunday of June.",
                                     password=password))
    window = open_window(preload=False)
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000):
        window.add_paths([str(folder)])
    window._refresh_throttle.flush()
    assert window.library.row(locked).status == "needs_password"  # type: ignore[union-attr]

    answers = ["not-it", password]
    asked: list[bool] = []

    def ask(_parent: object, path: str, refused: bool = False) -> str | None:
        assert path == locked
        asked.append(refused)
        return answers.pop(0)

    monkeypatch.setattr(library_panel, "ask_password", ask)
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000) as first:
        _action(window, [locked], "Enter password…")
    assert first.args[0].summary["failed"] == 1
    # The wrong password is said so, and the prompt comes again; the right one reads the document.
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000) as second:
        qtbot.waitUntil(lambda: len(asked) == 2, timeout=10_000)
    assert asked == [False, True] and second.args[0].summary["indexed"] == 1
    window._refresh_throttle.flush()
    assert window.library.row(locked).status == "indexed"  # type: ignore[union-attr]
    assert "regatta" in window.engine.search("when is the regatta", k=1)[0].text
    window.shutdown()
    on_disk = [p for p in hushdocs_home.rglob("*") if p.is_file()]
    assert on_disk and not [p for p in on_disk if password.encode() in p.read_bytes()]


def test_text_document_scrolls_to_the_cited_passage(qtbot: QtBot, library_folder: Path,
                                                     make_engine: Callable[..., Engine],
                                                     open_window: Callable[..., MainWindow]) -> None:
    engine = make_engine()
    window = open_window(engine, preload=False)
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000):
        window.add_paths([str(library_folder / "garden.md")])
    hit = engine.search("when do the tomatoes need water", k=1)[0]
    citation = Citation(1, hit.path, hit.page, hit.start, hit.end, hit.text)
    with qtbot.waitSignal(window.viewer.shown_source, timeout=20_000):
        window.viewer.show_citation(citation)
    assert window.viewer.stack.currentWidget() is window.viewer.rendered  # Markdown is shown rendered
    marked = window.viewer.selected_passage()
    assert re.findall(r"\w+", marked) == re.findall(r"\w+", hit.text)  # the cited words, without the markup
    assert "#" not in marked and "tomatoes" in hit.text and NOTES.count("tomatoes") == 1
    assert window.viewer.rendered.textCursor().position() == window.viewer.rendered.toPlainText().index(marked)


def test_viewer_reports_a_missing_file(qtbot: QtBot, tmp_path: Path, open_window: Callable[..., MainWindow]) -> None:
    window = open_window(preload=False)
    with qtbot.waitSignal(window.viewer.error, timeout=10_000) as error:
        window.viewer.show_document(str(tmp_path / "gone.pdf"))
    assert "no longer there" in error.args[0]
    assert "no longer there" in window.notice.text()
