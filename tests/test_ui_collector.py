"""Cyclic garbage, Qt objects included, is collected on the GUI thread, never on the worker that allocates."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot


class _InACycle:
    """Garbage only the cyclic collector frees, holding a Qt object as a closed dialog's wrappers would."""

    def __init__(self) -> None:
        self.me = self
        self.qt_object = QObject()


def test_cyclic_garbage_is_collected_on_the_gui_thread_not_on_a_busy_worker(qtbot: QtBot) -> None:
    # qtbot's application is made by ui.application.create_application (tests/conftest.py), as the app's is.
    assert not gc.isenabled()
    freed_on: list[str] = []
    probes = [_InACycle() for _ in range(50)]
    watchers = [weakref.ref(probe, lambda _: freed_on.append(threading.current_thread().name)) for probe in probes]
    del probes

    def allocate() -> None:  # what indexing does: many young objects, far past the youngest generation's threshold
        kept = [[i] for i in range(50 * gc.get_threshold()[0])]
        del kept

    worker = threading.Thread(target=allocate, name="busy worker")
    worker.start()
    worker.join()
    assert freed_on == []  # Python's own collector would have freed them on the worker
    qtbot.waitUntil(lambda: len(freed_on) == len(watchers), timeout=5_000)  # the app's timer, on this thread
    assert set(freed_on) == {threading.main_thread().name}
