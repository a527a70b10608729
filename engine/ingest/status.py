"""Per-file outcomes: every file the index knows has one status and, when it failed, a reason."""

from __future__ import annotations

INDEXED = "indexed"
INDEXED_OCR = "indexed_ocr"  # indexed, and some of its pages were read by OCR (scans, photos)
FAILED = "failed"  # corrupt, unreadable, timed out, ... (reason says which)
NEEDS_OCR = "needs_ocr"  # a scanned PDF with no text layer
EMPTY = "empty"  # a readable file with no text at all
SKIPPED = "skipped"  # too large, binary content under a text extension, ...
NEEDS_PASSWORD = "needs_password"  # an encrypted PDF: read once its password is given (kept for the session only)

# A file with one of these is listed with its reason instead of being searchable.
PROBLEM_STATUSES = frozenset({FAILED, NEEDS_OCR, EMPTY, SKIPPED, NEEDS_PASSWORD})


class LoadError(Exception):
    """A file that cannot be indexed, with a status and a reason a person understands.

    Examples: ``LoadError(NEEDS_OCR, "no text layer: needs OCR")``,
    ``LoadError(NEEDS_PASSWORD, "encrypted: needs a password")``.
    """

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
