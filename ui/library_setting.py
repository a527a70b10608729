"""Settings' Library row: this computer's own file, or a team library on PostgreSQL at a URL, checked in a worker.

The password is typed apart from the URL (a password field, never shown) and kept inside the URL in the settings
file, which only the person's account can read (as the answer server's key is); left empty, the driver reads
``~/.pgpass``. Where ``HUSHDOCS_DATABASE_URL`` is set it decides, and the row only shows it.
"""

from __future__ import annotations

import os
import threading
from urllib.parse import quote, unquote, urlsplit

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from engine.api import DATABASE_ENV, Settings, check_library
from ui import dialogs
from ui.workers import WorkerPool

LOCAL, TEAM = "local", "team"


def split_password(url: str) -> tuple[str, str]:
    """(the URL without its password, the password) of ``postgresql://user:password@host/db``."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url, ""
    user, password = userinfo.split(":", 1)
    return parts._replace(netloc=f"{user}@{hostport}").geturl(), unquote(password)


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` in its user part (percent-encoded); unchanged when the password is empty."""
    if not password:
        return url
    parts = urlsplit(url)
    userinfo, _at, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:{quote(password, safe='')}@{hostport}").geturl()


class LibrarySetting(QObject):
    """The row's widgets in a form, what they say, and the URL they stand for."""

    def __init__(self, form: QFormLayout, settings: Settings, parent: QWidget) -> None:
        super().__init__(parent)
        self._form = form
        self._original = settings.database_url
        self._from_environment = os.environ.get(DATABASE_ENV, "").strip()
        self._pool = WorkerPool(self, max_threads=1)
        self._pool.crashed.connect(lambda details: dialogs.show_crash(parent, details))
        self._checking: threading.Event | None = None
        shown_url, password = split_password(self._from_environment or settings.database_url)

        self.where = QComboBox()
        self.where.addItem("On this computer", LOCAL)
        self.where.addItem("A team library at this address", TEAM)
        self.where.setCurrentIndex(1 if shown_url else 0)
        self.url = QLineEdit(shown_url)
        self.url.setPlaceholderText("postgresql://hushdocs@db.lan:5432/hushdocs?sslmode=require")
        self.password = QLineEdit(password)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("none (or kept in ~/.pgpass)")
        self.password.setToolTip("Kept in the settings file, which only your user account can read")
        self.check = QPushButton("Check")
        self.check.setToolTip("Connect to this library once and say what is wrong, if anything")
        self.check.clicked.connect(self.start_check)
        self.result = QLabel()
        self.result.setWordWrap(True)
        password_line = QWidget()
        password_layout = QHBoxLayout(password_line)
        password_layout.setContentsMargins(0, 0, 0, 0)
        password_layout.addWidget(self.password, 1)
        password_layout.addWidget(self.check)

        form.addRow("Library:", self.where)
        form.addRow("Library address:", self.url)
        form.addRow("Library password:", password_line)
        form.addRow("", self.result)
        self._team_rows: tuple[QWidget, ...] = (self.url, password_line, self.result)
        if self._from_environment:
            for widget in (self.where, self.url, self.password, self.check):
                widget.setEnabled(False)
            self.result.setText(f"Set by {DATABASE_ENV} in the environment: change it there.")
        self.where.currentIndexChanged.connect(self._where_changed)
        self.url.textEdited.connect(self._forget_result)
        self.password.textEdited.connect(self._forget_result)
        self._where_changed()

    def database_url(self) -> str:
        """The database_url setting the row stands for ("" for this computer's own file)."""
        if self._from_environment:
            return self._original  # the environment's URL is not written into the settings file
        if self.where.currentData() == LOCAL:
            return ""
        return with_password(self.url.text().strip(), self.password.text().strip())

    def start_check(self) -> None:
        """Connect in a worker; the answer lands in the row (the dialog stays usable meanwhile)."""
        url = self.database_url()
        if not url:
            self._show("Give the library's address first (postgresql://user@host:5432/database).", error=True)
            return
        if self._checking is not None:
            self._checking.set()  # the answer about an older address is not shown
        self._checking = ignored = threading.Event()
        self.check.setEnabled(False)
        self._show("Connecting…", error=False)

        def answered(message: str, error: bool) -> None:
            if not ignored.is_set():
                self.check.setEnabled(True)
                self._show(message, error=error)

        self._pool.start(lambda _stop: check_library(url), name="library check",
                         on_result=lambda _none: answered("Reached: this library can be used.", False),
                         on_error=lambda reason: answered(f"Cannot use it: {reason}", True))

    def shutdown(self) -> None:
        """Wait for a check under way (at most its connection timeout) as the dialog closes."""
        self._pool.shutdown()

    def _show(self, message: str, *, error: bool) -> None:
        self.result.setText(message)
        self.result.setStyleSheet("color: #b3261e;" if error else "")
        # A reason may take several lines: the form does not grow a wrapped label by itself once shown.
        self.result.setMinimumHeight(self.result.heightForWidth(self.result.width()) if message else 0)
        self._fit_dialog()

    def _forget_result(self) -> None:
        if self._checking is not None:
            self._checking.set()
            self._checking = None
        self.check.setEnabled(True)
        self._show("", error=False)

    def _where_changed(self) -> None:
        team = self.where.currentData() == TEAM
        for widget in self._team_rows:
            self._form.setRowVisible(widget, team or bool(self._from_environment))
        self._fit_dialog()

    def _fit_dialog(self) -> None:
        dialog = self.parent()
        if isinstance(dialog, QWidget):
            dialog.adjustSize()
