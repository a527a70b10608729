"""The SQLite store: one file holding documents, chunks, FTS5 keywords and sqlite-vec vectors."""

from engine.store.db import connect

__all__ = ["connect"]
