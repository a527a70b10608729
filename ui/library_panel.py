"""The library side panel: collections, their documents with status, add/forget/re-scan, a filter box.

Rows that need the person: files a cancelled job left waiting (Resume), an encrypted PDF (Enter password…),
a file forgotten inside a followed folder (Index again).
"""

from __future__ import annotations

import os

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.api import INDEXED, INDEXED_OCR, NEEDS_PASSWORD, Engine, format_names
from ui.library_model import EXCLUDED, PAUSED, LibraryFilter, LibraryModel, LibraryRow, merge_rows
from ui.theme import app_icon

ALL_COLLECTIONS = "All collections"


def ask_password(parent: QWidget, path: str, refused: bool = False) -> str | None:
    """The password of an encrypted document, or None when the person gives none. It is kept for this session only
    (the engine's memory), never written anywhere."""
    name = os.path.basename(path)
    prompt = (f"The password given for {name} is not this document's password. Try again:" if refused
              else f"{name} is encrypted. Its password (kept until Hushdocs closes, never saved):")
    password, ok = QInputDialog.getText(parent, "Enter password", prompt, QLineEdit.EchoMode.Password)
    return password if ok and password else None


class LibraryPanel(QWidget):
    add_folder_requested = Signal()
    add_files_requested = Signal()
    new_collection_requested = Signal()
    forget_requested = Signal(list)  # paths
    rescan_requested = Signal(object)  # list of paths, or None for everything in the collection
    delete_collection_requested = Signal(str)
    resume_requested = Signal()  # index the files a cancelled job left waiting
    include_requested = Signal(list)  # paths forgotten inside followed folders, to index again
    unlock_requested = Signal(str, str)  # an encrypted document's path and the password the person gave
    open_requested = Signal(str)  # a document path, to show in the viewer
    open_external_requested = Signal(str)  # a document path, for the system's default app
    collection_changed = Signal(object)  # a name, or None for all

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.pending: dict[str, str] = {}
        self.current_file = ""

        title = QLabel("<b>Library</b>")
        self.collections = QComboBox()
        self.collections.setToolTip("The collection shown here, asked in the chat, and that new files join")
        self.collections.currentIndexChanged.connect(self._collection_changed)

        add_folder = QPushButton("Add folder…")
        add_folder.clicked.connect(self.add_folder_requested)
        add_files = QPushButton("Add files…")
        add_files.clicked.connect(self.add_files_requested)
        more = QToolButton()
        more.setText("More")
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = self.more_menu = QMenu(more)
        menu.addAction("New collection…", self.new_collection_requested.emit)
        self.rescan_action = menu.addAction("Re-scan this collection", lambda: self.rescan_requested.emit(None))
        menu.addAction("Forget selected documents", self._forget_selected)
        menu.addSeparator()
        self.delete_action = menu.addAction("Delete this collection…", self._delete_collection)
        menu.aboutToShow.connect(self._update_collection_actions)
        more.setMenu(menu)

        self.filter_box = QLineEdit()
        self.filter_box.setPlaceholderText("Filter documents (name, status, reason)")
        self.filter_box.setClearButtonEnabled(True)

        self.model = LibraryModel(self)
        self.proxy = LibraryFilter(self)
        self.proxy.setSourceModel(self.model)
        self.filter_box.textChanged.connect(self.proxy.set_needle)
        self.view = QListView()
        self.view.setModel(self.proxy)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setUniformItemSizes(True)  # thousands of rows stay cheap to lay out
        self.view.setItemDelegate(RowDelegate(self.view))
        self.view.setIconSize(QSize(16, 16))
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.doubleClicked.connect(self._activated)
        forget = QAction("Forget", self.view)
        forget.setShortcut(Qt.Key.Key_Delete)
        forget.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        forget.triggered.connect(self._forget_selected)
        self.view.addAction(forget)

        self.empty = _EmptyLibrary()
        self.empty.add_folder.clicked.connect(self.add_folder_requested)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.view)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setEnabled(False)  # the disabled look gives secondary text in either scheme
        self.resume = QPushButton("Resume indexing")
        self.resume.setToolTip("Index the files that were waiting when indexing was cancelled")
        self.resume.clicked.connect(self.resume_requested)
        self.resume.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(add_folder)
        buttons.addWidget(add_files)
        buttons.addWidget(more)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(title)
        layout.addWidget(self.collections)
        layout.addLayout(buttons)
        layout.addWidget(self.filter_box)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.resume)
        layout.addWidget(self.summary)
        self.refresh()

    # -- state ----------------------------------------------------------------------------------

    def collection(self) -> str | None:
        """The chosen collection; None means all of them."""
        name = self.collections.currentData()
        return name if isinstance(name, str) else None

    def set_collection(self, name: str | None) -> None:
        index = self.collections.findData(name) if name else 0
        if index >= 0:
            self.collections.setCurrentIndex(index)

    def set_pending(self, pending: dict[str, str], current: str) -> None:
        self.pending = dict(pending)
        self.current_file = current

    def refresh(self) -> None:
        """Re-read collections and documents (a quick read on this thread's own connection); the selected documents
        stay selected."""
        chosen = self.collection()
        collections = self.engine.collections()
        names = [c.name for c in collections]
        wanted = [ALL_COLLECTIONS, *names]
        present = [self.collections.itemText(i) for i in range(self.collections.count())]
        if present != wanted:
            self.collections.blockSignals(True)
            self.collections.clear()
            self.collections.addItem(ALL_COLLECTIONS, None)
            for name in names:
                self.collections.addItem(name, name)
            index = self.collections.findData(chosen) if chosen else 0
            self.collections.setCurrentIndex(max(index, 0))
            self.collections.blockSignals(False)
        documents = self.engine.documents(self.collection())
        roots = [(c.name, root) for c in collections for root in c.roots]
        rows = merge_rows(documents, self.pending, self.collection(), self.current_file, roots=roots,
                          exclusions=self.engine.exclusions(self.collection()))
        selected, current = self.selected_paths(), self._current_path()
        if self.model.set_rows(rows):
            self._select(selected, current)  # a reset forgets the selection: give it back, by path
        if not rows:
            self.empty.set_privacy_note(self.engine.privacy_note())  # the settings may have named an answer server
        self.stack.setCurrentWidget(self.view if rows else self.empty)
        paused = sum(1 for status in self.pending.values() if status == PAUSED)
        self.resume.setText(f"Resume indexing ({paused} waiting)")
        self.resume.setVisible(paused > 0)
        problems = sum(1 for r in rows if r.is_problem)
        indexed = sum(1 for r in rows if r.status in (INDEXED, INDEXED_OCR))
        text = f"{indexed} document{'s' if indexed != 1 else ''} indexed"
        waiting = sum(1 for r in rows if r.is_waiting)
        if waiting:
            text += f", {waiting} waiting"
        if problems:
            text += f", {problems} not indexed (see the reasons above)"
        self.summary.setText(text if rows else "")

    def selected_paths(self) -> list[str]:
        return [str(index.data(LibraryModel.PathRole)) for index in self.view.selectionModel().selectedIndexes()]

    def selected_rows(self) -> list[LibraryRow]:
        return [index.data(LibraryModel.RowRole) for index in self.view.selectionModel().selectedIndexes()]

    def _current_path(self) -> str | None:
        index = self.view.currentIndex()
        return str(index.data(LibraryModel.PathRole)) if index.isValid() else None

    def _select(self, paths: list[str], current: str | None) -> None:
        wanted = set(paths)
        selection = QItemSelection()
        current_index = QModelIndex()
        for row_number, row in enumerate(self.model.rows()):
            index = self.proxy.mapFromSource(self.model.index(row_number))
            if not index.isValid():
                continue  # filtered out
            if row.path in wanted:
                selection.select(index, index)
            if row.path == current:
                current_index = index
        selections = self.view.selectionModel()
        if current_index.isValid():
            selections.setCurrentIndex(current_index, QItemSelectionModel.SelectionFlag.NoUpdate)
        selections.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def row(self, path: str) -> LibraryRow | None:
        return self.model.row_for(path)

    # -- actions --------------------------------------------------------------------------------

    def _collection_changed(self) -> None:
        self.refresh()
        self.collection_changed.emit(self.collection())

    def _forget_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            self.forget_requested.emit(paths)

    def _update_collection_actions(self) -> None:
        """"All collections" is not a collection that can be deleted; a re-scan then covers every one."""
        one = self.collection() is not None
        self.delete_action.setEnabled(one)
        self.rescan_action.setText("Re-scan this collection" if one else "Re-scan all collections")

    def _delete_collection(self) -> None:
        name = self.collection()
        if name:
            self.delete_collection_requested.emit(name)

    def _activated(self, index: QModelIndex) -> None:
        row = index.data(LibraryModel.RowRole)
        if isinstance(row, LibraryRow) and row.status == NEEDS_PASSWORD:
            self.enter_password(row.path)
        else:
            self.open_requested.emit(str(index.data(LibraryModel.PathRole)))

    def enter_password(self, path: str, refused: bool = False) -> None:
        """Ask for an encrypted document's password (again, saying so, when the last one was refused)."""
        password = ask_password(self, path, refused)
        if password is not None:
            self.unlock_requested.emit(path, password)

    def _open_external(self, paths: list[str]) -> None:
        for path in paths:
            self.open_external_requested.emit(path)

    def context_menu(self) -> QMenu | None:
        """The actions for the selected rows: the usual ones, and what a waiting, locked or forgotten file needs."""
        rows = self.selected_rows()
        if not rows:
            return None
        paths = [r.path for r in rows]
        excluded = [r.path for r in rows if r.status == EXCLUDED]
        followed = [r.path for r in rows if r.status != EXCLUDED]
        menu = QMenu(self)
        locked = [r.path for r in rows if r.status == NEEDS_PASSWORD]
        if locked:
            menu.addAction("Enter password…", lambda: self.enter_password(locked[0]))
        if any(r.status == PAUSED for r in rows):
            menu.addAction("Resume indexing", self.resume_requested.emit)
        if excluded:
            menu.addAction("Index again", lambda: self.include_requested.emit(excluded))
        menu.addAction("Show", lambda: self.open_requested.emit(paths[0]))
        menu.addAction("Open in default app", lambda: self._open_external(paths))
        if followed:
            menu.addAction("Re-scan", lambda: self.rescan_requested.emit(followed))
            menu.addAction("Forget", lambda: self.forget_requested.emit(followed))
        return menu

    def _context_menu(self, position: QPoint) -> None:
        menu = self.context_menu()
        if menu is not None:
            menu.popup(self.view.viewport().mapToGlobal(position))


class _EmptyLibrary(QWidget):
    """What an empty library shows: an invitation to drop folders, and a button for those who don't drag."""

    def __init__(self) -> None:
        super().__init__()
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = text = QLabel()
        self.set_privacy_note("Nothing leaves this computer.")
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.add_folder = QPushButton("Add a folder…")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(icon)
        layout.addWidget(text)
        layout.addWidget(self.add_folder, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def set_privacy_note(self, note: str) -> None:
        self.text.setText("<p><b>Your library is empty.</b></p><p>Drop folders or files anywhere on this window to "
                          f"add them, or choose a folder. {format_names()} files are read.</p><p>{note}</p>")


class RowDelegate(QStyledItemDelegate):
    """Two lines per document: the name elided in the middle (its extension stays in view), the status and reason
    elided at their end, so they read from the start at any width; the tooltip holds them whole."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        row = index.data(LibraryModel.RowRole)
        if not isinstance(row, LibraryRow):
            super().paint(painter, option, index)
            return
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        widget = item.widget
        style = widget.style() if widget is not None else QApplication.style()
        text_area = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, item, widget)
        item.text = ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, widget)  # background, icon, focus

        metrics = item.fontMetrics
        width = max(0, text_area.width() - 4)
        line = metrics.lineSpacing()
        top = text_area.top() + max(0, (text_area.height() - 2 * line) // 2)
        selected = bool(item.state & QStyle.StateFlag.State_Selected)
        palette = item.palette
        main = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        secondary = main if selected else palette.color(QPalette.ColorRole.PlaceholderText)
        painter.save()
        painter.setFont(item.font)
        painter.setPen(main)
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(QRect(text_area.left() + 2, top, width, line), flags,
                         metrics.elidedText(row.name, Qt.TextElideMode.ElideMiddle, width))
        painter.setPen(secondary)
        painter.drawText(QRect(text_area.left() + 2, top + line, width, line), flags,
                         metrics.elidedText(row.detail(), Qt.TextElideMode.ElideRight, width))
        painter.restore()
