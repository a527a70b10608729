"""How many chunks hold each word, as the keyword list's budget needs to know, remembered per database until
its index changes.

Counting is half of a keyword list's time in a large library (bench.search_speed at 1M chunks): the commonest
words of a question are the costly ones, each counted up to the budget, and they are also the words a person's
next questions share. A count is kept until the index changes (``index_counters``, which the in-memory vectors
follow: every write and delete of chunks bumps one of them), so it is never older than the chunks it counts; a
conversation saved between questions does not touch them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import apsw

from engine.retrieval.binary_index import index_counters

MAX_WORDS = 50_000  # counts kept per database (a few MB); past it they are all forgotten and counted again


class WordCounts:
    """Counts capped at a limit: a count below its limit is exact, one at it means "at least"."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: tuple[str, str] | None = None
        self.counts: dict[str, tuple[int, int]] = {}  # word: (count, the limit it was counted up to)

    def counted(self, conn: apsw.Connection, words: Sequence[str], limit: int,
                count: Callable[[str, int], int]) -> dict[str, int]:
        """Each word's count up to ``limit`` (``count(word, limit)`` for the ones not known)."""
        # The counters are read before the counts: a write that lands in between bumps them again, so whatever
        # is counted under this stamp is at least as new as the stamp says.
        stamp = index_counters(conn)
        with self.lock:
            if stamp != self.stamp or len(self.counts) > MAX_WORDS:
                self.stamp, self.counts = stamp, {}
            known = {w: self.counts.get(w) for w in words}
        found: dict[str, int] = {}
        for word, entry in known.items():
            if entry is not None and (entry[0] < entry[1] or limit <= entry[1]):
                found[word] = min(entry[0], limit)
            else:
                found[word] = count(word, limit)
                with self.lock:
                    if self.stamp == stamp:
                        self.counts[word] = (found[word], limit)
        return found

    def forget(self) -> None:
        with self.lock:
            self.stamp, self.counts = None, {}


_caches: dict[str, WordCounts] = {}
_caches_lock = threading.Lock()


def word_counts_for(conn: apsw.Connection) -> WordCounts:
    """The counts shared by every connection of ``conn``'s database in this process (an in-memory database's
    are its own, counted again each time)."""
    if not conn.filename:
        return WordCounts()
    with _caches_lock:
        return _caches.setdefault(conn.filename, WordCounts())
