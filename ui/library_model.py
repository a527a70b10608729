"""List models over plain Python lists: the documents of the library, and the collections."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QApplication, QStyle

from engine.api import (
    EMPTY,
    FAILED,
    INDEXED,
    INDEXED_OCR,
    NEEDS_OCR,
    NEEDS_PASSWORD,
    PROBLEM_STATUSES,
    SKIPPED,
    DocumentRecord,
    Exclusion,
)
from ui.row_model import Index, RowListModel

# Rows of files not in the index yet: the one being worked on, those the running job will read next, and those
# a cancelled job left (read again by Resume).
INDEXING = "indexing"
QUEUED = "queued"
PAUSED = "paused"
# A file forgotten inside a followed folder: left out of its scans until it is indexed again.
EXCLUDED = "excluded"
STATUS_LABELS = {
    INDEXED: "indexed",
    INDEXED_OCR: "indexed (OCR)",
    FAILED: "failed",
    NEEDS_OCR: "needs OCR",
    NEEDS_PASSWORD: "needs a password",
    EMPTY: "no text",
    SKIPPED: "skipped",
    INDEXING: "indexing…",
    QUEUED: "waiting",
    PAUSED: "waiting",
    EXCLUDED: "forgotten",
}
ENCRYPTED_PREFIX = "encrypted: "


@dataclass
class LibraryRow:
    """One line of the library: an indexed document, or a file the running indexing job has not reached."""

    path: str
    collection: str
    title: str
    status: str
    error: str = ""
    pages: int = 0
    chunks: int = 0

    @property
    def name(self) -> str:
        return os.path.basename(self.path) or self.path

    @property
    def is_problem(self) -> bool:
        """A file that could not be indexed (its reason is shown)."""
        return self.status in PROBLEM_STATUSES

    @property
    def is_waiting(self) -> bool:
        return self.status in (INDEXING, QUEUED, PAUSED)

    def detail(self) -> str:
        label = STATUS_LABELS.get(self.status, self.status)
        if self.status in (INDEXED, INDEXED_OCR):
            pages = f"{self.pages} page{'s' if self.pages != 1 else ''} · " if self.pages else ""
            note = f" · {self.error}" if self.error else ""  # e.g. pages OCR could not read, a repaired file
            return f"{label} · {pages}{self.chunks} chunk{'s' if self.chunks != 1 else ''}{note}"
        if self.status == PAUSED:
            return f"{label}: indexing was cancelled · Resume to go on"
        if self.status == EXCLUDED:
            return f"{label}: left out of its folder · Index again to include it"
        if self.status == NEEDS_PASSWORD:
            reason = self.error.removeprefix(ENCRYPTED_PREFIX)
            return label if reason in ("", label) else f"{label}: {reason}"
        if self.error:
            return f"{label}: {self.error}"
        return label


class LibraryModel(RowListModel[LibraryRow]):
    """The documents of one collection (or all), with the running job's pending files merged in."""

    PathRole = Qt.ItemDataRole.UserRole + 1
    StatusRole = Qt.ItemDataRole.UserRole + 2
    RowRole = Qt.ItemDataRole.UserRole + 3

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index)
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{row.name}\n{row.detail()}"
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [row.path, f"Collection: {row.collection}", row.detail()]
            return "\n".join(lines)
        if role == Qt.ItemDataRole.DecorationRole:
            return _status_icon(row.status)
        if role == self.PathRole:
            return row.path
        if role == self.StatusRole:
            return row.status
        if role == self.RowRole:
            return row
        return None

    def row_for(self, path: str) -> LibraryRow | None:
        return next((r for r in self._rows if r.path == path), None)

    def set_rows(self, rows: list[LibraryRow], key: Any = None) -> bool:
        """Replace the rows: the same files in the same order are updated in place (the view keeps its selection);
        an unchanged list leaves the view alone. True when the model was reset."""
        if rows == self._rows:
            return False
        return super().set_rows(rows, key=key or _by_path)


def _by_path(row: LibraryRow) -> str:
    return row.path


def is_under(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or inside it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def owner_of(path: str, roots: Sequence[tuple[str, str]]) -> str:
    """The collection whose followed folder (the innermost one) holds ``path``; "" when none does."""
    owners = [(len(root), name) for name, root in roots if is_under(path, root)]
    return max(owners)[1] if owners else ""


def merge_rows(documents: list[DocumentRecord], pending: dict[str, str], collection: str | None,
               current: str = "", *, roots: Sequence[tuple[str, str]] = (),
               exclusions: Sequence[Exclusion] = ()) -> list[LibraryRow]:
    """Indexed documents, the files not indexed yet (``pending``: path -> ``QUEUED`` or ``PAUSED``; ``current``
    is being worked on) and the files forgotten inside followed folders. ``roots`` ((collection, folder) pairs)
    tell a pending file's collection."""
    rows = {d.path: LibraryRow(d.path, d.collection, d.title, d.status, d.error, d.pages, d.chunks)
            for d in documents}
    for exclusion in exclusions:
        if collection is None or exclusion.collection == collection:
            rows[exclusion.path] = LibraryRow(exclusion.path, exclusion.collection, "", EXCLUDED)
    for path, status in pending.items():
        existing = rows.get(path)
        owner = existing.collection if existing else owner_of(path, roots)
        if collection is not None and owner != collection:
            continue
        rows[path] = LibraryRow(path, owner, existing.title if existing else "",
                                INDEXING if path == current else status,
                                pages=existing.pages if existing else 0, chunks=existing.chunks if existing else 0)
    return sorted(rows.values(), key=lambda r: (r.collection.lower(), r.path.lower()))


_ICONS: dict[str, Any] = {}


def _status_icon(status: str) -> Any:
    if status in _ICONS:
        return _ICONS[status]
    style = QApplication.style()
    pixmap = {
        INDEXED: QStyle.StandardPixmap.SP_DialogApplyButton,
        INDEXED_OCR: QStyle.StandardPixmap.SP_DialogApplyButton,
        FAILED: QStyle.StandardPixmap.SP_MessageBoxCritical,
        NEEDS_OCR: QStyle.StandardPixmap.SP_MessageBoxWarning,
        NEEDS_PASSWORD: QStyle.StandardPixmap.SP_MessageBoxQuestion,
        EMPTY: QStyle.StandardPixmap.SP_MessageBoxWarning,
        SKIPPED: QStyle.StandardPixmap.SP_MessageBoxInformation,
        INDEXING: QStyle.StandardPixmap.SP_BrowserReload,
        QUEUED: QStyle.StandardPixmap.SP_FileIcon,
        PAUSED: QStyle.StandardPixmap.SP_MediaPause,
        EXCLUDED: QStyle.StandardPixmap.SP_DialogDiscardButton,
    }.get(status, QStyle.StandardPixmap.SP_FileIcon)
    icon = _ICONS[status] = style.standardIcon(pixmap)
    return icon


class LibraryFilter(QSortFilterProxyModel):
    """The filter box: matches the name, path, status or reason, case-insensitively."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._needle = ""

    def set_needle(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+: invalidateFilter() is deprecated
            self.beginFilterChange()
            self._needle = text.strip().lower()
            self.endFilterChange()
        else:
            self._needle = text.strip().lower()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802 - Qt's name
        if not self._needle:
            return True
        model = self.sourceModel()
        row = model.data(model.index(source_row, 0, source_parent), LibraryModel.RowRole)
        if not isinstance(row, LibraryRow):
            return False
        haystack = f"{row.path} {row.title} {row.detail()}".lower()
        return all(word in haystack for word in self._needle.split())
