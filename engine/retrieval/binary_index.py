"""The coarse vector search: an in-memory copy of the vec0 binary vectors, searched in two steps.

sqlite-vec's own KNN over ``bit[384]`` keeps its top k in a way that costs O(rows x k): measured at
1M rows, 225 ms for 200 candidates (and 0.81 recall@10), slower than an exact float scan. The same
bits held as numpy columns answer in about 12 ms at 1M (bench/search_speed.py):

1. Hamming distance to every row, one 64-bit column at a time (a (rows, 6) matrix reduced along
   its short axis costs 4x more), and the closest rows picked from a histogram of the distances
   (they are small integers) instead of a partition of all of them.
2. Those rows re-ranked by the float query against their bits (asymmetric distance: each bit
   counts as +-1 weighted by the query's value in that dimension), through a 256-entry table per
   byte. It keeps the true neighbours that Hamming distance blurs together, so far fewer float
   vectors need to be read from the database for the exact re-score.

The vec0 table stays the durable copy; this is a cache of it, shared by every connection to one
database file and kept current through the meta counters each write transaction bumps
(``index_generation`` always, ``index_rebuilds`` when the vector table is rebuilt) and the
``chunk_deletions`` log: new rows are appended, deleted ones masked out, and only a rebuild (or a
log trimmed past what this copy has seen) reloads the whole table.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import apsw
import numpy as np
import numpy.typing as npt

from engine.store.db import get_meta, rows, scalar

_caches: dict[str, BinaryIndex] = {}
_caches_lock = threading.Lock()
_LOOKUPS_BEFORE_A_SCAN = 20_000  # new rows read one by one (0.1 ms each at 1M) before one scan of all is cheaper

# Every byte value's 8 bits as +-1, most significant first (np.packbits' order).
_BYTE_SIGNS = (np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float32) * 2 - 1)


@dataclass(frozen=True)
class Rows:
    """One consistent state of the copy. Never changed in place: a refresh builds the next one and swaps it in
    whole, so a search running in another thread reads ids, collections and bits of the same moment."""

    ids: npt.NDArray[np.int64]
    collections: npt.NDArray[np.int64]
    # The packed bits as 64-bit words, one row per word position: columns[w, i] is word w of row i.
    columns: npt.NDArray[np.uint64]

    @staticmethod
    def empty(words: int = 0) -> Rows:
        return Rows(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((words, 0), np.uint64))

    def without(self, chunk_ids: npt.NDArray[np.int64]) -> Rows:
        keep = ~np.isin(self.ids, chunk_ids)
        return self if keep.all() else Rows(self.ids[keep], self.collections[keep], self.columns[:, keep])

    def plus(self, more: Rows) -> Rows:
        if not len(self.ids):
            return more
        if not len(more.ids):
            return self
        return Rows(np.concatenate([self.ids, more.ids]), np.concatenate([self.collections, more.collections]),
                    np.hstack([self.columns, more.columns]))

    def hamming(self, query_words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint16]:
        distances = np.zeros(len(self.ids), dtype=np.uint16)
        xor = np.empty(len(self.ids), dtype=np.uint64)
        counts = np.empty(len(self.ids), dtype=np.uint8)
        for column, word in zip(self.columns, query_words, strict=True):
            np.bitwise_xor(column, word, out=xor)
            np.bitwise_count(xor, out=counts)
            np.add(distances, counts, out=distances)
        return distances

    def asymmetric(self, query: npt.NDArray[np.float32], at: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
        """The bits of these rows as +-1 dotted with the query: per byte position, a table of all 256 values."""
        padded = np.zeros(self.columns.shape[0] * 64, dtype=np.float32)
        padded[: len(query)] = query
        table = padded.reshape(-1, 8) @ _BYTE_SIGNS.T  # (bytes per row, 256)
        row_bytes = np.ascontiguousarray(self.columns[:, at].T).view(np.uint8)  # (rows, bytes per row)
        scores: npt.NDArray[np.float32] = table[np.arange(table.shape[0]), row_bytes].sum(axis=1)
        return scores


@dataclass
class BinaryIndex:
    rows: Rows = field(default_factory=Rows.empty)
    generation: str | None = None
    rebuilds: str | None = None
    deletions_seen: int = 0  # the last chunk_deletions entry applied
    lock: threading.Lock = field(default_factory=threading.Lock)  # held by a refresh; searches need none

    def __len__(self) -> int:
        return len(self.rows.ids)

    def refresh(self, conn: apsw.Connection) -> None:
        # The counters are read first: a write that lands during the reads below bumps them again, so the
        # next refresh catches whatever this one missed.
        generation, rebuilds = index_counters(conn)
        if generation == self.generation and rebuilds == self.rebuilds:
            return
        trimmed = int(get_meta(conn, "chunk_deletions_trimmed") or 0)
        current = self.rows
        if rebuilds != self.rebuilds or self.deletions_seen < trimmed or not len(current.ids):
            self.deletions_seen = int(scalar(conn, "SELECT coalesce(max(seq), 0) FROM chunk_deletions"))
            self.rows = _read(conn, after=0, words=0)
        else:
            current = current.without(self._deleted_since(conn))  # before appending: a deleted highest id
            after = int(current.ids.max()) if len(current.ids) else 0  # may come back as a new row
            self.rows = current.plus(_read(conn, after=after, words=current.columns.shape[0]))
        self.generation, self.rebuilds = generation, rebuilds

    def _deleted_since(self, conn: apsw.Connection) -> npt.NDArray[np.int64]:
        found = rows(conn, "SELECT seq, chunk_id FROM chunk_deletions WHERE seq > ? ORDER BY seq",
                     (self.deletions_seen,))
        if found:
            self.deletions_seen = int(found[-1][0])
        return np.fromiter((r[1] for r in found), dtype=np.int64, count=len(found))

    def nearest(self, query: npt.NDArray[np.float32], n: int,
                collection_ids: Sequence[int] | None = None) -> list[int]:
        """Chunk ids of about ``n`` rows closest to the float ``query`` by their bits (in these collections),
        nearest first: Hamming distance shortlists 5n of them (more on a large index, where it blurs), the
        query's values against their bits keep n."""
        current = self.rows  # one state throughout, whatever a refresh swaps in meanwhile
        if not len(current.ids):
            return []
        distances = current.hamming(_pack(query, current.columns.shape[0]))
        unwanted = current.columns.shape[0] * 64 + 1  # beyond any real distance
        if collection_ids is not None:
            distances[~np.isin(current.collections, np.asarray(collection_ids, np.int64))] = unwanted
        shortlist = _closest(distances, max(5 * n, len(current.ids) // 500), unwanted)
        if len(shortlist) > n:
            scores = current.asymmetric(query, shortlist)
            shortlist = shortlist[np.argsort(-scores, kind="stable")[:n]]
        return [int(i) for i in current.ids[shortlist]]


def _read(conn: apsw.Connection, after: int, words: int) -> Rows:
    """The vec0 rows past ``after`` (``words``: the bits' width in 64-bit words, for an empty result)."""
    try:
        found = _rows_after(conn, after)
    except apsw.SQLError:  # nothing indexed yet: no vector table
        found = []
    if not found:
        return Rows.empty(words)
    ids = np.fromiter((r[0] for r in found), dtype=np.int64, count=len(found))
    collections = np.fromiter((r[2] for r in found), dtype=np.int64, count=len(found))
    raw = np.frombuffer(b"".join(bytes(r[1]) for r in found), dtype=np.uint8).reshape(len(found), -1)
    pad = (-raw.shape[1]) % 8  # whole 64-bit words for the popcount
    columns = np.ascontiguousarray(np.pad(raw, ((0, 0), (0, pad))).view(np.uint64).T)
    return Rows(ids, collections, columns)


def _rows_after(conn: apsw.Connection, after: int) -> list[tuple[int, bytes, int]]:
    """(rowid, bits, collection id) of the vec0 rows past ``after``. vec0 answers ``rowid > ?`` by scanning every
    row (0.6 s at 1M) but ``rowid = ?`` at once, so the new ids come from the float vectors' table (a range of
    its primary key) and a few are looked up one by one."""
    if after == 0:
        return rows(conn, "SELECT rowid, embedding, collection_id FROM chunk_bits")
    new = [int(r[0]) for r in rows(conn, "SELECT chunk_id FROM chunk_embeddings WHERE chunk_id > ?", (after,))]
    if len(new) > _LOOKUPS_BEFORE_A_SCAN:
        return rows(conn, "SELECT rowid, embedding, collection_id FROM chunk_bits WHERE rowid > ?", (after,))
    found: list[tuple[int, bytes, int]] = []
    for chunk_id in new:
        found.extend(rows(conn, "SELECT rowid, embedding, collection_id FROM chunk_bits WHERE rowid = ?", (chunk_id,)))
    return found


def _pack(query: npt.NDArray[np.float32], words: int) -> npt.NDArray[np.uint64]:
    packed = np.packbits(query > 0)
    return np.pad(packed, (0, words * 8 - len(packed))).view(np.uint64)


def _closest(distances: npt.NDArray[np.uint16], n: int, unwanted: int) -> npt.NDArray[np.intp]:
    """Positions of the ``n`` smallest distances (ties at the cut-off kept), closest first, none ``unwanted``."""
    counts = np.bincount(distances, minlength=unwanted + 1)
    cutoff = min(int(np.searchsorted(np.cumsum(counts), n)), unwanted - 1)
    at = np.flatnonzero(distances <= cutoff)
    return at[np.argsort(distances[at], kind="stable")]


def index_counters(conn: apsw.Connection) -> tuple[str, str]:
    """(``index_generation``, ``index_rebuilds``): what in-memory copies of the index follow. Every write and
    delete of chunks bumps the first, a rebuild of the vector table the second (engine/store/index_store.py)."""
    return get_meta(conn, "index_generation") or "0", get_meta(conn, "index_rebuilds") or "0"


def binary_index_for(conn: apsw.Connection) -> BinaryIndex:
    """The shared, current in-memory copy of ``conn``'s database's binary vectors."""
    key = conn.filename or f"memory:{id(conn)}"
    with _caches_lock:
        index = _caches.setdefault(key, BinaryIndex())
    with index.lock:
        index.refresh(conn)
    return index
