"""Saved conversations: list, new, rename, delete, export to Markdown (with sources).

Renaming and deleting are operations of the ``OpRunner`` (off the GUI thread); the list refreshes when
any operation announces that the conversations changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.api import Conversation, Engine
from ui import dialogs
from ui.row_model import Index, RowListModel
from ui.workers import Changes, OpRunner


class ConversationModel(RowListModel[Conversation]):
    IdRole = Qt.ItemDataRole.UserRole + 1

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        conversation = self.row_at(index)
        if conversation is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return conversation.title
        if role == self.IdRole:
            return conversation.id
        return None

    def row_of(self, conversation_id: int) -> int:
        return next((i for i, c in enumerate(self._rows) if c.id == conversation_id), -1)


class ConversationsPanel(QWidget):
    selected = Signal(int)
    new_requested = Signal()
    renamed = Signal(int, str)
    deleted = Signal(int)

    def __init__(self, engine: Engine, ops: OpRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.ops = ops
        ops.changed.connect(self._changed)
        self.model = ConversationModel(self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.clicked.connect(self._clicked)
        self.view.activated.connect(self._clicked)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        new = QPushButton("New chat")
        new.setToolTip("Start a new conversation (Ctrl+N)")
        new.clicked.connect(self.new_requested)
        more = QPushButton("…")
        more.setToolTip("Rename, delete or export the selected conversation")
        more.setMaximumWidth(36)
        more.clicked.connect(lambda: self._menu(None))
        self._more = more
        row = QHBoxLayout()
        row.addWidget(QLabel("<b>Conversations</b>"), 1)
        row.addWidget(new)
        row.addWidget(more)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.view, 1)
        self.refresh()

    def refresh(self, current: int | None = None) -> None:
        current = self.current_id() if current is None else current
        self.model.set_rows(self.engine.conversations().all())
        self.select(current)

    def select(self, conversation_id: int | None) -> None:
        row = self.model.row_of(conversation_id) if conversation_id is not None else -1
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row))
        else:
            self.view.clearSelection()
            self.view.setCurrentIndex(QModelIndex())

    def current_id(self) -> int | None:
        index = self.view.currentIndex()
        value = index.data(ConversationModel.IdRole) if index.isValid() else None
        return int(value) if value is not None else None

    # -- actions (each callable directly, with the answer a dialog would give) ------------------

    def rename(self, conversation_id: int, title: str | None = None) -> None:
        if title is None:
            old = next((c.title for c in self.model.rows() if c.id == conversation_id), "")
            title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=old)
            if not ok:
                return
        conversations, new_title = self.engine.conversations(), title
        self.ops.run(lambda: conversations.rename(conversation_id, new_title),
                     Changes(conversation_list=True, conversation_id=conversation_id),
                     on_done=lambda _: self.renamed.emit(conversation_id, new_title.strip() or "Untitled"),
                     name="rename")

    def delete(self, conversation_id: int, confirm: bool = True) -> None:
        if confirm and not dialogs.ask_yes_no(self, "Delete conversation",
                                              "Delete this conversation? This cannot be undone."):
            return
        conversations = self.engine.conversations()
        self.ops.run(lambda: conversations.delete(conversation_id),
                     Changes(conversation_list=True, conversation_id=conversation_id),
                     on_done=lambda _: self.deleted.emit(conversation_id), name="delete conversation")

    def export(self, conversation_id: int, target: Path | None = None) -> Path | None:
        if target is None:
            title = next((c.title for c in self.model.rows() if c.id == conversation_id), "conversation")
            safe = "".join(ch if ch.isalnum() or ch in " -_" else "_" for ch in title).strip() or "conversation"
            name, _ = QFileDialog.getSaveFileName(self, "Export conversation", str(Path.home() / f"{safe}.md"),
                                                  "Markdown (*.md)")
            if not name:
                return None
            target = Path(name)
        target.write_text(self.engine.conversations().export_markdown(conversation_id), "utf-8")
        return target

    def _changed(self, changes: Changes) -> None:
        if changes.conversation_list:
            self.refresh()

    def _clicked(self, index: QModelIndex) -> None:
        value = index.data(ConversationModel.IdRole)
        if value is not None:
            self.selected.emit(int(value))

    def _menu(self, position: object) -> None:
        conversation_id = self.current_id()
        if conversation_id is None:
            return
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename(conversation_id))
        menu.addAction("Export to Markdown…", lambda: self.export(conversation_id))
        menu.addSeparator()
        menu.addAction("Delete…", lambda: self.delete(conversation_id))
        if position is None:
            menu.popup(self._more.mapToGlobal(self._more.rect().bottomLeft()))
        else:
            assert isinstance(position, QPoint)
            menu.popup(self.view.viewport().mapToGlobal(position))
