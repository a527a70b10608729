"""An encrypted PDF: listed as needing a password, read once it is given, the password kept nowhere on disk."""

from __future__ import annotations

import logging
from pathlib import Path

from engine import paths
from engine.api import NEEDS_PASSWORD, Engine
from engine.settings import Settings
from tests.support.documents import write_encrypted_pdf

PASSWORD = "Tromb0ne-quasar-8812"
FACT = "The boathouse key hangs behind the blue door of Wrenfield Lodge."


def _files_holding(home: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(home)) for p in sorted(home.rglob("*")) if p.is_file() and needle in p.read_bytes()]


def test_a_password_reads_an_encrypted_pdf_and_is_kept_nowhere(tmp_path: Path, hushdocs_home: Path,
                                                               embedder: object) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    locked = write_encrypted_pdf(folder / "locked.pdf", FACT, password=PASSWORD)
    settings = Settings()
    settings.save()
    log_file = paths.log_path()
    handler = logging.FileHandler(log_file, encoding="utf-8")  # the app's log file, at its chattiest
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        _index_with_passwords(settings, folder, locked, embedder)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
    assert paths.settings_path().is_file() and log_file.is_file()
    assert _files_holding(hushdocs_home, b"Wrenfield") != []  # the scan sees indexed text...
    assert _files_holding(hushdocs_home, PASSWORD.encode()) == []  # ...and no password, in any file
    assert _files_holding(hushdocs_home, PASSWORD.encode("utf-16-le")) == []


def _index_with_passwords(settings: Settings, folder: Path, locked: Path, embedder: object) -> None:
    with Engine(settings, embedder=embedder) as engine:  # type: ignore[arg-type]
        list(engine.index([folder]))
        [document] = engine.documents()
        assert (document.status, document.error) == (NEEDS_PASSWORD, "encrypted: needs a password")

        last = list(engine.unlock(locked, "not-the-password"))[-1]
        assert last.outcome is None and last.summary["failed"] == 1
        [document] = engine.documents()
        assert document.status == NEEDS_PASSWORD and "password given is not this document's password" in document.error
        assert list(engine.sync())[-1].files_total == 0  # a wrong password is not kept to be tried again

        last = list(engine.unlock(locked, PASSWORD))[-1]
        assert last.summary["indexed"] == 1
        [document] = engine.documents()
        assert document.status == "indexed" and document.pages == 1
        assert "Wrenfield" in engine.search("where is the boathouse key", k=1)[0].text
        write_encrypted_pdf(locked, FACT + " It moved there in May.", password=PASSWORD)  # edited later
        assert list(engine.sync())[-1].summary["indexed"] == 1  # read again with the session's password
        assert "May" in engine.search("when did the boathouse key move", k=1)[0].text
