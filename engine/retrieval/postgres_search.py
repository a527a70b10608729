"""Hybrid search over a team library on PostgreSQL, fused as the SQLite ``Retriever`` fuses.

- Keyword: ``ts_rank`` over the chunks' ``tsvector`` (accents folded, ``simple`` configuration:
  ``engine/store/postgres/keywords.py``), the query's words OR-ed as FTS5's query is here.
- Vector: pgvector's HNSW index over the ``halfvec`` copy of the vectors for candidates, re-scored by the
  exact cosine of the float vectors, in one statement.
- The two lists are fused and merged by the SQLite search's own ``FusedSearch.search``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.embedding.embedder import Embedder
from engine.filenames import from_db
from engine.retrieval.search import ChunkRow, FusedSearch, Fusion, Scope
from engine.retrieval.search import scope_names as names_of
from engine.store.postgres.connection import PgConnection, rows, scalar
from engine.store.postgres.keywords import CONFIG, fold_accents, query_words, tsquery

MAX_EF_SEARCH = 1000  # pgvector's upper bound on hnsw.ef_search
RANK_NORMALISATION = 1  # ts_rank divided by 1 + log(the chunk's length), as BM25 favours the shorter match


def has_documents(conn: PgConnection, collection: Scope = None) -> bool:
    """Whether any chunk is indexed (in ``collection``): the same rule as the SQLite ``has_documents``."""
    names = names_of(collection)
    if names is None:
        return bool(rows(conn, "SELECT 1 FROM chunks LIMIT 1"))
    return bool(rows(conn, "SELECT 1 FROM chunks c JOIN collections k ON k.id = c.collection_id "
                           "WHERE k.name = ANY(%s) LIMIT 1", (names,)))


class PgRetriever(FusedSearch):
    def __init__(self, conn: PgConnection, embedder: Embedder, *, oversample: int = 5,
                 fusion: Fusion = "relative") -> None:
        self.conn = conn
        self.embedder = embedder
        self.oversample = oversample
        self.fusion = fusion

    def _collection_ids(self, collection: Scope) -> list[int] | None:
        names = names_of(collection)
        if names is None:
            return None
        return [int(r[0]) for r in rows(self.conn, "SELECT id FROM collections WHERE name = ANY(%s)", (names,))]

    def has_documents(self, collection: Scope = None) -> bool:
        return has_documents(self.conn, collection)

    def chunk_count(self) -> int:
        return int(scalar(self.conn, "SELECT count(*) FROM chunks"))

    def stem_document_frequencies(self, stems: Sequence[str]) -> dict[str, int]:
        """How many chunks hold a word starting with each stem (a prefix query on the GIN index each)."""
        return {stem: int(scalar(self.conn, f"SELECT count(*) FROM chunks WHERE keywords @@ to_tsquery('{CONFIG}', %s)",
                                 (tsquery([fold_accents(stem.lower())], prefix=True),)))
                for stem in stems}

    # -- the two searches -----------------------------------------------------------------------

    @staticmethod
    def _filters(collection_ids: Sequence[int] | None, document_id: int | None) -> tuple[str, list[object]]:
        clauses: list[str] = []
        args: list[object] = []
        if collection_ids is not None:
            clauses.append("collection_id = ANY(%s)")
            args.append(list(collection_ids))
        if document_id is not None:
            clauses.append("document_id = %s")
            args.append(document_id)
        return "".join(f" AND {c}" for c in clauses), args

    def keyword_ids(self, query: str, n: int, collection_ids: Sequence[int] | None = None,
                    document_id: int | None = None) -> list[tuple[int, float]]:
        """(chunk id, ts_rank score: higher is better), best first."""
        words = query_words(query)
        if not words:
            return []
        where, args = self._filters(collection_ids, document_id)
        found = rows(self.conn, f"SELECT id, ts_rank(keywords, q, {RANK_NORMALISATION}) AS score "
                                f"FROM chunks, to_tsquery('{CONFIG}', %s) q WHERE keywords @@ q{where} "
                                "ORDER BY score DESC, id LIMIT %s", [tsquery(words), *args, n])
        return [(int(r[0]), float(r[1])) for r in found]

    def dense_ids(self, query_vector: np.ndarray, n: int, collection_ids: Sequence[int] | None = None,
                  document_id: int | None = None) -> list[tuple[int, float]]:
        """(chunk id, cosine), best first: HNSW over the halfvec copy for candidates, exact cosine to rank them."""
        dim = len(query_vector)
        candidates = min(max(n * self.oversample, 100), MAX_EF_SEARCH)
        where, args = self._filters(collection_ids, document_id)
        vector = np.asarray(query_vector, dtype=np.float32)
        with self.conn.transaction():
            self.conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(candidates),))
            if where:  # filtered: the index scan goes on until enough rows pass the filter
                self.conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
            found = rows(self.conn,
                         f"WITH candidates AS (SELECT id, embedding FROM chunks WHERE TRUE{where} "
                         f"ORDER BY embedding::halfvec({dim}) <=> %s::halfvec({dim}) LIMIT %s) "
                         "SELECT id, 1 - (embedding <=> %s) AS cosine FROM candidates ORDER BY cosine DESC LIMIT %s",
                         [*args, vector, candidates, vector, n])
        return [(int(r[0]), float(r[1])) for r in found]

    def rescore(self, query_vector: np.ndarray, ids: Sequence[int]) -> list[tuple[int, float]]:
        """Exact cosine of the query to these chunks' float vectors, best first."""
        if not ids:
            return []
        found = rows(self.conn, "SELECT id, 1 - (embedding <=> %s) AS cosine FROM chunks WHERE id = ANY(%s) "
                                "ORDER BY cosine DESC", (np.asarray(query_vector, dtype=np.float32), list(ids)))
        return [(int(r[0]), float(r[1])) for r in found]

    def _chunk_rows(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        found = rows(self.conn, "SELECT c.id, c.document_id, c.ordinal, c.page, c.section, c.start, c.\"end\", "
                                "c.text, d.path, d.title FROM chunks c JOIN documents d ON d.id = c.document_id "
                                "WHERE c.id = ANY(%s)", (list(ids),))
        return {int(r[0]): ChunkRow(int(r[0]), int(r[1]), int(r[2]), r[3], str(r[4]), int(r[5]), int(r[6]),
                                    str(r[7]), from_db(r[8]), str(r[9])) for r in found}
