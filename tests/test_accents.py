"""Accents a PDF writes apart from their letters are joined at load time; keyword search folds accents."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from engine.ingest import loaders
from engine.ingest.accents import compose_accents, normalise_document
from engine.ingest.sync import Indexer
from engine.page_render import PageView, render_page
from engine.records import Heading, PageSpan, ParsedDocument
from engine.retrieval.search import Retriever
from engine.store.db import connect
from engine.store.index_store import IndexStore

# What a text layer gives for a German and a French sentence typeset with accents drawn as glyphs of their own.
GERMAN_SPLIT = "Die Ausgabe wird im Handbuch erkl\u00a8art, Seite f\u00a8ur Seite."
FRENCH_SPLIT = "Le mode Ex\u00b4ecution est d\u00b4ecrit ici."
# A line of nothing but split words: its highlight lands only if the page's words are joined as the text was.
ALL_SPLIT = "Pr\u00a8azise Ausf\u00a8uhrung f\u00a8ur \u00a8Uberg\u00a8ange erkl\u00a8art"


@pytest.mark.parametrize(("split", "composed"), [
    ("erkl\u00a8art", "erklärt"),  # diaeresis before the letter
    ("Ex\u00b4ecution", "Exécution"),  # acute before the letter
    ("e\u00b4", "é"),  # acute after it
    ("e\u00b4t\u00b4e", "été"),
    ("probl\u0060eme, r\u005eole", "problème, rôle"),  # ASCII grave and circumflex inside a word
    ("Espa\u02dcna", "España"),
    ("gar\u00b8con", "garçon"),  # cedilla after its letter: c takes it, o cannot
    ("erkl\u0308art", "erklärt"),  # a combining accent on a letter that cannot take it, moved to the next
    ("\u0301ecole", "école"),
    ("re\u0301sume\u0301", "résumé"),  # decomposed text in NFC
])
def test_split_accents_are_joined_to_their_letter(split: str, composed: str) -> None:
    assert compose_accents(split) == composed


@pytest.mark.parametrize("kept", [
    "x^2 + y^2", "~/notes and `code` or a~b", "don\u00b4t, it\u00b4s, we\u00b4re", "Vie\u0302\u0323t Nam",
    "Grüße, naïve café", "plain ASCII text",
])
def test_text_that_is_not_split_accents_is_kept(kept: str) -> None:
    import unicodedata

    assert compose_accents(kept) == unicodedata.normalize("NFC", kept)


def test_pages_and_headings_still_point_at_their_text() -> None:
    pages = ["Erste Seite: erkl\u00a8art.", "Zweite Seite: f\u00a8ur alle."]
    text = pages[0] + "\n\n" + pages[1]
    second = len(pages[0]) + 2
    document = ParsedDocument(text=text, kind="pdf", title="Handbuch f\u00a8ur alle",
                              pages=[PageSpan(1, 0, len(pages[0])), PageSpan(2, second, len(text))],
                              headings=[Heading(second, 1, "Zweite Seite f\u00a8ur")])
    normalised = normalise_document(document)
    assert normalised.text == "Erste Seite: erklärt.\n\nZweite Seite: für alle."
    assert [normalised.text[p.start:p.end] for p in normalised.pages] == ["Erste Seite: erklärt.",
                                                                        "Zweite Seite: für alle."]
    assert normalised.headings[0].offset == normalised.pages[1].start
    assert (normalised.title, normalised.headings[0].title) == ("Handbuch für alle", "Zweite Seite für")


def write_split_accent_pdf(path: Path) -> Path:
    """A real PDF whose text layer holds the spacing diacritics beside the letters, as typeset manuals do."""
    document = pymupdf.open()
    document.new_page().insert_text((72, 72), "Seite eins: nichts hier.")
    page = document.new_page()
    page.insert_text((72, 72), GERMAN_SPLIT, fontsize=11)
    page.insert_text((72, 100), FRENCH_SPLIT, fontsize=11)
    page.insert_text((72, 128), ALL_SPLIT, fontsize=11)
    document.save(path)
    document.close()
    return path


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    return IndexStore(connect(tmp_path / "index.sqlite3"))


def test_an_accent_split_pdf_is_found_by_the_properly_spelt_word_and_highlighted(  # type: ignore[no-untyped-def]
        tmp_path: Path, store: IndexStore, embedder) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    path = write_split_accent_pdf(folder / "handbuch.pdf")
    with pymupdf.open(path) as document:
        assert "erkl\u00a8art" in document[1].get_text()  # the text layer really is split
    loaded = loaders.load(path, max_bytes=1_000_000)
    assert "erklärt" in loaded.text and "\u00a8" not in loaded.text and "\u00b4" not in loaded.text

    list(Indexer(store, embedder, max_file_bytes=1_000_000, parse_timeout_s=20).add([folder], "Test"))
    retriever = Retriever(store.conn, embedder)
    for word in ("erklärt", "Exécution", "décrit"):
        hits = retriever.search(word, k=3, mode="keyword")
        assert hits and hits[0].page == 2, word
        assert word in hits[0].text

    quote = "Präzise Ausführung für Übergänge erklärt."
    rendered = render_page(str(path), 2, [quote], PageView("zoom", 1.0))
    with pymupdf.open(path) as document:
        line = document[1].search_for("Ausf")[0]
        other = document[1].search_for("Handbuch")[0]
    marks = [pymupdf.Rect(*(v / rendered.pixels_per_point for v in box)) for box in rendered.highlights]
    assert any(mark.intersects(line) for mark in marks)
    assert not any(mark.intersects(other) for mark in marks)


def test_keyword_search_folds_accents(tmp_path: Path, store: IndexStore, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "cv.txt").write_text("Her résumé lists three harbours.\n", "utf-8")
    (folder / "plain.txt").write_text("The resume of the meeting was short.\n", "utf-8")
    (folder / "city.md").write_text("# Trip\n\nThe lake ferry leaves Zürich at nine.\n", "utf-8")
    list(Indexer(store, embedder, max_file_bytes=1_000_000, parse_timeout_s=20).add([folder], "Test"))
    retriever = Retriever(store.conn, embedder)

    def found(query: str) -> set[str]:
        return {Path(hit.path).name for hit in retriever.search(query, k=5, mode="keyword")}

    assert found("resume") == {"cv.txt", "plain.txt"}
    assert found("résumé") == {"cv.txt", "plain.txt"}
    assert found("Zurich") == {"city.md"}
    assert found("ZÜRICH") == {"city.md"}
