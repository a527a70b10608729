"""Loaders that check the parser child's environment and network guard (they run in the child)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from engine.offline import SEALED_ENVIRONMENT
from engine.records import ParsedDocument


def report_environment(path: Path, *, max_bytes: int) -> ParsedDocument:
    """The child's values of the sealed variables, as the document's text."""
    found = {key: os.environ.get(key) for key in SEALED_ENVIRONMENT}
    return ParsedDocument(text=json.dumps(found), kind="text", title=path.name)


def phone_home(path: Path, *, max_bytes: int) -> ParsedDocument:
    """A parser that tries to reach the network (TEST-NET-1, never routed) before reading."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as connection:
        connection.settimeout(1)
        connection.connect(("192.0.2.1", 80))
    return ParsedDocument(text="unreachable", kind="text", title=path.name)
