"""OCR on real files the tests write: a scanned PDF page, a photo of a page, a multi-page TIFF, a part-scanned PDF.

Each scan is a real text page rendered to pixels, so the text layer it came from says where every phrase is:
the highlight of a citation on the scan must land there.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from engine import paths
from engine.ingest import loaders
from engine.ingest.loaders import ocr
from engine.ingest.parser_process import ParserProcess
from engine.ingest.status import INDEXED_OCR, NEEDS_OCR, LoadError
from engine.ingest.sync import Indexer
from engine.page_render import PageView, find_pages, render_page
from engine.retrieval.search import Retriever
from engine.store.db import connect
from engine.store.index_store import IndexStore

PAGE = (420, 300)  # points: small pages keep each OCR call short
FEE = ("The harbour master collects the mooring fee every Tuesday morning. Boats longer than twelve "
       "metres pay double in winter, and the slipway closes at dusk.")
PHRASE = "mooring fee every Tuesday morning"


def text_page(document: pymupdf.Document, text: str, fontname: str = "helv") -> pymupdf.Page:
    page = document.new_page(width=PAGE[0], height=PAGE[1])
    page.insert_textbox(pymupdf.Rect(40, 40, PAGE[0] - 40, PAGE[1] - 40), text, fontsize=13, fontname=fontname)
    return page


def scanned(page: pymupdf.Page, dpi: int = 150) -> bytes:
    """The page as a PNG, the way a scanner would save it."""
    return bytes(page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB, alpha=False).tobytes("png"))


def write_scan_pdf(path: Path, pngs: list[bytes | str]) -> Path:
    """A PDF of pages that are only images (a str is a page with that text layer instead)."""
    document = pymupdf.open()
    for content in pngs:
        if isinstance(content, str):
            text_page(document, content)
        else:
            page = document.new_page(width=PAGE[0], height=PAGE[1])
            page.insert_image(page.rect, stream=content)
    document.save(path)
    return path


def phrase_rectangles(text: str, phrase: str) -> list[pymupdf.Rect]:
    """Where ``phrase`` lies on the original text page (one rectangle per line)."""
    document = pymupdf.open()
    return list(text_page(document, text).search_for(phrase))


def test_a_scanned_page_is_indexed_by_ocr_found_and_highlighted_where_the_phrase_is(  # type: ignore[no-untyped-def]
        tmp_path: Path, embedder) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    original = pymupdf.open()
    scan = write_scan_pdf(folder / "harbour-scan.pdf", [scanned(text_page(original, FEE))])
    store = IndexStore(connect(tmp_path / "index.sqlite3"))
    list(Indexer(store, embedder, max_file_bytes=2_000_000, parse_timeout_s=120).add([folder]))

    [record] = store.documents()
    assert (record.status, record.error, record.pages) == (INDEXED_OCR, "", 1)
    hit = Retriever(store.conn, embedder).search("When is the mooring fee collected?", k=1)[0]
    assert (hit.path, hit.page) == (str(scan), 1)
    assert PHRASE in " ".join(hit.text.split())

    view = PageView(mode="zoom", zoom=1.0)
    rendered = render_page(str(scan), 1, [PHRASE], view)
    expected = [tuple(c * rendered.pixels_per_point for c in (r.x0, r.y0, r.x1, r.y1))
                for r in phrase_rectangles(FEE, PHRASE)]
    assert len(rendered.highlights) == len(expected) >= 1
    # Half the font's size: OCR's word boxes hug the ink and end within a letter of it; MuPDF's span the font.
    tolerance = 6.5 * rendered.pixels_per_point
    for marked, truth in zip(rendered.highlights, expected, strict=True):
        assert all(abs(a - b) <= tolerance for a, b in zip(marked, truth, strict=True)), (marked, truth)


def test_a_photo_of_a_page_is_read_and_its_words_keep_their_place(tmp_path: Path) -> None:
    photo = tmp_path / "notice.png"
    page_image = Image.open(io.BytesIO(scanned(text_page(pymupdf.open(), FEE), dpi=120))).convert("L")
    page_image.rotate(0.6, fillcolor=235).save(photo)  # a hand-held photo: grey and slightly askew
    document = loaders.load(photo, max_bytes=10_000_000)
    assert document.kind == "png" and document.ocr_pages == (1,)
    assert "slipway closes at dusk" in " ".join(document.text.split())
    assert [p.number for p in document.pages] == [1]


def test_each_frame_of_a_tiff_is_a_page(tmp_path: Path) -> None:
    texts = ["Frame one lists the ferry timetable.", "Frame two names the lighthouse keeper Marguerite."]
    source = pymupdf.open()
    frames = [Image.open(io.BytesIO(scanned(text_page(source, t), dpi=100))) for t in texts]
    path = tmp_path / "fax.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    document = loaders.load(path, max_bytes=10_000_000)
    assert document.ocr_pages == (1, 2)
    pages = {p.number: " ".join(document.text[p.start:p.end].split()) for p in document.pages}
    assert "ferry timetable" in pages[1] and "Marguerite" in pages[2] and "Marguerite" not in pages[1]


def test_a_part_text_part_scan_pdf_reads_both_and_only_scans_go_to_ocr(tmp_path: Path) -> None:
    typed = "Page one is typed: the harbour opened in eighteen ninety-one."
    path = write_scan_pdf(tmp_path / "mixed.pdf", [typed, scanned(text_page(pymupdf.open(), FEE))])
    document = loaders.load(path, max_bytes=10_000_000)
    pages = {p.number: " ".join(document.text[p.start:p.end].split()) for p in document.pages}
    assert pages[1] == typed  # the text layer, word for word
    assert PHRASE in pages[2]
    assert document.ocr_pages == (2,)


def test_a_scan_with_a_few_stray_glyphs_in_its_text_layer_is_still_read(tmp_path: Path) -> None:
    path = write_scan_pdf(tmp_path / "stray.pdf", [scanned(text_page(pymupdf.open(), FEE))])
    document = pymupdf.open(path)
    document[0].insert_text((10, 290), "p. 3 ~", fontsize=6)  # what a scanner's bad OCR layer leaves behind
    document.save(tmp_path / "stray-layer.pdf")
    parsed = loaders.load(tmp_path / "stray-layer.pdf", max_bytes=10_000_000)
    assert parsed.ocr_pages == (1,) and "slipway" in parsed.text


def test_without_the_ocr_models_a_scan_says_so_and_text_pages_are_unaffected(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setenv(paths.MODELS_ENV, str(empty))  # the parser child starts with this environment
    scan = write_scan_pdf(tmp_path / "scan.pdf", [scanned(text_page(pymupdf.open(), FEE), dpi=72)])
    typed = write_scan_pdf(tmp_path / "typed.pdf", ["Only typed text here, about herons."])
    with ParserProcess(timeout_s=60) as parser:
        parser.submit(scan)
        with pytest.raises(LoadError) as failure:
            parser.result()
        parser.submit(typed)
        assert "herons" in parser.result().text
    assert failure.value.status == NEEDS_OCR
    assert "not installed" in failure.value.reason and "models install" in failure.value.reason


def test_a_model_file_that_does_not_match_its_checksum_is_refused(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.models_catalogue import OCR_CHARACTERS

    folder = tmp_path / "models"
    folder.mkdir()
    installed = Path(os.environ[paths.MODELS_ENV]) / OCR_CHARACTERS.file_name
    altered = bytearray(installed.read_bytes())
    altered[100] ^= 1  # same size, one bit changed
    (folder / OCR_CHARACTERS.file_name).write_bytes(bytes(altered))
    monkeypatch.setenv(paths.MODELS_ENV, str(folder))
    with pytest.raises(ocr.OcrUnavailableError, match="checksum"):
        ocr.verified_path(OCR_CHARACTERS)


def test_a_text_pdf_is_not_sent_to_ocr(tmp_path: Path) -> None:
    path = write_scan_pdf(tmp_path / "typed.pdf", [FEE])
    document = loaders.load(path, max_bytes=10_000_000)
    assert document.ocr_pages == () and PHRASE in " ".join(document.text.split())


def test_find_on_scanned_pages_counts_the_matches_and_marks_them_where_the_words_are(tmp_path: Path) -> None:
    lighthouse = "The lighthouse keeper rows out every evening. His boat is moored beside the ferry."
    path = write_scan_pdf(tmp_path / "scans.pdf", [scanned(text_page(pymupdf.open(), FEE)),
                                                   "Typed page: the ferry leaves at noon.",
                                                   scanned(text_page(pymupdf.open(), lighthouse))])
    assert find_pages(str(path), "Tuesday") == [(1, 1)]
    assert find_pages(str(path), "ferry") == [(2, 1), (3, 1)]  # the text layer and the scan alike
    assert find_pages(str(path), "MOOR") == [(1, 1), (3, 1)]  # inside a word, any case, as MuPDF finds
    assert find_pages(str(path), "no such words") == []

    rendered = render_page(str(path), 1, view=PageView(mode="zoom", zoom=1.0), find="every  Tuesday")
    truth = [r * rendered.pixels_per_point for r in phrase_rectangles(FEE, "every Tuesday")]
    assert len(rendered.found) == len(truth) == 2  # the phrase runs onto the next line
    tolerance = 6.5 * rendered.pixels_per_point  # as for the highlight above
    for found, expected in zip(rendered.found, truth, strict=True):
        assert all(abs(a - b) <= tolerance for a, b in zip(found, tuple(expected), strict=True)), (found, expected)


def test_a_scanned_japanese_page_is_read_with_its_kana_and_found_by_a_phrase(tmp_path: Path) -> None:
    notice = "港の係留料は毎週火曜日の朝に集められます。"  # the harbour's mooring fee, collected on Tuesday mornings
    path = write_scan_pdf(tmp_path / "notice-ja.pdf", [scanned(text_page(pymupdf.open(), notice, "japan"))])
    document = loaders.load(path, max_bytes=10_000_000)
    assert document.ocr_pages == (1,) and notice in document.text  # kana and all, with no spaces put in
    assert find_pages(str(path), "火曜日の朝") == [(1, 1)]


def test_a_search_of_a_long_scan_stops_in_time_says_how_far_it_got_and_goes_on_when_asked_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.page_render

    scans: list[bytes | str] = [scanned(text_page(pymupdf.open(), f"Page {n} of the logbook names the ferry."), dpi=100)
                                for n in (1, 2, 3)]
    path = write_scan_pdf(tmp_path / "logbook.pdf", scans)
    monkeypatch.setattr(engine.page_render, "FIND_OCR_BUDGET_S", 0.0)  # each search has time for one page
    for searched in (1, 2):
        with pytest.raises(LoadError, match=f"searched {searched} of 3 pages: .*search again"):
            find_pages(str(path), "ferry")
    assert find_pages(str(path), "ferry") == [(1, 1), (2, 1), (3, 1)]
    assert find_pages(str(path), "logbook") == [(1, 1), (2, 1), (3, 1)]  # all read now: no time limit reached
