"""The viewer's sandbox: pages, texts and searches of documents, made in one long-lived child process.

The viewer asks from worker threads; the calls take turns on the child (one MuPDF document, one pipe).
A call that is stopped before its turn is dropped; one stopped while it runs is let finish for
``patience_s`` (the next page is usually that close), then the child is killed. A crash or a call past
``timeout_s`` costs that view: it is reported as a ``LoadError`` and the next call starts a fresh child.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from engine.ingest.status import FAILED, LoadError
from engine.page_render import LoadedText, PageView, RenderedPage
from engine.sandbox import CallCancelledError, ChildCrashError, ChildTimeoutError, SandboxProcess

DEFAULT_SERVER = "engine.render_child:serve"


class RenderProcess:
    def __init__(self, timeout_s: float = 20.0, max_bytes: int = 200 * 1024 * 1024,
                 server: str = DEFAULT_SERVER, patience_s: float = 1.0,
                 passwords: Mapping[str, str] | None = None) -> None:
        self.timeout_s = timeout_s
        # the session's passwords of encrypted files (Engine.passwords), sent to the child through its pipe
        self._passwords: Mapping[str, str] = passwords if passwords is not None else {}
        self.max_bytes = max_bytes
        self.patience_s = patience_s
        self._child = SandboxProcess(server, name="hushdocs-renderer", timeout_s=timeout_s)
        self._turn = threading.Lock()

    def start(self) -> None:
        """Start the child now (it is ready when the first view is asked for); a no-op while a call runs."""
        if self._turn.acquire(blocking=False):
            try:
                self._child.start()
            finally:
                self._turn.release()

    def render_page(self, path: str, page: int, quotes: Sequence[str], view: PageView, *, find: str = "",
                    cancel: threading.Event | None = None) -> RenderedPage:
        rendered: RenderedPage = self._call(cancel, "page", path, page, tuple(quotes), view, find=find,
                                            password=self._passwords.get(path, ""))
        return rendered

    def load_text(self, path: str, spans: Sequence[tuple[int, int]],
                  cancel: threading.Event | None = None) -> LoadedText:
        loaded: LoadedText = self._call(cancel, "text", path, tuple(spans))
        return loaded

    def find_pages(self, path: str, query: str, cancel: threading.Event | None = None) -> list[tuple[int, int]]:
        pages: list[tuple[int, int]] = self._call(cancel, "find", path, query,
                                                  password=self._passwords.get(path, ""))
        return pages

    def _call(self, cancel: threading.Event | None, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Raises CallCancelledError when ``cancel`` was set in time, else LoadError for any failure."""
        with self._turn:
            if cancel is not None and cancel.is_set():
                raise CallCancelledError
            self._child.submit(operation, *args, max_bytes=self.max_bytes, **kwargs)
            try:
                return self._child.result(cancel, self.patience_s)
            except ChildCrashError:
                raise LoadError(FAILED, "the viewer's renderer crashed on this file (it may be damaged)") from None
            except ChildTimeoutError:
                raise LoadError(FAILED, f"showing it took longer than {self.timeout_s:.0f} s, so it was stopped "
                                        "(the file may be damaged)") from None

    def close(self) -> None:
        """End the child; a call still waiting on it (none, once the app's workers are stopped) fails."""
        self._child.close()
