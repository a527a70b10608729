"""Settings' Library row: a team library on a real PostgreSQL chosen in the dialog, a wrong address refused with
its reason (the library in use stays), the password never shown, and the environment's URL only shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from engine.api import Engine, Settings
from engine.embedding.embedder import Embedder
from ui.library_setting import TEAM
from ui.main_window import MainWindow
from ui.settings_dialog import SettingsDialog

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures


def _choose_team_library(dialog: SettingsDialog, url: str) -> None:
    row = dialog.library
    row.where.setCurrentIndex(row.where.findData(TEAM))
    row.url.setText(url)


def _listed(window: MainWindow) -> set[str]:
    return {row.name for row in window.library.model.rows()}


def test_a_team_library_chosen_in_settings_is_listed_after_ok(qtbot: QtBot, tmp_path: Path, postgres_url: str,
                                                              embedder: Embedder,
                                                              open_window: Callable[..., MainWindow]) -> None:
    team_folder = tmp_path / "team-docs"
    team_folder.mkdir()
    (team_folder / "ferry.md").write_text("# Ferry\n\nThe ferry to the island leaves at seven.\n", "utf-8")
    with Engine(Settings(), database_url=postgres_url, embedder=embedder) as colleague:
        list(colleague.index([team_folder], "Harbour"))
    own = tmp_path / "garden.md"
    own.write_text("# Garden\n\nThe quince tree was planted in 2011.\n", "utf-8")
    window = open_window(preload=False)
    list(window.engine.index([own]))
    window._refresh_library()
    assert _listed(window) == {"garden.md"}

    dialog = SettingsDialog(window.engine.settings, gpu_supported=False)
    qtbot.addWidget(dialog)
    assert not dialog.library.url.isVisibleTo(dialog)  # "On this computer": no address asked for
    _choose_team_library(dialog, postgres_url)
    assert dialog.library.url.isVisibleTo(dialog)
    window.apply_settings(dialog.values())
    qtbot.waitUntil(lambda: _listed(window) == {"ferry.md"}, timeout=20_000)
    assert window.engine.library.is_shared
    assert "team library" in window.notice.text()
    assert Settings.load().database_url == postgres_url  # kept for the next start


def test_a_wrong_address_shows_the_reason_and_keeps_the_library(qtbot: QtBot, tmp_path: Path,
                                                                library_folder: Path,
                                                                open_window: Callable[..., MainWindow]) -> None:
    window = open_window(preload=False)
    list(window.engine.index([library_folder / "garden.md"]))
    wrong = f"postgresql://hushdocs@/library?host={tmp_path}/no-server-here"
    dialog = SettingsDialog(window.engine.settings, gpu_supported=False)
    qtbot.addWidget(dialog)
    _choose_team_library(dialog, wrong)
    dialog.library.password.setText("s3cret-pw")
    dialog.library.check.click()
    assert dialog.library.result.text() == "Connecting…"  # the check runs in a worker: the dialog answers
    qtbot.waitUntil(lambda: "cannot be reached" in dialog.library.result.text(), timeout=20_000)
    assert "s3cret-pw" not in dialog.library.result.text()

    window.apply_settings(dialog.values())
    qtbot.waitUntil(lambda: "was not changed" in window.notice.text(), timeout=20_000)
    assert "cannot be reached" in window.notice.text() and "s3cret-pw" not in window.notice.text()
    assert not window.engine.library.is_shared
    assert Settings.load().database_url == ""
    window._refresh_library()
    assert _listed(window) == {"garden.md"}


def test_the_password_is_kept_apart_and_never_shown(qtbot: QtBot) -> None:
    url = "postgresql://team:p%40ss@db.lan:5433/library?sslmode=require"
    dialog = SettingsDialog(Settings(database_url=url), gpu_supported=False)
    qtbot.addWidget(dialog)
    row = dialog.library
    assert row.url.text() == "postgresql://team@db.lan:5433/library?sslmode=require"
    assert row.password.text() == "p@ss" and row.password.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.values().database_url == url
    row.password.setText("")  # then the driver's ~/.pgpass gives it
    assert dialog.values().database_url == "postgresql://team@db.lan:5433/library?sslmode=require"


def test_the_environments_library_is_shown_and_not_changed_here(qtbot: QtBot,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUSHDOCS_DATABASE_URL", "postgresql://team:pw@db.lan/library")
    dialog = SettingsDialog(Settings(), gpu_supported=False)
    qtbot.addWidget(dialog)
    row = dialog.library
    assert row.url.text() == "postgresql://team@db.lan/library" and not row.url.isEnabled()
    assert not row.where.isEnabled() and "HUSHDOCS_DATABASE_URL" in row.result.text()
    assert dialog.values().database_url == ""  # the settings file keeps its own value
