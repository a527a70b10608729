"""The library panel and its models, and the source viewer on a text document."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from engine.api import Engine
from engine.records import Citation, DocumentRecord
from tests.test_ui_support import NOTES
from ui import dialogs
from ui.library_model import LibraryModel, merge_rows
from ui.main_window import MainWindow

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures


def _record(path: str, status: str = "indexed", error: str = "") -> DocumentRecord:
    return DocumentRecord(1, "Work", path, "pdf", "", status, error, 2, 5, 100, None)


def test_library_model_is_a_well_behaved_model(qapp: object, qtmodeltester: ModelTester) -> None:
    model = LibraryModel()
    model.set_rows(merge_rows([_record("/d/a.pdf"), _record("/d/b.pdf", "needs_ocr", "no text layer: needs OCR")],
                              {"/d/c.md": "Work", "/d/d.md": "Work"}, None, current="/d/c.md"))
    qtmodeltester.check(model, force_py=True)  # PySide 6.12: the C++ tester fails to construct
    statuses = {r.name: r.status for r in model.rows()}
    assert statuses == {"a.pdf": "indexed", "b.pdf": "needs_ocr", "c.md": "indexing", "d.md": "queued"}
    assert "needs OCR: no text layer" in model.data(model.index(1))
    assert model.data(model.index(0)).endswith("indexed · 2 pages · 5 chunks")


def test_pending_rows_follow_the_collection() -> None:
    rows = merge_rows([], {"/x/a.md": "Other"}, "Work")
    assert rows == []


def test_forget_and_rescan_from_the_panel(qtbot: QtBot, library_folder: Path, monkeypatch: object,
                                          open_window: Callable[..., MainWindow]) -> None:
    window = open_window(preload=False)
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000):
        window.add_paths([str(library_folder)])
    qtbot.waitUntil(lambda: len(window.library.model.rows()) == 3, timeout=5_000)
    assert window.library.collections.count() == 2  # "All collections" and the default one

    # A new file appears after a re-scan.
    (library_folder / "more.txt").write_text("The harbour master is called Ewan Price.", "utf-8")
    with qtbot.waitSignal(window.indexing.job_finished, timeout=60_000):
        window.library.rescan_requested.emit(None)
    qtbot.waitUntil(lambda: window.library.row(str(library_folder / "more.txt")) is not None, timeout=5_000)

    # Forget asks first, then removes the document from the list.
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *_args: True)  # type: ignore[attr-defined]
    with qtbot.waitSignal(window.indexing.busy_changed, timeout=30_000, check_params_cb=lambda busy: not busy):
        window.library.forget_requested.emit([str(library_folder / "more.txt")])
    qtbot.waitUntil(lambda: window.library.row(str(library_folder / "more.txt")) is None, timeout=5_000)


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


def test_cancel_indexing_keeps_the_window_usable(qtbot: QtBot, tmp_path: Path,
                                                 open_window: Callable[..., MainWindow]) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(16):  # distinct sentences: nothing is reused, so the whole job takes seconds
        sentences = " ".join(f"Note {i} records tide {k} at {k * i % 89} cm near boat {k + i}." for k in range(60))
        (folder / f"note{i:02d}.md").write_text(f"# Note {i}\n\n{sentences}", "utf-8")
    window = open_window(preload=False)
    window.add_paths([str(folder)])
    qtbot.waitUntil(lambda: window.progress.isVisible() and window.progress.cancel.isVisible(), timeout=30_000)
    with qtbot.waitSignal(window.indexing.job_finished, timeout=30_000) as finished:
        window.progress.cancel.click()
    assert finished.args[0].phase == "cancelled" and finished.args[0].files_done < 16
    qtbot.waitUntil(lambda: not window.indexing.is_busy(), timeout=10_000)
    rows = window.library.model.rows()
    assert all(r.status in ("indexed", "failed") for r in rows) and len(rows) < 16  # the rest was never queued
    with qtbot.waitSignal(window.indexing.job_finished, timeout=300_000) as resumed:
        window.library.rescan_requested.emit(None)  # the window is still usable: a re-scan finishes the job
    assert resumed.args[0].phase == "finished" and resumed.args[0].summary["indexed"] == 16 - len(rows)


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
    assert window.viewer.stack.currentWidget() is window.viewer.text
    assert window.viewer.selected_passage() == hit.text
    assert "tomatoes" in hit.text and NOTES.count("tomatoes") == 1
    assert window.viewer.text.textCursor().position() == hit.start


def test_viewer_reports_a_missing_file(qtbot: QtBot, tmp_path: Path, open_window: Callable[..., MainWindow]) -> None:
    window = open_window(preload=False)
    with qtbot.waitSignal(window.viewer.error, timeout=10_000) as error:
        window.viewer.show_document(str(tmp_path / "gone.pdf"))
    assert "no longer there" in error.args[0]
    assert "no longer there" in window.notice.text()
