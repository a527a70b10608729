"""One app per data home: a second launch brings the first window to the front and exits.

The running app holds a lock file in its data folder (``QLockFile``: a lock whose process has died, after
a kill -9 or a crash, is recognised as stale and taken over) and listens on a local socket named after
that folder (a Unix socket, or a named pipe on Windows: nothing reaches the network). A later launch that
finds the lock taken connects to the socket and asks for the window.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import time
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

RAISE_REQUEST = b"raise\n"
CONNECT_WAIT_MS = 500
FIRST_START_WAIT_S = 10.0  # how long a second launch waits for a first one still starting to listen


def server_name(data_home: Path) -> str:
    """The local socket's name: the same for every launch on this data home, different for another one."""
    digest = hashlib.sha256(str(data_home.resolve()).encode("utf-8")).hexdigest()[:20]
    return f"hushdocs-{digest}"


class Claim(enum.Enum):
    OWNED = "owned"  # this process is the data home's app, listening for later launches
    RAISED = "raised"  # another app runs on this data home and was asked to show its window
    UNANSWERED = "unanswered"  # another app holds the data home but did not answer (busy, or hung)


class SingleInstance(QObject):
    """``claim()`` makes this process the data home's app, or tells the one already running to show itself."""

    raise_requested = Signal()  # a second launch asked for the window

    def __init__(self, data_home: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(data_home)
        self._lock = QLockFile(str(data_home / "hushdocs-app.lock"))
        self._lock.setStaleLockTime(0)  # a live holder keeps its lock however long it runs
        self._server: QLocalServer | None = None

    def claim(self) -> Claim:
        if self._lock.tryLock(0):
            self._listen()
            return Claim.OWNED
        deadline = time.monotonic() + FIRST_START_WAIT_S
        while not self._ask_to_raise():
            if time.monotonic() > deadline:
                log.warning("another Hushdocs holds %s but did not answer on %s", self._lock.fileName(), self.name)
                return Claim.UNANSWERED
            if self._lock.tryLock(0):  # the holder ended meanwhile
                self._listen()
                return Claim.OWNED
            time.sleep(0.2)
        return Claim.RAISED

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._lock.unlock()

    def _listen(self) -> None:
        QLocalServer.removeServer(self.name)  # we hold the lock, so a socket left under this name is stale
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)  # this user's processes only
        if not server.listen(self.name):
            log.warning("a second launch cannot reach this app: listening on %s failed: %s", self.name,
                        server.errorString())
            return
        server.newConnection.connect(self._accept)
        self._server = server

    def _accept(self) -> None:
        assert self._server is not None
        while (connection := self._server.nextPendingConnection()) is not None:
            connection.readyRead.connect(lambda c=connection: self._read(c))
            connection.disconnected.connect(connection.deleteLater)
            if connection.bytesAvailable():
                self._read(connection)

    def _read(self, connection: QLocalSocket) -> None:
        if bytes(connection.readAll().data()).startswith(RAISE_REQUEST.strip()):
            log.info("a second launch asked for the window")
            self.raise_requested.emit()

    def _ask_to_raise(self) -> bool:
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(CONNECT_WAIT_MS):
            return False
        socket.write(RAISE_REQUEST)
        socket.flush()
        socket.waitForBytesWritten(CONNECT_WAIT_MS)
        socket.disconnectFromServer()
        return True
