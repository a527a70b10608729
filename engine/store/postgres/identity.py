"""Who owns the conversations a data home writes into a team library.

A random identity, created in the data home the first time it joins a team library and kept there: two people
(two data homes) never see each other's conversations, and the same home finds its own again after a restart.
The user and computer names go beside it only to make the identity readable to the database's admin.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from pathlib import Path

IDENTITY_FILE = "team-identity"


def home_identity(data_dir: Path) -> str:
    """``user@computer/uuid``: created once per data home (atomically, so two processes agree on it)."""
    path = data_dir / IDENTITY_FILE
    try:
        return path.read_text("utf-8").strip()
    except FileNotFoundError:
        pass
    identity = f"{_user()}@{socket.gethostname()}/{uuid.uuid4()}"
    temporary = path.with_name(f"{IDENTITY_FILE}.{os.getpid()}.tmp")
    temporary.write_text(identity, "utf-8")
    try:
        os.link(temporary, path)  # fails if another process made it first: then theirs is the identity
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text("utf-8").strip()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "someone"
