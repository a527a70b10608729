"""The keyword list on a thread of its own, so that it runs while the query is embedded and the vector list is
searched: the two lists are independent until they are fused, and both libraries run them in C with the GIL
released (SQLite's FTS5 or the PostgreSQL server; ONNX Runtime and numpy). A connection is used by one thread
at a time, so the thread keeps a connection of its own, opened there at first use and closed by ``close``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol


class Closable(Protocol):
    def close(self) -> None: ...


class KeywordLister(Protocol):
    def keyword_ids(self, query: str, n: int, collection_ids: Sequence[int] | None = None,
                    document_id: int | None = None) -> list[tuple[int, float]]: ...


class KeywordThread:
    """Runs ``searcher_for(connection).keyword_ids(...)`` on its one thread, over a connection of that thread.

    A daemon thread: it only ever reads, so an engine never closed does not keep the process from exiting, and
    a long-lived engine's idle thread is not mistaken for work left running."""

    def __init__(self, connect: Callable[[], Closable],
                 searcher_for: Callable[[Closable], KeywordLister]) -> None:
        self._connect = connect
        self._searcher_for = searcher_for
        self._tasks: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._conn: Closable | None = None  # touched only on the thread
        self._closed = False
        self._lock = threading.Lock()  # nothing is queued after close's last task
        self._thread = threading.Thread(target=self._serve, name="hushdocs-keyword-list", daemon=True)
        self._thread.start()

    def keyword_ids(self, query: str, n: int, collection_ids: Sequence[int] | None = None,
                    document_id: int | None = None) -> Future[list[tuple[int, float]]] | None:
        """The keyword list, started now; ``.result()`` waits for it (and raises what it raised). None once
        closed (a search that began before the library changed): the caller lists them itself."""
        return self._submit(lambda: self._keyword_ids(query, n, collection_ids, document_id))

    def close(self) -> None:
        """Close the thread's connection (on that thread, after the lists already asked for) and end the thread."""
        last = self._submit(self._close_connection, last=True)
        if last is not None:
            last.result()
            self._thread.join()

    def _submit(self, task: Callable[[], Any], *, last: bool = False) -> Future[Any] | None:
        with self._lock:
            if self._closed:
                return None
            future: Future[Any] = Future()
            self._tasks.put((future, task))
            if last:
                self._closed = True
                self._tasks.put(None)
            return future

    def _serve(self) -> None:
        while (item := self._tasks.get()) is not None:
            future, task = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(task())
                except BaseException as error:  # noqa: BLE001 - handed to the caller, who raises it
                    future.set_exception(error)

    def _keyword_ids(self, query: str, n: int, collection_ids: Sequence[int] | None,
                     document_id: int | None) -> list[tuple[int, float]]:
        if self._conn is None:
            self._conn = self._connect()
        return self._searcher_for(self._conn).keyword_ids(query, n, collection_ids, document_id)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
