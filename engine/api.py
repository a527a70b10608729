"""The engine's one door: ``ui/`` and ``cli/`` import this module and nothing else of ``engine/``.

``Engine`` does the work (library, watching, search, answers, conversations, models); the names
re-exported below are the records, errors and helpers its callers handle. An import-linter contract
(``[tool.importlinter]`` in pyproject.toml, run by ``bootstrap.py test``) keeps this the only door.

Threading (ARCHITECTURE.md has the whole table): every thread gets its own database connection,
closed when that thread's work ends (``release_connection``) or at ``close``; indexing runs under one
write lock; the embedder and the chat model each load once, under locks of their own, so a sync never
waits for the chat model. Long work is a plain generator the caller drives; a ``threading.Event``
stops it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import apsw

from engine import __version__, model_files, offline, paths
from engine.durations import format_duration
from engine.embedding.choice import (
    EMBEDDING_MODELS,
    MINILM_NAME,
    EmbeddingModel,
    embedding_model,
    load_embedder,
    offered_embedding_models,
)
from engine.embedding.embedder import Embedder, default_embedder_kernels
from engine.errors import HushdocsError, ModelMissingError
from engine.filenames import printable
from engine.formats import FORMATS, Format, file_patterns, format_names, is_paged, is_supported
from engine.generation.answer import Answer, Answerer, AnswerEvent
from engine.generation.llm import Generator, GeneratorOptions, LlamaGenerator, gpu_offload_supported
from engine.generation.models import (
    TIERS,
    catalogue_model_for,
    expected_answer_seconds,
    offered_chat_models,
    resolve_chat_model,
)
from engine.generation.prompt import answer_messages
from engine.generation.remote import AnswerServerError, RemoteGenerator, ServerAddress
from engine.history import HISTORY_TURNS
from engine.ingest.reembed import ReembedProgress, SwitchState, reembed, switch_state
from engine.ingest.status import (
    EMPTY,
    FAILED,
    INDEXED,
    INDEXED_OCR,
    NEEDS_OCR,
    NEEDS_PASSWORD,
    PROBLEM_STATUSES,
    SKIPPED,
    LoadError,
)
from engine.ingest.sync import FileOutcome, Indexer, IndexProgress
from engine.ingest.watcher import FolderWatcher
from engine.library import (
    DATABASE_ENV,
    LIBRARY_SERVER,
    Connection,
    Library,
    Searcher,
    check_library,
    copy_library,
    open_library,
)
from engine.library import database_url as choose_database_url
from engine.logs import install_crash_logging, setup_logging
from engine.models_catalogue import CATALOGUE, EMBEDDER, TOKENIZER, CatalogueModel, by_name, chat_models
from engine.page_render import ACTUAL_SIZE, MAX_ZOOM, MIN_ZOOM, FitMode, LoadedText, PageView, RenderedPage, render_page
from engine.records import Citation, Collection, DocumentRecord, Exclusion, Hit, Quote
from engine.render_process import RenderProcess
from engine.retrieval.keyword_thread import KeywordThread
from engine.retrieval.search import FUSIONS, Fusion, Scope, SearchMode, scope_names
from engine.sandbox import CallCancelledError
from engine.selftest import Check, run_self_test
from engine.settings import ANSWER_SOURCES, Settings
from engine.store.conversations import Conversation, Message
from engine.store.index_store import DEFAULT_COLLECTION
from engine.store.interface import ConversationLog, LibraryStore
from engine.store.postgres.progress import CopyProgress
from engine.watch_syncs import SyncQueue

__all__ = [
    "ACTUAL_SIZE",
    "ANSWER_SOURCES",
    "CATALOGUE",
    "DATABASE_ENV",
    "DEFAULT_COLLECTION",
    "EMBEDDER",
    "EMBEDDING_MODELS",
    "EMPTY",
    "FAILED",
    "FORMATS",
    "FUSIONS",
    "HISTORY_TURNS",
    "INDEXED",
    "INDEXED_OCR",
    "MAX_ZOOM",
    "MINILM_NAME",
    "MIN_ZOOM",
    "NEEDS_OCR",
    "NEEDS_PASSWORD",
    "PROBLEM_STATUSES",
    "SKIPPED",
    "TIERS",
    "Answer",
    "AnswerEvent",
    "AnswerServerError",
    "CallCancelledError",
    "CatalogueModel",
    "Check",
    "Citation",
    "Collection",
    "Conversation",
    "Conversations",
    "CopyProgress",
    "DocumentRecord",
    "EmbeddingModel",
    "Engine",
    "Exclusion",
    "FileOutcome",
    "FitMode",
    "Format",
    "Fusion",
    "Hit",
    "HushdocsError",
    "IndexProgress",
    "LoadError",
    "LoadedText",
    "Message",
    "ModelMissingError",
    "PageView",
    "Quote",
    "ReembedProgress",
    "RenderProcess",
    "RenderedPage",
    "Scope",
    "SearchMode",
    "ServerAddress",
    "Settings",
    "SwitchState",
    "__version__",
    "by_name",
    "catalogue_model_for",
    "chat_models",
    "check_library",
    "default_embedder_kernels",
    "embedding_model",
    "expected_answer_seconds",
    "file_patterns",
    "format_duration",
    "format_names",
    "generator_options",
    "gpu_offload_supported",
    "install_crash_logging",
    "is_paged",
    "is_supported",
    "missing_models_message",
    "model_files",
    "offered_chat_models",
    "offered_embedding_models",
    "paths",
    "printable",
    "render_page",
    "run_self_test",
    "setup_logging",
]

log = logging.getLogger(__name__)

# A question longer than this is a pasted document, not a question: it would crowd the passages out of the
# chat model's window (and overflow it) before any answer could start.
MAX_QUESTION_CHARS = 4000
ANSWER_SERVER = "answer server"  # the network seal's name for the one host answers may come from


def generator_options(settings: Settings) -> GeneratorOptions:
    """How the settings load the chat model."""
    return GeneratorOptions(n_ctx=settings.context_size, n_threads=settings.effective_threads(),
                            n_gpu_layers=settings.gpu_layers)


def missing_models_message(settings: Settings) -> str:
    """Why answers cannot start yet (a quick file check, nothing is loaded), or "" when every model is there."""
    try:
        for model in (EMBEDDER, TOKENIZER):
            model_files.find(model)
        if settings.answers_from == "server":
            ServerAddress.parse(settings.server_url)  # the embedder stays here; the chat model is the server's
        else:
            resolve_chat_model(settings.chat_model)
    except HushdocsError as error:
        return str(error)
    return ""


class Conversations:
    """The saved conversations. Bound to no thread: every call runs on the calling thread's own connection."""

    def __init__(self, store: Callable[[], ConversationLog]) -> None:
        self._store = store

    def all(self) -> list[Conversation]:
        """Most recently updated first."""
        return self._store().all()

    def search(self, text: str) -> list[Conversation]:
        """The conversations whose title or messages hold every word of ``text``, most recently updated first."""
        return self._store().search(text)

    def get(self, conversation_id: int) -> Conversation | None:
        return self._store().get(conversation_id)

    def count(self) -> int:
        return self._store().count()

    def messages(self, conversation_id: int) -> list[Message]:
        return self._store().messages(conversation_id)

    def create(self, title: str = "New chat", collections: Sequence[str] | None = None) -> Conversation:
        """A new conversation searching ``collections`` (None: every collection)."""
        return self._store().create(title, collections)

    def set_collections(self, conversation_id: int, collections: Sequence[str] | None) -> None:
        self._store().set_collections(conversation_id, collections)

    def rename(self, conversation_id: int, title: str) -> None:
        self._store().rename(conversation_id, title)

    def delete(self, conversation_id: int) -> None:
        self._store().delete(conversation_id)

    def add_message(self, conversation_id: int, role: str, content: str, citations: list[Citation] | None = None,
                    *, stopped: bool = False, notice: str = "", closest: list[Citation] | None = None) -> Message:
        """A message; for an answer, also how it ended (stopped, a decline's notice and closest passages)."""
        return self._store().add_message(conversation_id, role, content, citations, stopped=stopped, notice=notice,
                                         closest=closest)

    def delete_last_answer(self, conversation_id: int) -> None:
        """Drop the last answer (before asking its question again)."""
        self._store().delete_last_answer(conversation_id)

    def export_markdown(self, conversation_id: int) -> str:
        return self._store().export_markdown(conversation_id)


class Engine:
    def __init__(self, settings: Settings | None = None, *, database: Path | None = None,
                 database_url: str | None = None, embedder: Embedder | None = None,
                 generator: Generator | None = None) -> None:
        """``database``: the SQLite file (default: the data home's); ``database_url``: a team library on PostgreSQL
        instead (default: ``HUSHDOCS_DATABASE_URL``, else the ``database_url`` setting, else none)."""
        self.settings = settings or Settings.load()
        self.database = database or paths.database_path()
        self.library: Library = open_library(choose_database_url(self.settings.database_url, database_url),
                                             self.database, paths.data_dir())
        self._local = threading.local()
        self._embedder = embedder
        self._generator = generator
        self._embedder_lock = threading.Lock()
        self._generator_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._watcher: FolderWatcher | None = None
        self._watch_syncs: SyncQueue | None = None
        # Passwords of encrypted files given in this session (path -> password): memory only, never stored or
        # logged; read and changed by indexing, under the write lock.
        self._passwords: dict[str, str] = {}
        self.passwords: Mapping[str, str] = MappingProxyType(self._passwords)  # read-only, for the viewer's child
        self._connections: list[Connection] = []
        self._connections_lock = threading.Lock()
        self._keyword_thread: KeywordThread | None = None  # hybrid search's keyword lists, and their connection
        self._conversations = Conversations(lambda: self.library.conversation_store(self._connection()))
        self._closed = False

    # -- resources (engine-internal: nothing outside engine/ holds a connection or a store) ----------

    def _connection(self) -> Connection:
        """This thread's connection (opened on first use)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.library.connect()
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _store(self) -> LibraryStore:
        return self.library.index_store(self._connection())

    def _local_connection(self, what: str) -> apsw.Connection:
        """This thread's connection to the SQLite file, for what only a local library does yet."""
        conn = self._connection()
        if not isinstance(conn, apsw.Connection):
            raise HushdocsError(f"{what} is not done in a team library on PostgreSQL yet: a team library keeps the "
                                "embedding model it was built with")
        return conn

    def release_connection(self) -> None:
        """Close the calling thread's connection: its work is done (a worker calls this as it ends).
        The thread's next call opens a new one."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._connections_lock:
            if conn in self._connections:
                self._connections.remove(conn)
        conn.close()

    def open_connections(self) -> int:
        """Database connections open now: one per thread whose work is under way, and the GUI thread's."""
        with self._connections_lock:
            return len(self._connections)

    def embedder(self) -> Embedder:
        """The embedding model the index was built with (MiniLM for a new one), loaded once."""
        with self._embedder_lock:
            if self._embedder is None:
                recorded, _dim = self._store().embedder_info()
                self._embedder = load_embedder(recorded or MINILM_NAME, threads=self.settings.effective_threads())
            return self._embedder

    def embedding_state(self) -> SwitchState:
        """The model the index searches with, and a switch to another one under way or stopped."""
        conn = self._connection()
        if not isinstance(conn, apsw.Connection):  # a team library keeps the model it was built with
            recorded, _dim = self._store().embedder_info()
            return SwitchState(recorded or MINILM_NAME, None, 0, self._store().counts()["chunks"])
        return switch_state(conn)

    def switch_cost(self, name: str) -> tuple[int, float]:
        """Switching to model ``name`` (or its short name): the chunks to embed, and about how many seconds here."""
        model = embedding_model(name)
        chunks = self.embedding_state().chunks_to_embed(model.name)
        return chunks, model.expected_seconds(chunks, self.settings.effective_threads())

    def switch_embedder(self, name: str, cancel: threading.Event | None = None) -> Iterator[ReembedProgress]:
        """Re-embed the library with model ``name`` (or its short name) from the stored chunks (no file is read),
        yielding progress; stopped, the next call goes on where it was. Searches use the old model until the last
        chunk is done."""
        name = embedding_model(name).name
        with self._write_lock:
            new = load_embedder(name, threads=self.settings.effective_threads())
            for step in reembed(self._local_connection("switching the embedding model"), new, cancel):
                if step.finished:
                    with self._embedder_lock:
                        self._embedder = new
                yield step

    def chat_model_path(self) -> Path:
        offload = self.settings.gpu_layers != 0 and gpu_offload_supported()
        return resolve_chat_model(self.settings.chat_model, gpu_offload=offload)

    def chat_model_title(self) -> str:
        """The chat model as Settings names it ("Qwen2.5-Coder-0.5B-Instruct"), or its file name; for a server, its
        model and where it is, the only computer contacted."""
        if self.settings.answers_from == "server":
            loaded = self._generator
            served = loaded.name if isinstance(loaded, RemoteGenerator) else self.settings.server_model or "the model"
            return f"{served} on the server {self._server_place()}, the only computer Hushdocs contacts"
        path = self.chat_model_path()
        model = next((m for m in CATALOGUE if m.role == "chat" and m.file_name == path.name), None)
        return model.title.split(" (")[0] if model else path.name

    def privacy_note(self) -> str:
        """What leaves this computer, in one sentence for the window's texts."""
        said = []
        if self.library.is_shared:
            said.append("Documents' text and vectors, and your conversations, are kept in the team library "
                        f"{self.library.place}")
        if self.settings.answers_from == "server":
            said.append("questions and the passages they are answered from go to the answer server "
                        f"{self._server_place()}")
        if not said:
            return "Nothing leaves this computer."
        sentence = "; ".join(said)
        return f"{sentence[0].upper()}{sentence[1:]}; nothing else leaves this computer."

    def _server_place(self) -> str:
        """The configured answer server as host:port, or the setting as written when it is not an address."""
        try:
            return ServerAddress.parse(self.settings.server_url).netloc
        except HushdocsError:
            return repr(self.settings.server_url)

    def missing_models(self) -> str:
        """Why answers cannot start with the current settings, or "" when every model file is there."""
        return missing_models_message(self.settings)

    def generator(self) -> Generator:
        """The chat model, loaded on first use (seconds; call it from a worker thread); or the answer server,
        asked what it offers, when Settings say so (the network seal then lets this process reach it)."""
        with self._generator_lock:
            if self._generator is None:
                self._generator = self._remote_generator() if self.settings.answers_from == "server" else (
                    self._local_generator())
            return self._generator

    def _local_generator(self) -> LlamaGenerator:
        generator = LlamaGenerator(self.chat_model_path(), generator_options(self.settings))
        # The system prompt is the same for every question: evaluate it now, not on the first question.
        generator.prefill(answer_messages("", []))
        return generator

    def _remote_generator(self) -> RemoteGenerator:
        address = ServerAddress.parse(self.settings.server_url)
        offline.allow(ANSWER_SERVER, (address.host, address.port))
        return RemoteGenerator(address, model=self.settings.server_model, api_key=self.settings.server_api_key,
                               default_n_ctx=self.settings.context_size)

    def generator_loaded(self) -> bool:
        return self._generator is not None

    def reload_generator(self) -> None:
        """Forget the loaded chat model (after a settings change); the next question loads the new one."""
        with self._generator_lock:
            if self._generator is not None:
                self._generator.close()
            self._generator = None
            offline.allow(ANSWER_SERVER, None)  # the next load allows the server the settings name, if any

    # -- settings -------------------------------------------------------------------------------

    def apply_settings(self, new: Settings) -> bool:
        """Save and use ``new``; True when the chat model must be loaded again (``reload_generator``)."""
        old, self.settings = self.settings, new
        new.save()
        return new.needs_model_reload(old)

    # -- library --------------------------------------------------------------------------------

    def use_library(self, url: str) -> None:
        """Work on the library ``url`` names from now on ("": the data home's own file), as Settings' Library row
        chooses it (``check_library`` first). Call from the thread that holds the engine's long-lived connection
        (the GUI's), with no indexing under way: the watcher stops, that connection closes, and each worker's
        closes as its work ends."""
        with self._write_lock:
            self.stop_watching()
            self.release_connection()
            self._stop_keyword_list_thread()
            if self.library.is_shared:
                offline.allow(LIBRARY_SERVER, None)
            self.library = open_library(url, self.database, paths.data_dir())
            recorded, _dim = self._store().embedder_info()
            with self._embedder_lock:
                if self._embedder is not None and recorded and recorded != self._embedder.name:
                    self._embedder = None  # that library was built with another model: loaded at first use

    def indexer(self) -> Indexer:
        return Indexer(self._store(), self.embedder(), max_file_bytes=self.settings.max_file_mb * 1024 * 1024,
                       parse_timeout_s=self.settings.parse_timeout_s, passwords=self._passwords,
                       shared=self.library.is_shared)

    def index(self, paths_: Sequence[Path | str], collection: str = DEFAULT_COLLECTION,
              cancel: threading.Event | None = None) -> Iterator[IndexProgress]:
        """Add folders or files to a collection and index them, yielding progress."""
        with self._write_lock:
            yield from self.indexer().add(paths_, collection, cancel)

    def sync(self, targets: Sequence[Path | str] | None = None, collection: str | None = None,
             cancel: threading.Event | None = None) -> Iterator[IndexProgress]:
        """Re-scan (all roots, or just ``targets``) and follow every change."""
        self._check_collection(collection)
        with self._write_lock:
            yield from self.indexer().sync(targets, collection, cancel)

    def forget(self, paths_: Sequence[Path | str]) -> int:
        """Remove every trace of these files or folders; inside a followed folder they stay excluded from it."""
        with self._write_lock:
            return self.indexer().forget(paths_)

    def include(self, paths_: Sequence[Path | str], cancel: threading.Event | None = None) -> Iterator[IndexProgress]:
        """Index again files or folders that were forgotten inside a followed folder, yielding progress."""
        with self._write_lock:
            yield from self.indexer().include(paths_, cancel)

    def exclusions(self, collection: str | None = None) -> list[Exclusion]:
        """Files and folders forgotten inside followed folders (left out of their scans)."""
        return self._store().exclusions(collection)

    def unlock(self, path: Path | str, password: str,
               cancel: threading.Event | None = None) -> Iterator[IndexProgress]:
        """Read an encrypted file with its password (kept in memory for this session only), yielding progress;
        a wrong password ends with the file still ``NEEDS_PASSWORD``, its reason saying so."""
        with self._write_lock:
            yield from self.indexer().unlock(path, password, cancel)

    def delete_collection(self, name: str) -> None:
        with self._write_lock:
            store = self._store()
            collection_id = store.collection_id(name, create=False)
            if collection_id is not None:
                store.delete_collection(collection_id)

    def create_collection(self, name: str) -> None:
        """An empty collection, ready for folders."""
        self._store().collection_id(name.strip())

    def migrate_to(self, url: str) -> Iterator[CopyProgress]:
        """Copy this data home's own library (its SQLite file: documents, chunks, vectors, collections, folders,
        conversations) into the team library at ``url``, without reading or embedding anything again; stopped or
        killed, the next call goes on where it was. The last event holds both sides' counts."""
        with self._write_lock:
            yield from copy_library(self.database, url, paths.data_dir())

    def forget_everything(self) -> None:
        """Every collection, document, vector and conversation: the index starts empty."""
        with self._write_lock:
            self._store().forget_everything()
        self.refresh_watches()

    def collections(self) -> list[Collection]:
        return self._store().collections()

    def documents(self, collection: str | None = None) -> list[DocumentRecord]:
        self._check_collection(collection)
        return self._store().documents(collection)

    def _check_collection(self, scope: Scope) -> None:
        """A plain error for a collection name that does not exist (a typo), instead of an empty result."""
        wanted = scope_names(scope)
        if not wanted:
            return
        names = [c.name for c in self.collections()]
        for name in wanted:
            if name not in names:
                raise HushdocsError(f"no collection named {name!r}; collections: {', '.join(names) or 'none yet'}")

    def has_folders(self) -> bool:
        """Whether any folder or file was ever added (there is something to follow)."""
        return bool(self._store().roots())

    def has_documents(self, collection: Scope = None) -> bool:
        """Whether anything is indexed (in ``collection``: one or several) to answer from: the rule answers use too."""
        return self.library.has_documents(self._connection(), collection)

    # -- watching -------------------------------------------------------------------------------

    def start_watching(self, on_progress: Callable[[IndexProgress], None] | None = None, *,
                       on_changes: Callable[[list[str]], None] | None = None,
                       on_error: Callable[[Exception], None] | None = None) -> None:
        """Follow changes in every collection's folders until ``stop_watching``.

        With ``on_changes``, each batch of changed paths goes to the caller (called on the watcher's thread),
        which queues ``sync(paths)`` with its own work: the app does. Without it, the engine syncs each batch
        on one thread of its own, progress to ``on_progress`` and failures to ``on_error`` (default: logged).
        """
        if on_changes is None:
            self._watch_syncs = SyncQueue(lambda batch, cancel: self._watch_sync(batch, cancel, on_progress),
                                          on_error or _log_watch_error)
            on_changes = self._watch_syncs.put
        hand_over = on_changes

        def changed(changed_paths: set[str]) -> None:
            if not self._closed:
                hand_over(sorted(changed_paths))

        if self._watcher is None:
            self._watcher = FolderWatcher(changed)
        self.refresh_watches()

    def _watch_sync(self, batch: list[str], cancel: threading.Event,
                    on_progress: Callable[[IndexProgress], None] | None) -> None:
        try:
            for event in self.sync(batch, cancel=cancel):
                if on_progress is not None:
                    on_progress(event)
        finally:
            self.release_connection()

    def refresh_watches(self) -> None:
        """Watch the current roots (call after adding or forgetting folders)."""
        if self._watcher is not None:
            roots = [root for _, root in self._store().roots()]
            self._watcher.watch([(r, True) if os.path.isdir(r) else (os.path.dirname(r), False) for r in roots])

    def stop_watching(self) -> None:
        """Stop the watcher; a sync of the engine's own is cancelled between files and joined."""
        if self._watcher is not None:
            self._watcher.stop()
        self._watcher = None
        if self._watch_syncs is not None:
            if not self._watch_syncs.stop():
                log.warning("a watcher sync did not stop in time")
            self._watch_syncs = None

    # -- questions ------------------------------------------------------------------------------

    def retriever(self) -> Searcher:
        searcher = self.library.searcher(self._connection(), self.embedder(), self.settings.fusion)
        searcher.keyword_thread = self._keyword_list_thread()
        return searcher

    def _keyword_list_thread(self) -> KeywordThread | None:
        """The thread hybrid searches run their keyword list on (started at first use), with a connection of its
        own to the current library; None once the engine is closed."""
        with self._connections_lock:
            if self._keyword_thread is None and not self._closed:
                library = self.library
                # The current embedder, read when a list runs: loaded by the search that queued it (a keyword list
                # does not use it), and never the one a model switch replaced. Not loaded here: embedder() may
                # take this lock through _connection(), so calling it under the lock could deadlock.
                self._keyword_thread = KeywordThread(
                    library.connect, lambda conn: library.searcher(conn, self.embedder(), self.settings.fusion))
            return self._keyword_thread

    def _stop_keyword_list_thread(self) -> None:
        with self._connections_lock:
            thread, self._keyword_thread = self._keyword_thread, None
        if thread is not None:
            thread.close()

    def search(self, query: str, k: int = 5, collection: str | None = None, mode: SearchMode = "hybrid",
               document_id: int | None = None) -> list[Hit]:
        self._check_collection(collection)
        return self.retriever().search(query, k=k, collection=collection, mode=mode, document_id=document_id)

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), collection: Scope = None,
            stop: threading.Event | None = None) -> Iterator[AnswerEvent]:
        """Stream a grounded answer from ``collection`` (one name, several, or None for all): status, tokens,
        then the final answer with its citations."""
        if len(question) > MAX_QUESTION_CHARS:
            raise HushdocsError(f"the question is too long ({len(question):,} characters; at most "
                                f"{MAX_QUESTION_CHARS:,}): ask about one thing at a time, the documents hold the rest")
        self._check_collection(collection)
        answerer = Answerer(self.retriever(), self.generator, self.settings)
        yield from answerer.ask(question, history=history, collection=collection, stop=stop)

    # -- conversations --------------------------------------------------------------------------

    def conversations(self) -> Conversations:
        return self._conversations

    # -- shutdown -------------------------------------------------------------------------------

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._passwords.clear()
        self.stop_watching()
        with self._generator_lock:
            if self._generator is not None:
                self._generator.close()
                self._generator = None
            offline.allow(ANSWER_SERVER, None)
        self._stop_keyword_list_thread()
        if self.library.is_shared:
            offline.allow(LIBRARY_SERVER, None)
        with self._connections_lock:
            # Worker threads' connections too: each is idle once its thread's work is done.
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local.conn = None


def _log_watch_error(error: Exception) -> None:
    if isinstance(error, HushdocsError):
        log.warning("watcher sync: %s", error)
    else:
        log.error("watcher sync failed", exc_info=error)
