"""A read-only list model over a plain Python list of rows (the library, the conversations)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex

Index = QModelIndex | QPersistentModelIndex
RowT = TypeVar("RowT")


class RowListModel(QAbstractListModel, Generic[RowT]):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[RowT] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def row_at(self, index: Index) -> RowT | None:
        """The row behind a view's index, or None for an index that points at nothing."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return self._rows[index.row()]

    def rows(self) -> list[RowT]:
        return list(self._rows)

    def set_rows(self, rows: list[RowT], key: Callable[[RowT], Hashable] | None = None) -> bool:
        """Replace the rows. With ``key``, rows that are the same ones in the same order are updated in place (the
        view keeps its selection and scroll position); otherwise the model is reset. True when it was reset."""
        if key is not None and [key(r) for r in rows] == [key(r) for r in self._rows]:
            self._rows = list(rows)
            if rows:
                self.dataChanged.emit(self.index(0), self.index(len(rows) - 1))
            return False
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()
        return True
