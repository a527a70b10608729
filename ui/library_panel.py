"""The library side panel: collections, their documents with status, add/forget/re-scan, a filter box."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.api import INDEXED, Engine, format_names
from ui.library_model import LibraryFilter, LibraryModel, LibraryRow, merge_rows
from ui.theme import app_icon

ALL_COLLECTIONS = "All collections"


class LibraryPanel(QWidget):
    add_folder_requested = Signal()
    add_files_requested = Signal()
    new_collection_requested = Signal()
    forget_requested = Signal(list)  # paths
    rescan_requested = Signal(object)  # list of paths, or None for everything in the collection
    delete_collection_requested = Signal(str)
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
        menu = QMenu(more)
        menu.addAction("New collection…", self.new_collection_requested.emit)
        menu.addAction("Re-scan this collection", lambda: self.rescan_requested.emit(None))
        menu.addAction("Forget selected documents", self._forget_selected)
        menu.addSeparator()
        menu.addAction("Delete this collection…", self._delete_collection)
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
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
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
        """Re-read collections and documents (a quick read on this thread's own connection)."""
        chosen = self.collection()
        names = [c.name for c in self.engine.collections()]
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
        rows = merge_rows(documents, self.pending, self.collection(), self.current_file)
        self.model.set_rows(rows)
        self.stack.setCurrentWidget(self.view if rows else self.empty)
        problems = sum(1 for r in rows if r.is_problem)
        indexed = sum(1 for r in rows if r.status == INDEXED)
        text = f"{indexed} document{'s' if indexed != 1 else ''} indexed"
        waiting = sum(1 for r in rows if r.is_waiting)
        if waiting:
            text += f", {waiting} waiting"
        if problems:
            text += f", {problems} not indexed (see the reasons above)"
        self.summary.setText(text if rows else "")

    def selected_paths(self) -> list[str]:
        return [str(index.data(LibraryModel.PathRole)) for index in self.view.selectionModel().selectedIndexes()]

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

    def _delete_collection(self) -> None:
        name = self.collection()
        if name:
            self.delete_collection_requested.emit(name)

    def _activated(self, index: QModelIndex) -> None:
        self.open_requested.emit(str(index.data(LibraryModel.PathRole)))

    def _open_external(self, paths: list[str]) -> None:
        for path in paths:
            self.open_external_requested.emit(path)

    def _context_menu(self, position: QPoint) -> None:
        paths = self.selected_paths()
        if not paths:
            return
        menu = QMenu(self)
        menu.addAction("Show", lambda: self.open_requested.emit(paths[0]))
        menu.addAction("Open in default app", lambda: self._open_external(paths))
        menu.addAction("Re-scan", lambda: self.rescan_requested.emit(paths))
        menu.addAction("Forget", lambda: self.forget_requested.emit(paths))
        menu.popup(self.view.viewport().mapToGlobal(position))


class _EmptyLibrary(QWidget):
    """What an empty library shows: an invitation to drop folders, and a button for those who don't drag."""

    def __init__(self) -> None:
        super().__init__()
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel("<p><b>Your library is empty.</b></p>"
                      "<p>Drop folders or files anywhere on this window to add them, "
                      f"or choose a folder. {format_names()} files are read; "
                      "nothing leaves this computer.</p>")
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.add_folder = QPushButton("Add a folder…")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(icon)
        layout.addWidget(text)
        layout.addWidget(self.add_folder, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
