"""The main window: it only builds and wires the panels (library, conversations, chat, viewer, progress)."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QMimeData, QObject, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QResizeEvent,
    QShortcut,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.api import (
    DEFAULT_COLLECTION,
    Engine,
    HushdocsError,
    Settings,
    check_library,
    file_patterns,
    gpu_offload_supported,
    offered_embedding_models,
    paths,
)
from ui import dialogs
from ui.chat_panel import ChatPanel
from ui.conversations_panel import ConversationsPanel
from ui.embedder_switch import EmbedderSwitch, SwitchStatus
from ui.first_run import FirstRunPage
from ui.indexing import IndexingController, connect_views
from ui.library_panel import LibraryPanel
from ui.notice import NoticeBar
from ui.progress_strip import ProgressStrip
from ui.settings_dialog import SearchModelChoice, SearchModels, SettingsDialog
from ui.source_viewer import SourceViewer
from ui.theme import app_icon
from ui.workers import OpRunner, Throttle, WorkerPool

log = logging.getLogger(__name__)

NARROW_WINDOW = 1000  # px: narrower than this, an open viewer takes the library's place
CHAT_SHARE = 0.45  # of the width beside the library, when the viewer opens


def window_settings() -> QSettings:
    """Window geometry lives beside the app's settings (so HUSHDOCS_HOME moves it too)."""
    return QSettings(str(paths.settings_dir() / "window.ini"), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    model_ready = Signal()  # the chat model is loaded: the first answer can start at once
    model_failed = Signal(str)
    closed = Signal()  # the person closed the window (Quit, the close button, a termination signal)
    SHUTDOWN_WAIT_S = 3.0  # closing waits this long for the workers to stop

    def __init__(self, engine: Engine | None = None, *, watch: bool = True, preload: bool = True,
                 close_engine: bool = True) -> None:
        super().__init__()
        self.engine = engine or Engine()
        self._close_engine = close_engine
        self._closed = False
        self._workers_ended = True
        self.gpu_supported: bool | None = None
        self._pending_collection: str | None = None  # a new collection to show once it exists
        self.setWindowTitle("Hushdocs")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 800)

        # A worker's database connection closes as its work ends: connections never pile up.
        self.pool = WorkerPool(self, on_thread_end=self.engine.release_connection)
        self.pool.crashed.connect(lambda details: dialogs.show_crash(self, details))
        self.indexing = IndexingController(self.engine, self.pool, self)

        self.ops = OpRunner(self, on_thread_end=self.engine.release_connection)  # conversation writes, in order
        self.library = LibraryPanel(self.engine)
        self.conversations = ConversationsPanel(self.engine, self.ops)
        self.chat = ChatPanel(self.engine, self.pool, self.ops)
        self.viewer = SourceViewer(self.pool, self.engine.settings.max_file_mb * 1024 * 1024,
                                   passwords=self.engine.passwords)
        self.viewer.hide()
        self.progress = ProgressStrip()
        self.notice = NoticeBar()
        self.first_run = FirstRunPage()

        self.left = QSplitter(Qt.Orientation.Vertical)
        self.left.addWidget(self.library)
        self.left.addWidget(self.conversations)
        self.left.setStretchFactor(0, 3)
        self.left.setStretchFactor(1, 2)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(self.chat)
        self.splitter.addWidget(self.viewer)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([300, 640, 520])
        self.splitter.setChildrenCollapsible(False)
        self._library_auto_hidden = False  # the viewer took the library's place in a narrow window
        self.viewer.installEventFilter(self)  # its showing and hiding rearrange the panes

        main = QWidget()
        main_layout = QVBoxLayout(main)
        main_layout.setContentsMargins(0, 0, 0, 0)
        main_layout.setSpacing(0)
        main_layout.addWidget(self.notice)
        main_layout.addWidget(self.splitter, 1)
        main_layout.addWidget(self.progress)
        self.pages = QStackedWidget()
        self.pages.addWidget(main)
        self.pages.addWidget(self.first_run)
        self.setCentralWidget(self.pages)
        self.embedder_switch = EmbedderSwitch(self.engine, self.pool, self)
        self.switch_status = SwitchStatus()
        self.statusBar().addPermanentWidget(self.switch_status)
        self.model_status = QLabel()
        self.statusBar().addPermanentWidget(self.model_status)

        self._wire()
        self._build_menus()
        self._restore_geometry()
        if self._check_models() and preload:
            self.preload_model()
        if watch and self.pages.currentIndex() == 0:
            self._follow_folders()

    # -- wiring ---------------------------------------------------------------------------------

    def _wire(self) -> None:
        refresh = Throttle(self._refresh_library, 200, self)  # indexing events arrive far faster than 5 Hz
        self._refresh_throttle = refresh
        self.indexing.library_changed.connect(refresh)
        self.indexing.progress.connect(self.progress.update_progress)
        self.indexing.progress.connect(lambda _event: refresh())
        self.indexing.error.connect(self.notice.show_message)
        self.indexing.job_finished.connect(lambda _event: refresh.flush())
        self.progress.cancel_requested.connect(self.indexing.cancel)
        connect_views(self.indexing, self.library, self.progress)  # Resume, Index again, Enter password…

        self.library.add_folder_requested.connect(self.choose_folder)
        self.library.add_files_requested.connect(self.choose_files)
        self.library.new_collection_requested.connect(self.new_collection)
        self.library.forget_requested.connect(self.forget)
        self.library.rescan_requested.connect(lambda targets: self.indexing.rescan(targets, self.library.collection()))
        self.library.delete_collection_requested.connect(self.delete_collection)
        self.library.open_requested.connect(self.viewer.show_document)
        self.library.open_external_requested.connect(
            lambda path: QDesktopServices.openUrl(QUrl.fromLocalFile(path)))

        self.chat.has_documents = self._has_documents
        self.chat.citation_clicked.connect(self.viewer.show_citation)
        self.chat.conversation_started.connect(self.conversations.select)
        self.chat.error.connect(self.notice.show_message)
        self.chat.busy_changed.connect(
            lambda busy: self.statusBar().showMessage("Answering…" if busy else "", 0 if busy else 2000))
        self.conversations.selected.connect(self.chat.load_conversation)
        self.conversations.new_requested.connect(self.new_chat)
        self.conversations.renamed.connect(self._conversation_renamed)
        self.conversations.deleted.connect(self._conversation_deleted)
        self.viewer.error.connect(self.notice.show_message)
        self.first_run.retry_requested.connect(self._retry_models)
        self.first_run.settings_requested.connect(self.open_settings)
        self.embedder_switch.started.connect(self.switch_status.begin)
        self.embedder_switch.progress.connect(self.switch_status.update_progress)
        self.embedder_switch.ended.connect(self.switch_status.end)
        self.embedder_switch.error.connect(self.notice.show_message)
        self.switch_status.cancel_requested.connect(self.embedder_switch.cancel)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Add &folder…", self.choose_folder, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Add fi&les…", self.choose_files, "Ctrl+Shift+O")
        self._action(file_menu, "New &collection…", self.new_collection)
        self._action(file_menu, "&Re-scan library", lambda: self.indexing.rescan(None, None), "F5")
        file_menu.addSeparator()
        self._action(file_menu, "&Settings…", self.open_settings, QKeySequence.StandardKey.Preferences, "Ctrl+,")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit, "Ctrl+Q")
        chat_menu = self.menuBar().addMenu("&Chat")
        self._action(chat_menu, "&New chat", self.new_chat, QKeySequence.StandardKey.New)
        self._action(chat_menu, "&Stop answer", self.chat.stop)
        self._action(chat_menu, "&Export conversation…", self._export_current, "Ctrl+E")
        view_menu = self.menuBar().addMenu("&View")
        self.library_action = self._action(view_menu, "&Library and conversations", self.toggle_library,
                                           "Ctrl+Shift+L")
        self.library_action.setCheckable(True)
        self.library_action.setChecked(True)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "Open &log folder", lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(paths.logs_dir()))))
        self._action(help_menu, "&About Hushdocs", self._about)
        stop = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        stop.setContext(Qt.ShortcutContext.WindowShortcut)
        stop.activated.connect(self.chat.stop)

    def _action(self, menu: QMenu, text: str, slot: Callable[[], object],
                shortcut: QKeySequence.StandardKey | str | None = None, fallback: str = "") -> QAction:
        action = QAction(text, self)
        if isinstance(shortcut, QKeySequence.StandardKey):
            # The platform's own keys; some platforms define none (Quit on plain X11), hence the fallback.
            bindings = QKeySequence.keyBindings(shortcut) or ([QKeySequence(fallback)] if fallback else [])
            action.setShortcuts(bindings)
        elif shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # -- models ---------------------------------------------------------------------------------

    def _check_models(self) -> bool:
        message = self.engine.missing_models()
        if message:
            self.show_first_run(message)
            return False
        self.pages.setCurrentIndex(0)
        return True

    def show_first_run(self, message: str) -> None:
        self.first_run.set_reason(message)
        self.pages.setCurrentWidget(self.first_run)
        self.model_status.setText("Models missing")

    def _retry_models(self) -> None:
        if self._check_models():
            self._follow_folders()
            self.preload_model()

    def _follow_folders(self) -> None:
        """Watch the library's folders, and first catch up with what changed while the app was closed (files
        added, edited or deleted; documents read by an older reader). Unchanged files cost one stat each. A search
        model switch that was stopped goes on."""
        self.indexing.start_watching()
        if self.engine.has_folders():
            self.indexing.rescan()
        self.embedder_switch.resume_stopped()

    def preload_model(self) -> None:
        """Load the embedder and the chat model in a worker, so the first answer starts at once."""
        engine = self.engine
        self.model_status.setText("Loading the chat model…")

        def run(_stop: threading.Event) -> bool:
            engine.embedder()
            engine.generator()
            return gpu_offload_supported()

        def ready(gpu: bool) -> None:
            self.gpu_supported = gpu
            self.model_status.setText(f"Chat model ready: {engine.chat_model_title()}")
            self.model_ready.emit()

        def failed(message: str) -> None:
            self.model_status.setText("Chat model not loaded")
            if engine.missing_models():
                self.show_first_run(message)
            else:
                self.notice.show_message(message)
            self.model_failed.emit(message)

        self.pool.start(run, name="model preload", on_result=ready, on_error=failed)

    def apply_settings(self, new: Settings) -> None:
        wanted_library = new.database_url
        if wanted_library != self.engine.settings.database_url:
            # saved once it is reached (change_library); until then the library in use stays
            new = dataclasses.replace(new, database_url=self.engine.settings.database_url)
            self.change_library(wanted_library)
        if not self.engine.apply_settings(new):
            return
        missing = self.engine.missing_models()
        if missing:
            self.notice.show_message(missing)
            return
        engine = self.engine
        self.model_status.setText("Loading the chat model…")
        self.pool.start(lambda _stop: engine.reload_generator(), name="model reload",
                        on_result=lambda _none: self.preload_model(), on_error=self.notice.show_message)

    def change_library(self, url: str) -> None:
        """Check the library ``url`` names in a worker ("": this computer's file), then work on it; a library that
        cannot be used is named with the reason, and the one in use stays."""
        def use(_none: object) -> None:
            if self._closed:
                return
            self.chat.stop()
            self.indexing.cancel()
            self.engine.use_library(url)
            self.engine.apply_settings(dataclasses.replace(self.engine.settings, database_url=url))
            self.chat.new_chat()
            self.conversations.refresh()
            self._after_library_change()
            if self.pages.currentIndex() == 0:
                self._follow_folders()
            place = self.engine.library.place
            self.notice.show_message(f"The library is now the team library {place}." if url
                                     else f"The library is now this computer's own file, {place}.", error=False)

        def refused(reason: str) -> None:
            self.notice.show_message(f"The library was not changed: {reason}")

        self.pool.start(lambda _stop: check_library(url) if url else None, name="library check",
                        on_result=use, on_error=refused)

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.engine.settings, self.gpu_supported, self, search=self._search_models())
        dialog.forget_everything_requested.connect(self.forget_everything)
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            self.apply_settings(dialog.values())
            self.switch_search_model(dialog.chosen_search_model())
            if self.pages.currentWidget() is self.first_run:
                self._retry_models()

    def _search_models(self) -> SearchModels | None:
        """What Settings' Search model row offers; None where this library cannot switch (the row is left out)."""
        try:
            choices = [SearchModelChoice(model, *self.engine.switch_cost(model.name))
                       for model in offered_embedding_models()]
            return SearchModels(self.engine.embedding_state(), self.embedder_switch.target(), choices)
        except HushdocsError as error:
            log.info("no search model choice in Settings: %s", error)
            return None

    def switch_search_model(self, chosen: str | None) -> None:
        """Re-embed with the search model chosen in Settings, unless it is in use or being switched to already."""
        if chosen is None or chosen == self.embedder_switch.target():
            return
        state = self.engine.embedding_state()
        if chosen != state.current or state.target is not None:
            self.embedder_switch.start(chosen)

    def offer_chat_model(self, path: str) -> None:
        if dialogs.ask_yes_no(self, "Use this chat model?",
                              f"Use {os.path.basename(path)} to write answers?\n\nThe file stays where it is."):
            self.apply_settings(dataclasses.replace(self.engine.settings, chat_model=path))

    # -- library --------------------------------------------------------------------------------

    def add_paths(self, paths_: list[str], collection: str | None = None) -> None:
        if not paths_:
            return
        target = collection or self.library.collection() or DEFAULT_COLLECTION
        self.indexing.add(paths_, target)
        self.statusBar().showMessage(f"Adding {len(paths_)} item{'s' if len(paths_) != 1 else ''} to {target}…",
                                     4000)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder", str(Path.home()))
        if folder:
            self.add_paths([folder])

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add files", str(Path.home()),
                                                f"Documents ({' '.join(file_patterns())});;All (*)")
        self.add_paths(files)

    def new_collection(self) -> None:
        name, ok = QInputDialog.getText(self, "New collection", "Name of the new collection:")
        if not ok or not name.strip():
            return
        folder = QFileDialog.getExistingDirectory(self, f"Choose a folder for {name.strip()}", str(Path.home()))
        if folder:
            self.add_paths([folder], name.strip())
            self._pending_collection = name.strip()
        else:  # an empty collection: folders can be dropped on it later
            self.engine.create_collection(name.strip())
            self._after_library_change()

    def forget(self, paths_: list[str]) -> None:
        names = ", ".join(os.path.basename(p) for p in paths_[:3]) + ("…" if len(paths_) > 3 else "")
        if dialogs.ask_yes_no(self, "Forget documents",
                              f"Remove {names} from the index? The files themselves are not touched."):
            self.indexing.forget(paths_)

    def delete_collection(self, name: str) -> None:
        if not dialogs.ask_yes_no(self, "Delete collection",
                                  f"Remove the collection “{name}” and its index? Your files are not touched."):
            return
        engine = self.engine
        self.pool.start(lambda _stop: engine.delete_collection(name), name="delete collection",
                        on_result=lambda _none: self._after_library_change(), on_error=self.notice.show_message)

    def forget_everything(self) -> None:
        engine = self.engine
        self.chat.stop()
        self.indexing.cancel()

        def run(_stop: threading.Event) -> None:
            engine.forget_everything()

        def done(_none: object) -> None:
            self.chat.new_chat()
            self.conversations.refresh()
            self._after_library_change()
            self.notice.show_message("Everything was forgotten: the library and all conversations.", error=False)

        self.pool.start(run, name="forget everything", on_result=done, on_error=self.notice.show_message)

    def _after_library_change(self) -> None:
        self.library.set_collection(None)
        self._refresh_library()

    def _refresh_library(self) -> None:
        if self._closed:
            return
        self.library.set_pending(self.indexing.pending, self.indexing.current)
        self.library.refresh()
        wanted = self._pending_collection
        if wanted and self.library.collections.findData(wanted) >= 0:
            self._pending_collection = None
            self.library.set_collection(wanted)

    def _has_documents(self) -> bool:
        return self.engine.has_documents(self.chat.scope())

    # -- conversations --------------------------------------------------------------------------

    def new_chat(self) -> None:
        self.chat.new_chat()
        self.conversations.select(None)
        self.viewer.clear()  # the last chat's source is not this one's

    def _conversation_renamed(self, conversation_id: int, title: str) -> None:
        if self.chat.conversation_id == conversation_id:
            self.chat.set_title(title)

    def _conversation_deleted(self, conversation_id: int) -> None:
        if self.chat.conversation_id == conversation_id:
            self.chat.new_chat()

    def _export_current(self) -> None:
        if self.chat.conversation_id is not None:
            self.conversations.export(self.chat.conversation_id)

    # -- drag and drop --------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def handle_drop(self, mime: QMimeData) -> bool:
        """Folders and files join the current collection; a .gguf is offered as the chat model."""
        dropped = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        models = [p for p in dropped if p.lower().endswith(".gguf") and os.path.isfile(p)]
        documents = [p for p in dropped if p not in models]
        if models:
            self.offer_chat_model(models[0])
        self.add_paths(documents)
        return bool(dropped)

    # -- panes ----------------------------------------------------------------------------------

    def toggle_library(self) -> None:
        self._library_auto_hidden = False  # the person's choice stands until they change it
        self.left.setVisible(not self.left.isVisibleTo(self))
        self.library_action.setChecked(self.left.isVisibleTo(self))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.viewer and event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            self._arrange_panes(viewer_opened=event.type() == QEvent.Type.Show)
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._arrange_panes(viewer_opened=False)

    def _arrange_panes(self, *, viewer_opened: bool) -> None:
        """In a narrow window an open viewer takes the library's place (View ▸ Library brings it back), and
        closing the viewer or widening the window gives it back; a viewer that opens gets a fair share."""
        viewer_open = self.viewer.isVisibleTo(self)
        narrow = self.width() < NARROW_WINDOW
        if viewer_open and narrow and self.left.isVisibleTo(self) and not self._library_auto_hidden:
            if viewer_opened:  # only when it opens: a library the person brought back stays
                self.left.hide()
                self._library_auto_hidden = True
                self.statusBar().showMessage("The library makes room for the viewer: View ▸ Library and "
                                             "conversations (Ctrl+Shift+L) brings it back.", 8000)
        elif self._library_auto_hidden and not (viewer_open and narrow):
            self.left.show()
            self._library_auto_hidden = False
        self.library_action.setChecked(self.left.isVisibleTo(self))
        if viewer_opened:
            QTimer.singleShot(0, self, self._share_with_viewer)  # once the splitter has laid out the change

    def _share_with_viewer(self) -> None:
        sizes = self.splitter.sizes()
        left = sizes[0] if self.left.isVisibleTo(self) else 0
        rest = sum(sizes) - left
        chat = max(self.chat.minimumSizeHint().width(), int(rest * CHAT_SHARE))
        self.splitter.setSizes([left, chat, max(0, rest - chat)])

    # -- window state ---------------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        settings = window_settings()
        for key, restore in (("geometry", self.restoreGeometry), ("state", self.restoreState),
                             ("splitter", self.splitter.restoreState), ("left", self.left.restoreState)):
            value = settings.value(key)
            if isinstance(value, QByteArray):
                restore(value)

    def _save_geometry(self) -> None:
        if self._library_auto_hidden:  # saved as the person left it, not as the viewer borrowed it
            self.left.show()
        settings = window_settings()
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("state", self.saveState())
        settings.setValue("splitter", self.splitter.saveState())
        settings.setValue("left", self.left.saveState())
        settings.sync()

    def _about(self) -> None:
        QMessageBox.about(self, "About Hushdocs",
                          "<h3>Hushdocs</h3><p>Private, offline question answering over your own documents.</p>"
                          f"<p>{self.engine.privacy_note()} Licensed under the GNU AGPL v3 or later.</p>")

    def bring_to_front(self) -> None:
        """A second launch asked for this window: show it, restored if minimised, in front and focused."""
        if self._closed:
            return
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.show()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.hide()  # the window goes at once; waiting for the workers happens behind it
        event.accept()
        self.closed.emit()
        self.shutdown()

    def shutdown(self) -> bool:
        """Stop every worker and the watcher, save the window's state, then close the engine.

        Waits at most ``SHUTDOWN_WAIT_S`` for the workers. Returns False when some are still running (stuck on a
        file or a long prompt): the engine is then left open under them and the caller ends the process."""
        if self._closed:
            return self._workers_ended
        self._closed = True
        self._save_geometry()
        self.chat.stop()
        self.indexing.cancel()
        self.indexing.stop_watching()
        deadline = time.monotonic() + self.SHUTDOWN_WAIT_S
        self._workers_ended = self.pool.shutdown(_ms_until(deadline)) and self.ops.shutdown(_ms_until(deadline))
        if not self._workers_ended:
            log.warning("closing: still running after %.0f s: %s", self.SHUTDOWN_WAIT_S,
                        ", ".join(self.pool.running()) or "a conversation write")
        elif self._close_engine:
            self.engine.close()
        return self._workers_ended


def _ms_until(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))
