"""Run the loaders in a child process, so a file that hangs or crashes the parser cannot take the app down.

One long-lived child (``engine/sandbox.py``) parses one file at a time. A file gets ``timeout_s``
seconds; past that, or if the child dies (a segfault inside MuPDF), the child is killed and replaced,
and the file is reported with a reason. ``submit`` returns at once, so the next file parses while this
one embeds. An encrypted file's password travels with its request through the pipe (never in argv, the
environment or a log line); the loader is called with ``password=`` only when one was given.
"""

from __future__ import annotations

from pathlib import Path

from engine.ingest.status import FAILED, LoadError
from engine.records import ParsedDocument
from engine.sandbox import ChildCrashError, ChildTimeoutError, SandboxProcess

DEFAULT_LOADER = "engine.ingest.loaders:load"


class ParserProcess:
    def __init__(self, timeout_s: float = 60.0, max_bytes: int = 200 * 1024 * 1024,
                 loader: str = DEFAULT_LOADER) -> None:
        self.timeout_s = timeout_s
        self.loader = loader  # "module:function", imported in the child
        self.max_bytes = max_bytes
        self._child = SandboxProcess(loader, name="hushdocs-parser", timeout_s=timeout_s)

    def submit(self, path: Path, password: str = "") -> None:
        """Start parsing ``path`` (an encrypted PDF with ``password``); collect it with ``result`` before the next
        submit."""
        extra = {"password": password} if password else {}
        self._child.submit(Path(path), max_bytes=self.max_bytes, **extra)

    def result(self) -> ParsedDocument:
        """The parsed document of the submitted file, or LoadError with the reason it failed."""
        try:
            document: ParsedDocument = self._child.result()
        except ChildCrashError:
            raise LoadError(FAILED, "the document parser crashed on this file (it may be corrupt)") from None
        except ChildTimeoutError:
            raise LoadError(FAILED, f"reading took longer than {self.timeout_s:.0f} s (the file may be malformed)"
                            ) from None
        return document

    def close(self) -> None:
        self._child.close()

    def __enter__(self) -> ParserProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
