"""Follow changes in the collections' folders while the app runs (watchdog; no Qt).

Events are gathered and handed over in one batch once the folders have been quiet for
``quiet_s`` (an editor's save is often a delete, a write and a rename in a row), so the index
catches up within a few seconds without a rescan of everything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger(__name__)


class _Collector(FileSystemEventHandler):
    def __init__(self, on_paths: Callable[[set[str]], None], quiet_s: float) -> None:
        self._on_paths = on_paths
        self._quiet_s = quiet_s
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._timer: threading.Timer | None = None

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        with self._lock:
            self._paths.add(str(event.src_path))
            destination = getattr(event, "dest_path", "")
            if destination:
                self._paths.add(str(destination))
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self._quiet_s, self._flush)
            self._timer.daemon = True
            self._timer.start()

    def _flush(self) -> None:
        with self._lock:
            paths, self._paths, self._timer = self._paths, set(), None
        if paths:
            try:
                self._on_paths(paths)
            except Exception:
                log.exception("handling changed paths failed")

    def cancel(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None


class FolderWatcher:
    """Calls ``on_paths`` (from a watcher thread) with the set of changed paths after each quiet spell."""

    def __init__(self, on_paths: Callable[[set[str]], None], quiet_s: float = 1.0) -> None:
        self._collector = _Collector(on_paths, quiet_s)
        self._observer = Observer()
        self._observer.daemon = True
        self._watched: dict[str, object] = {}
        self._started = False

    def watch(self, folders: Iterable[tuple[str, bool]]) -> None:
        """Watch exactly these (folder, recursive) pairs; those already watched and still wanted are kept."""
        wanted_pairs = dict(folders)
        wanted = set(wanted_pairs)
        for folder in list(self._watched):
            if folder not in wanted:
                self._observer.unschedule(self._watched.pop(folder))  # type: ignore[arg-type]
        for folder in wanted - set(self._watched):
            try:
                self._watched[folder] = self._observer.schedule(self._collector, folder,
                                                                recursive=wanted_pairs[folder])
            except OSError as error:
                log.warning("cannot watch %s: %s", folder, error)
        if not self._started:
            self._observer.start()
            self._started = True

    def stop(self) -> None:
        self._collector.cancel()
        if self._started:
            self._observer.stop()
            self._observer.join(5)
            self._started = False
