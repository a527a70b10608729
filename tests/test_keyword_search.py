"""The keyword half of hybrid search on a real SQLite library: FTS5 alone for the whole library, the same
ranking through the collection filter, the commonest words left out where they would cost the most, and the
words' counts remembered until the index changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.embedding.embedder import Embedder
from engine.library import SqliteLibrary
from engine.records import ChunkSpan
from engine.retrieval.search import Retriever, affordable_words
from engine.store.db import rows
from engine.store.index_store import IndexStore, NewDocument

PRINTER_PAGES = [f"Chapter {i} of the manual covers the printer settings of floor {i}." for i in range(30)]
HARBOUR_PAGES = ["The harbour master is Ingrid Solberg.", "The printer of the harbour office jams on Mondays."]


def _write(store: IndexStore, embedder: Embedder, collection: int, path: str, texts: list[str]) -> int:
    spans = [ChunkSpan(text=t, start=i * 100, end=i * 100 + len(t), page=i + 1, section="")
             for i, t in enumerate(texts)]
    return store.write_document(NewDocument(collection, path, "text", Path(path).name, 10, 1, path, 1, 4), spans,
                                embedder.embed(texts), [f"{path}-{i}" for i in range(len(texts))])


@pytest.fixture
def library(tmp_path: Path, embedder: Embedder) -> Iterator[tuple[Retriever, int]]:
    library = SqliteLibrary(tmp_path / "library.sqlite3")
    conn = library.connect()
    store = library.index_store(conn)
    store.ensure_embedder(embedder.name, embedder.dim)
    collection = store.collection_id("Manuals")
    assert collection is not None
    for path, texts in (("/docs/printer.txt", PRINTER_PAGES), ("/docs/harbour.txt", HARBOUR_PAGES)):
        _write(store, embedder, collection, path, texts)
    searcher = library.searcher(conn, embedder, "relative")
    assert isinstance(searcher, Retriever)
    yield searcher, collection
    conn.close()


def _texts(searcher: Retriever, scored: list[tuple[int, float]]) -> list[str]:
    return [str(rows(searcher.conn, "SELECT text FROM chunks WHERE id = ?", (cid,))[0][0]) for cid, _ in scored]


def test_the_whole_library_and_its_collection_rank_alike(library: tuple[Retriever, int]) -> None:
    searcher, collection = library
    whole = searcher.keyword_ids("printer harbour office", 40)
    assert len(whole) == 32  # every chunk holds one of the words: all are found, the budget is not reached
    assert _texts(searcher, whole[:1]) == [HARBOUR_PAGES[1]]  # all three words, the rarest among them
    assert [s for _, s in whole] == sorted((s for _, s in whole), reverse=True)
    assert searcher.keyword_ids("printer harbour office", 40, [collection]) == whole


def test_past_the_budget_the_commonest_word_is_left_out(library: tuple[Retriever, int]) -> None:
    searcher, collection = library
    searcher.keyword_match_budget = 10  # fewer than the 31 chunks that say "printer"
    pruned = searcher.keyword_ids("printer harbour", 40)
    assert sorted(_texts(searcher, pruned)) == sorted(HARBOUR_PAGES)  # "harbour" alone: 2 chunks
    assert searcher.keyword_ids("printer harbour", 40, [collection]) == pruned
    # A word alone is searched however common, in no more of its chunks than the budget (at 1M chunks, ranking
    # all 200k chunks that say "not" took 0.4-0.6 s).
    common = searcher.keyword_ids("printer", 40)
    assert len(common) == 10 and all("printer" in text.lower() for text in _texts(searcher, common))
    assert len(searcher.keyword_ids("printer", 5)) == 5
    searcher.keyword_match_budget = 100
    assert len(searcher.keyword_ids("printer", 40)) == 31


def test_the_rarest_words_are_kept_in_the_question_order() -> None:
    frequencies = {"printer": 900, "harbour": 40, "solberg": 2, "master": 70}
    assert affordable_words(["printer", "harbour", "master", "solberg"], frequencies, 120) == \
        ["harbour", "master", "solberg"]
    assert affordable_words(["printer", "harbour", "master", "solberg"], frequencies, 100) == ["harbour", "solberg"]
    assert affordable_words(["printer", "harbour"], frequencies, 10) == ["harbour"]  # over budget: the rarest


def test_word_counts_are_remembered_until_the_index_changes(library: tuple[Retriever, int], embedder: Embedder,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    searcher, collection = library
    searcher.keyword_match_budget = 10
    counted: list[str] = []
    count = Retriever._count_chunks

    def spy(self: Retriever, word: str, limit: int) -> int:
        counted.append(word)
        return count(self, word, limit)

    monkeypatch.setattr(Retriever, "_count_chunks", spy)
    assert len(searcher.keyword_ids("printer harbour", 40)) == 2  # "harbour" alone, in 2 chunks: all ranked
    assert sorted(counted) == ["harbour", "printer"]
    counted.clear()
    assert len(searcher.keyword_ids("harbour printer", 40)) == 2
    assert counted == []  # the next question's search counted nothing again
    # Another connection (as indexing has) writes nine more chunks that say "harbour": 11, past the budget, so
    # only the budget's first 10 matches are ranked. A count remembered from before the write would let all 11
    # through.
    writer = SqliteLibrary(Path(searcher.conn.filename))
    writer_conn = writer.connect()
    store = writer.index_store(writer_conn)
    berths = _write(store, embedder, collection, "/docs/berths.txt",
                    [f"Berth {i} of the harbour is free." for i in range(9)])
    assert len(searcher.keyword_ids("printer harbour", 40)) == 10
    assert sorted(counted) == ["harbour", "printer"]
    store.delete_document(berths)  # and deleted again: back to the 2 harbour pages
    assert len(searcher.keyword_ids("printer harbour", 40)) == 2
    writer_conn.close()
