"""Hybrid search over the index.

- Keyword: FTS5 BM25 over every word of the query, each quoted (user punctuation can never be
  FTS syntax), joined with OR so a question's words need not all appear. FTS5 scores every chunk that
  holds any of the words before it sorts them, so in a large library the commonest words cost the most
  and earn the least (their inverse document frequency is near zero): past ``KEYWORD_MATCH_BUDGET``
  matched chunks they are left out, the rarest kept.
- Vector: candidates from the binary-quantised copy of the vectors (vec0, held in memory by
  binary_index.py: cheap and coarse), then exact cosine on the float vectors of those candidates.
- Fusion of the two lists, by default relative score fusion: each list's scores scaled to 0..1
  (min-max over its candidates) and averaged. On squad-dev it put the answering chunk first for
  0.80 of questions, against 0.72 for reciprocal rank fusion (k=60, ``fusion="rrf"``), with the
  same recall@5 (bench/quality.py prints both): ranks alone throw away how far ahead the best
  match is. Then neighbouring chunks of one document on one page are merged into one passage.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import apsw
import numpy as np

from engine.embedding.embedder import Embedder
from engine.filenames import from_db
from engine.records import Hit
from engine.retrieval.binary_index import binary_index_for
from engine.retrieval.keyword_thread import KeywordThread
from engine.retrieval.word_counts import word_counts_for
from engine.store.db import rows

SearchMode = Literal["hybrid", "dense", "keyword"]
Fusion = Literal["relative", "rrf"]
FUSIONS: tuple[Fusion, ...] = ("relative", "rrf")
DENSE_WEIGHT = 0.5  # relative fusion: the share of the vector score in the fused score; the rest is BM25's
RRF_K = 60  # reciprocal rank fusion: a result at rank r adds 1 / (RRF_K + r)
# Chunks FTS5 may score for one keyword query (the sum of its words' document frequencies); a library with
# fewer chunks is always searched for every word. bench.search_speed at 1M chunks: keyword p95 0.8 s with every
# word. The passages read stayed the same with the budget at 5 % of the library (bench.reading, both sets; at
# 1 %, realdocs lost 0.02 of them), so 50k is the budget for 1M chunks and the bound for any size.
KEYWORD_MATCH_BUDGET = 50_000

# Words that carry no topic; dropping them keeps BM25 on the words that matter.
STOPWORDS = frozenset(
    (  # noqa: SIM905 - a word list reads better as prose
        "a an and are as at be by can could did do does for from had has have how i in into is it its of on or "
        "that the their them they this to was were what when where which who whom whose why will with would you "
        "your about after before than then there these those also any both each few more most other some such "
        "only own same so too very s t just don should now"
    ).split()
)


@dataclass
class ChunkRow:
    id: int
    document_id: int
    ordinal: int
    page: int | None
    section: str
    start: int
    end: int
    text: str
    path: str
    title: str


def content_words(text: str) -> list[str]:
    """The text's words, lower-cased, stopwords left out."""
    return [w for w in re.findall(r"\w+", text.lower()) if w not in STOPWORDS]


def keyword_words(text: str) -> list[str]:
    """The words a keyword search looks for, once each: the content words, or every word if none is left."""
    words = content_words(text) or re.findall(r"\w+", text.lower())
    return list(dict.fromkeys(words))


def match_expression(words: Sequence[str]) -> str:
    """An FTS5 MATCH expression: the words quoted, OR-ed. Empty for no words."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def affordable_words(words: Sequence[str], frequencies: dict[str, int], budget: int) -> list[str]:
    """The rarest words whose document frequencies sum to at most ``budget`` (the rarest one in any case),
    in the query's order."""
    kept: set[str] = set()
    total = 0
    for word in sorted(words, key=lambda w: frequencies[w]):
        if kept and total + frequencies[word] > budget:
            break
        kept.add(word)
        total += frequencies[word]
    return [w for w in words if w in kept]


def relative_scores(scored: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Scores scaled to 0 (the worst candidate) .. 1 (the best), order kept."""
    if not scored:
        return []
    low, high = min(v for _, v in scored), max(v for _, v in scored)
    return [(cid, (v - low) / (high - low) if high > low else 1.0) for cid, v in scored]


def fused_scores(lists: dict[str, list[tuple[int, float]]], fusion: Fusion) -> dict[int, float]:
    """One score per chunk from the best-first lists of each search."""
    fused: dict[int, float] = {}
    for name, scored in lists.items():
        if fusion == "rrf":
            contributions = [(chunk_id, 1.0 / (RRF_K + rank)) for rank, (chunk_id, _) in enumerate(scored, start=1)]
        else:
            share = 1.0 if len(lists) == 1 else DENSE_WEIGHT if name == "dense" else 1.0 - DENSE_WEIGHT
            contributions = [(chunk_id, share * relative) for chunk_id, relative in relative_scores(scored)]
        for chunk_id, value in contributions:
            fused[chunk_id] = fused.get(chunk_id, 0.0) + value
    return fused


def quantise(vectors: np.ndarray) -> np.ndarray:
    """Sign bits, packed: the same packing is used for stored and query vectors."""
    return np.packbits(vectors > 0, axis=-1)


# Where to look: one collection by name, several (a conversation's choice), or None for the whole library.
Scope = str | Sequence[str] | None


def scope_names(scope: Scope) -> list[str] | None:
    """The collection names of a scope; None for the whole library."""
    if scope is None:
        return None
    return [scope] if isinstance(scope, str) else list(scope)


def has_documents(conn: apsw.Connection, collection: Scope = None) -> bool:
    """Whether anything is indexed (in ``collection``) to answer from: a document with at least one chunk.
    The one rule for "the library has documents" (the chat's hint, the answerer's refusal)."""
    sql = "SELECT 1 FROM chunks c JOIN documents d ON d.id = c.document_id"
    names = scope_names(collection)
    if names is not None:
        sql += f" JOIN collections k ON k.id = d.collection_id WHERE k.name IN ({','.join('?' * len(names))})"
    return bool(rows(conn, sql + " LIMIT 1", names or []))


class FusedSearch(ABC):
    """Hybrid search as both libraries run it: a dense and a keyword list, fused, the top chunks re-scored and
    merged with their neighbours. A backend supplies the lists and the rows (``Retriever`` here, ``PgRetriever``
    for a team library)."""

    embedder: Embedder
    fusion: Fusion
    keyword_thread: KeywordThread | None = None  # where the keyword list runs in a hybrid search; None: here

    def search(self, query: str, k: int = 5, collection: Scope = None, mode: SearchMode = "hybrid", *,
               document_id: int | None = None, merge: bool = True, fusion: Fusion | None = None) -> list[Hit]:
        collection_ids = self._collection_ids(collection)
        pool = max(k * 4, 40)  # scores are scaled over the pool, so keep it the same size for every k
        # The keyword list starts first, on its thread where there is one, and runs beside the embedding and
        # the vector list (bench.search_speed: the hybrid search's time is then about the longer of the two).
        keywords_under_way = (self.keyword_thread.keyword_ids(query, pool, collection_ids, document_id)
                              if mode == "hybrid" and self.keyword_thread is not None else None)
        query_vector = self.embedder.embed_query([query])[0]
        ranks: dict[int, dict[str, int]] = {}
        similarity: dict[int, float] = {}
        lists: dict[str, list[tuple[int, float]]] = {}
        if mode in ("hybrid", "dense"):
            lists["dense"] = self.dense_ids(query_vector, pool, collection_ids, document_id)
            similarity.update(lists["dense"])
        if keywords_under_way is not None:
            lists["keyword"] = keywords_under_way.result()
        elif mode in ("hybrid", "keyword"):
            lists["keyword"] = self.keyword_ids(query, pool, collection_ids, document_id)
        for name, scored in lists.items():
            for rank, (chunk_id, _) in enumerate(scored, start=1):
                ranks.setdefault(chunk_id, {})[name] = rank
        fused = fused_scores(lists, fusion or self.fusion)
        if not fused:
            return []
        top = sorted(fused, key=lambda cid: -fused[cid])[: k * 2 if merge else k]
        similarity.update(self.rescore(query_vector, [cid for cid in top if cid not in similarity]))
        chunk_rows = self._chunk_rows(top)
        hits = [self._hit(chunk_rows[cid], fused[cid], similarity.get(cid, 0.0), ranks[cid])
                for cid in top if cid in chunk_rows]
        if merge:
            hits = merge_neighbours(hits, chunk_rows)
        return hits[:k]

    @abstractmethod
    def _collection_ids(self, collection: Scope) -> list[int] | None: ...

    @abstractmethod
    def dense_ids(self, query_vector: np.ndarray, n: int, collection_ids: Sequence[int] | None = None,
                  document_id: int | None = None) -> list[tuple[int, float]]: ...

    @abstractmethod
    def keyword_ids(self, query: str, n: int, collection_ids: Sequence[int] | None = None,
                    document_id: int | None = None) -> list[tuple[int, float]]: ...

    @abstractmethod
    def rescore(self, query_vector: np.ndarray, ids: Sequence[int]) -> list[tuple[int, float]]: ...

    @abstractmethod
    def _chunk_rows(self, ids: Sequence[int]) -> dict[int, ChunkRow]: ...

    @staticmethod
    def _hit(row: ChunkRow, score: float, similarity: float, ranks: dict[str, int]) -> Hit:
        return Hit(chunk_id=row.id, document_id=row.document_id, path=row.path, title=row.title, page=row.page,
                   section=row.section, start=row.start, end=row.end, text=row.text, score=score,
                   similarity=similarity, chunk_ids=(row.id,), ranks=dict(ranks))


class Retriever(FusedSearch):
    def __init__(self, conn: apsw.Connection, embedder: Embedder, *, oversample: int = 10,
                 fusion: Fusion = "relative") -> None:
        self.conn = conn
        self.embedder = embedder
        self.oversample = oversample  # float vectors re-scored per dense result wanted
        self.fusion = fusion
        self.keyword_match_budget = KEYWORD_MATCH_BUDGET

    def _collection_ids(self, collection: Scope) -> list[int] | None:
        """The ids of the scope's collections (an empty list when none of them exists); None for all."""
        names = scope_names(collection)
        if names is None:
            return None
        return [int(r[0]) for r in rows(self.conn, f"SELECT id FROM collections WHERE name IN "
                                                   f"({','.join('?' * len(names))})", names)]

    def has_documents(self, collection: Scope = None) -> bool:
        """Whether anything is indexed (in ``collection``) to answer from."""
        return has_documents(self.conn, collection)

    def chunk_count(self) -> int:
        return int(rows(self.conn, "SELECT count(*) FROM chunks")[0][0])

    def stem_document_frequencies(self, stems: Sequence[str]) -> dict[str, int]:
        """How many chunks hold a word starting with each stem (FTS5 prefix queries: an index lookup each)."""
        counts = {}
        for stem in stems:
            counts[stem] = int(rows(self.conn, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                                    (match_expression([stem]) + "*",))[0][0])
        return counts

    def affordable_keyword_words(self, words: Sequence[str]) -> tuple[list[str], bool]:
        """``words``, less the commonest ones where FTS5 would otherwise score more chunks than the budget; and
        whether the kept words are known to match no more chunks than the budget."""
        budget = self.keyword_match_budget
        if int(rows(self.conn, "SELECT max(rowid) FROM chunks")[0][0] or 0) <= budget:
            return list(words), True  # the largest id is at least the chunk count: no more matches than the budget
        if len(words) < 2:
            return list(words), False  # a word alone is searched whatever its count
        # Each count stops one past the budget: a word that common is left out whatever its exact count.
        frequencies = word_counts_for(self.conn).counted(self.conn, words, budget + 1, self._count_chunks)
        kept = affordable_words(words, frequencies, budget)
        return kept, sum(frequencies[w] for w in kept) <= budget

    def _count_chunks(self, word: str, limit: int) -> int:
        """How many chunks hold ``word``, counted up to ``limit``."""
        return int(rows(self.conn, "SELECT count(*) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
                                   "LIMIT ?)", (match_expression([word]), limit))[0][0])

    # -- the two searches -----------------------------------------------------------------------

    def keyword_ids(self, query: str, n: int, collection_ids: Sequence[int] | None = None,
                    document_id: int | None = None) -> list[tuple[int, float]]:
        """(chunk id, BM25 score: higher is better), best first."""
        words, within_budget = self.affordable_keyword_words(keyword_words(query))
        if not words:
            return []
        args: list[object] = [match_expression(words)]
        if collection_ids is None and document_id is None:
            # FTS5 alone: joining every match to its chunk and document before the sort doubled the time.
            sql = "SELECT rowid AS id, bm25(chunks_fts) AS score FROM chunks_fts WHERE chunks_fts MATCH ?"
        else:
            sql = ("SELECT c.id AS id, bm25(chunks_fts) AS score FROM chunks_fts JOIN chunks c ON "
                   "c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id WHERE chunks_fts MATCH ?")
        if collection_ids is not None:
            sql += f" AND d.collection_id IN ({','.join('?' * len(collection_ids))})"
            args.extend(collection_ids)
        if document_id is not None:
            sql += " AND c.document_id = ?"
            args.append(document_id)
        if within_budget:
            sql += " ORDER BY score LIMIT ?"
            args.append(n)
        else:
            # Even the rarest word is in more chunks than the budget (a library's "not" or "function"): its first
            # matches in index order are ranked, not all of them (at 1M chunks: 0.4-0.6 s a query otherwise), a
            # word that common being the weakest evidence BM25 has. (The subquery costs 5 %: only here.)
            sql = f"SELECT id, score FROM ({sql} LIMIT ?) ORDER BY score LIMIT ?"
            args.extend([self.keyword_match_budget, n])
        return [(int(r[0]), -float(r[1])) for r in rows(self.conn, sql, args)]

    def dense_ids(self, query_vector: np.ndarray, n: int, collection_ids: Sequence[int] | None = None,
                  document_id: int | None = None) -> list[tuple[int, float]]:
        """(chunk id, cosine), best first: candidates from the bits in memory, exact cosine to rank them."""
        index = binary_index_for(self.conn)
        candidates = max(n * self.oversample, 100) * (4 if document_id is not None else 1)
        ids = index.nearest(query_vector, candidates, collection_ids)
        if document_id is not None and ids:
            marks = ",".join("?" * len(ids))
            keep = {int(r[0]) for r in rows(self.conn, f"SELECT id FROM chunks WHERE id IN ({marks}) "
                                                       "AND document_id = ?", [*ids, document_id])}
            ids = [i for i in ids if i in keep]
        scored = self.rescore(query_vector, ids)
        return scored[:n]

    def rescore(self, query_vector: np.ndarray, ids: Sequence[int]) -> list[tuple[int, float]]:
        """Exact cosine of the query to these chunks' float vectors, best first."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        found = rows(self.conn, f"SELECT chunk_id, vector FROM chunk_embeddings WHERE chunk_id IN ({marks})",
                     list(ids))
        if not found:
            return []
        matrix = np.frombuffer(b"".join(bytes(r[1]) for r in found), dtype=np.float32).reshape(len(found), -1)
        scores = matrix @ query_vector.astype(np.float32)
        order = np.argsort(-scores)
        return [(int(found[i][0]), float(scores[i])) for i in order]

    def _chunk_rows(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        found = rows(self.conn,
                     "SELECT c.id, c.document_id, c.ordinal, c.page, c.section, c.start, c.end, c.text, d.path, "
                     f"d.title FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})",
                     list(ids))
        return {int(r[0]): ChunkRow(int(r[0]), int(r[1]), int(r[2]), r[3], str(r[4]), int(r[5]), int(r[6]),
                                    str(r[7]), from_db(r[8]), str(r[9])) for r in found}


def merge_neighbours(hits: list[Hit], chunk_rows: dict[int, ChunkRow]) -> list[Hit]:
    """Fold hits that are consecutive chunks of one document on one page into one passage."""
    merged: list[Hit] = []
    for hit in hits:
        ordinal = chunk_rows[hit.chunk_id].ordinal
        partner = next((m for m in merged if m.document_id == hit.document_id and m.page == hit.page
                        and any(abs(chunk_rows[c].ordinal - ordinal) == 1 for c in m.chunk_ids)), None)
        if partner is None:
            merged.append(hit)
            continue
        pieces = sorted([chunk_rows[c] for c in partner.chunk_ids] + [chunk_rows[hit.chunk_id]],
                        key=lambda r: r.ordinal)
        text, end = pieces[0].text, pieces[0].end
        anchors = [(0, pieces[0].start)]
        for piece in pieces[1:]:
            if piece.start < end:  # chunks overlap: append only what is new
                anchors.append((len(text), end))
                text += piece.text[end - piece.start:]
            else:
                text += "\n\n"
                anchors.append((len(text), piece.start))
                text += piece.text
            end = max(end, piece.end)
        partner.text, partner.start, partner.end, partner.anchors = text, pieces[0].start, end, tuple(anchors)
        partner.chunk_ids = tuple(p.id for p in pieces)
        partner.score = max(partner.score, hit.score)
        partner.similarity = max(partner.similarity, hit.similarity)
        for name, rank in hit.ranks.items():
            partner.ranks[name] = min(partner.ranks.get(name, rank), rank)
    return merged
