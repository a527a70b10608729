"""Saved conversations: list (one line each, with the day of the last message), search, new, rename, delete,
export to Markdown (with sources).

Renaming and deleting are operations of the ``OpRunner`` (off the GUI thread); the list refreshes when
any operation announces that the conversations changed."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.api import Conversation, Engine
from ui import dialogs
from ui.row_model import Index, RowListModel
from ui.workers import Changes, OpRunner

SEARCH_DELAY_MS = 250  # typing pauses this long before the list is searched
RENAME_FIELD_MIN_CHARS, RENAME_FIELD_MAX_CHARS = 40, 100  # the rename field fits the title between these
EXPORT_NAME_CHARS = 80  # a suggested export file name is cut at a word end before this
# Characters some file system refuses in a name (Windows' set, which covers the others), and control characters.
_UNSAFE_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def one_line(text: str) -> str:
    return " ".join(text.split())


def day_label(timestamp: float, now: datetime | None = None) -> str:
    """When a conversation last changed, as a list shows it: the time today, "Yesterday", the weekday within
    a week, the day and month this year, else the day, month and year."""
    now = now or datetime.now()
    moment = datetime.fromtimestamp(timestamp)
    days_ago = (now.date() - moment.date()).days
    if days_ago <= 0:
        return moment.strftime("%H:%M")
    if days_ago == 1:
        return "Yesterday"
    if days_ago < 7:
        return moment.strftime("%A")
    if moment.year == now.year:
        return f"{moment.day} {moment.strftime('%b')}"
    return f"{moment.day} {moment.strftime('%b %Y')}"


def export_file_name(title: str) -> str:
    """A file name for a conversation's Markdown that reads like its title: only the characters file systems
    refuse are dropped ("What is the harbour master's name?" → "What is the harbour master's name.md")."""
    name = one_line(_UNSAFE_IN_FILE_NAMES.sub(" ", title)).strip(" .")  # Windows refuses trailing dots
    if len(name) > EXPORT_NAME_CHARS:
        cut = name[:EXPORT_NAME_CHARS].rsplit(" ", 1)[0]
        name = cut.rstrip(" .,;-") or name[:EXPORT_NAME_CHARS]
    return f"{name or 'conversation'}.md"


class ConversationModel(RowListModel[Conversation]):
    IdRole = Qt.ItemDataRole.UserRole + 1
    DayRole = Qt.ItemDataRole.UserRole + 2  # the day_label of the last message

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        conversation = self.row_at(index)
        if conversation is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return one_line(conversation.title)
        if role == Qt.ItemDataRole.ToolTipRole:
            changed = datetime.fromtimestamp(conversation.updated_at)
            return f"{conversation.title}\n\nLast message: {changed.day} {changed.strftime('%B %Y, %H:%M')}"
        if role == self.DayRole:
            return day_label(conversation.updated_at)
        if role == self.IdRole:
            return conversation.id
        return None

    def row_of(self, conversation_id: int) -> int:
        return next((i for i, c in enumerate(self._rows) if c.id == conversation_id), -1)

    def title_of(self, conversation_id: int) -> str:
        return next((c.title for c in self._rows if c.id == conversation_id), "")


class ConversationDelegate(QStyledItemDelegate):
    """One line per conversation: the title, cut with "…" where it does not fit, and its day on the right."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex,
              ) -> None:
        self.initStyleOption(option, index)
        title, day = option.text, str(index.data(ConversationModel.DayRole) or "")
        option.text = ""
        widget = option.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        area = option.rect.adjusted(6, 0, -6, 0)
        metrics = option.fontMetrics
        day_width = metrics.horizontalAdvance(day) + 12 if day else 0
        painter.save()
        painter.setPen(option.palette.color(text_role if selected else QPalette.ColorRole.PlaceholderText))
        painter.drawText(area, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), day)
        painter.setPen(option.palette.color(text_role))
        title_area = area.adjusted(0, 0, -day_width, 0)
        painter.drawText(title_area, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         metrics.elidedText(title, Qt.TextElideMode.ElideRight, title_area.width()))
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex,  # noqa: N802
                 ) -> QSize:
        return QSize(0, option.fontMetrics.height() + 10)  # as wide as the list, one line high


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
        self.view.setItemDelegate(ConversationDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.clicked.connect(self._clicked)
        self.view.activated.connect(self._clicked)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations")
        self.search.setToolTip("Shows the conversations whose title or messages hold every word typed here")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.no_match = QLabel("No conversation holds these words.")
        self.no_match.setWordWrap(True)
        self.no_match.setEnabled(False)  # drawn in the dimmed text colour
        self.no_match.hide()
        new = QPushButton("New chat")
        new.setToolTip("Start a new conversation (Ctrl+N)")
        new.clicked.connect(self.new_requested)
        more = QToolButton()
        more.setText("…")
        more.setToolTip("Rename, delete or export the selected conversation")
        more.clicked.connect(lambda: self._menu(None))
        self._more = more
        row = QHBoxLayout()
        row.addWidget(QLabel("<b>Conversations</b>"), 1)
        row.addWidget(new)
        row.addWidget(more)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.search)
        layout.addWidget(self.no_match)
        layout.addWidget(self.view, 1)
        self.refresh()

    def refresh(self, current: int | None = None) -> None:
        """List the conversations again (those matching the search field's words, if any)."""
        self._search_timer.stop()
        current = self.current_id() if current is None else current
        query = self.search.text()
        self.model.set_rows(self.engine.conversations().search(query))
        self.no_match.setVisible(bool(query.split()) and self.model.rowCount() == 0)
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

    def rename_dialog(self, conversation_id: int) -> QInputDialog:
        """The rename dialog, filled with the whole title (selected, so typing replaces it), wide enough to read."""
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Rename conversation")
        dialog.setLabelText("Title:")
        title = one_line(self.model.title_of(conversation_id))
        dialog.setTextValue(title)
        field = dialog.findChild(QLineEdit)
        if field is not None:
            metrics = field.fontMetrics()
            wanted = metrics.horizontalAdvance(title) + 8 * metrics.averageCharWidth()  # and the frame's margins
            field.setMinimumWidth(min(max(wanted, metrics.averageCharWidth() * RENAME_FIELD_MIN_CHARS),
                                      metrics.averageCharWidth() * RENAME_FIELD_MAX_CHARS))
            field.selectAll()  # typing replaces it
        return dialog

    def rename(self, conversation_id: int, title: str | None = None) -> None:
        if title is None:
            dialog = self.rename_dialog(conversation_id)
            if dialog.exec() != QInputDialog.DialogCode.Accepted:
                return
            title = dialog.textValue()
        conversations, new_title = self.engine.conversations(), one_line(title)
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
            suggested = Path.home() / export_file_name(self.model.title_of(conversation_id))
            name, _ = QFileDialog.getSaveFileName(self, "Export conversation", str(suggested), "Markdown (*.md)")
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
