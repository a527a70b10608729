"""Loaders on real files written into tmp_path: PDF, EPUB, text encodings, Markdown, HTML, DOCX."""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import pymupdf
import pytest

from engine.ingest.loaders import SUPPORTED_EXTENSIONS, format_size, load
from engine.ingest.status import EMPTY, FAILED, NEEDS_PASSWORD, SKIPPED, LoadError
from engine.records import ParsedDocument

MAX = 10 * 2**20
AES_256: int = pymupdf.PDF_ENCRYPT_AES_256  # type: ignore[attr-defined]  # missing from the stubs


def _load(path: Path, max_bytes: int = MAX) -> ParsedDocument:
    return load(path, max_bytes=max_bytes)


def _error(path: Path, max_bytes: int = MAX) -> LoadError:
    with pytest.raises(LoadError) as info:
        load(path, max_bytes=max_bytes)
    return info.value


def _pdf(pages: list[str], title: str = "") -> pymupdf.Document:
    document = pymupdf.open()
    for text in pages:
        page = document.new_page()
        page.insert_text((72, 72), text, fontsize=11)
    if title:
        document.set_metadata({"title": title})
    return document


# --- PDF and friends -----------------------------------------------------------------------------


def test_pdf_pages_text_and_title(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    _pdf(["Alpha on page one.", "Bravo on page two.", "Charlie on page three."], title="Quarterly Report").save(path)
    doc = _load(path)
    assert doc.kind == "pdf"
    assert doc.title == "Quarterly Report"
    assert [p.number for p in doc.pages] == [1, 2, 3]
    for page, word in zip(doc.pages, ["Alpha", "Bravo", "Charlie"], strict=True):
        assert word in doc.text[page.start : page.end]
    assert doc.text == "\n\n".join(doc.text[p.start : p.end] for p in doc.pages)
    assert doc.page_at(doc.text.index("Charlie")) == 3


def test_pdf_title_falls_back_to_first_line(tmp_path: Path) -> None:
    path = tmp_path / "untitled.pdf"
    _pdf(["Minutes of the meeting"]).save(path)
    assert _load(path).title == "Minutes of the meeting"


def test_pdf_two_columns_read_column_by_column(tmp_path: Path) -> None:
    document = pymupdf.open()
    page = document.new_page()
    for column, x in (("L", 50), ("R", 320)):
        y = 90.0
        for paragraph in range(3):
            for line in range(4):
                page.insert_text((x, y), f"{column}{paragraph}.{line} column text here", fontsize=9)
                y += 11
            y += 8  # both columns break paragraphs at the same heights
    path = tmp_path / "columns.pdf"
    document.save(path)
    text = _load(path).text
    order = [text.index(f"{c}{p}.{line}") for c in "LR" for p in range(3) for line in range(4)]
    assert order == sorted(order)


def test_pdf_dehyphenates_line_breaks(tmp_path: Path) -> None:
    document = pymupdf.open()
    page = document.new_page()
    page.insert_text((72, 72), "the exam-", fontsize=11)
    page.insert_text((72, 85), "ple shows it", fontsize=11)
    path = tmp_path / "hyphen.pdf"
    document.save(path)
    assert "example shows" in _load(path).text


def test_pdf_keeps_hyphens_the_document_writes(tmp_path: Path) -> None:
    """A compound broken at its own hyphen keeps it when the document writes it hyphenated elsewhere."""
    document = pymupdf.open()
    page = document.new_page()
    lines = ["a polynomial-time algorithm is fast; a polynomial-", "time bound and an NP-", "complete problem,",
             "NP-complete as ever, a state-of-", "the-art method, a docu-", "ment for Jean-", "Paul."]
    for number, line in enumerate(lines):
        page.insert_text((72, 72 + 13 * number), line, fontsize=11)
    path = tmp_path / "compounds.pdf"
    document.save(path)
    text = " ".join(_load(path).text.split())
    for expected in ["a polynomial-time bound", "an NP-complete problem", "a state-of-the-art method",
                     "a document for", "Jean-Paul."]:
        assert expected in text


def test_encrypted_pdf_needs_its_password(tmp_path: Path) -> None:
    path = tmp_path / "secret.pdf"
    _pdf(["classified"]).save(path, encryption=AES_256, owner_pw="owner", user_pw="user")
    error = _error(path)
    assert (error.status, error.reason) == (NEEDS_PASSWORD, "encrypted: needs a password")
    assert "classified" in load(path, max_bytes=MAX, password="user").text


def test_owner_password_only_pdf_loads(tmp_path: Path) -> None:
    path = tmp_path / "restricted.pdf"
    _pdf(["readable text"]).save(path, encryption=AES_256, owner_pw="owner")
    assert "readable text" in _load(path).text


def test_blank_scanned_pdf_is_empty_after_ocr(tmp_path: Path) -> None:
    document = pymupdf.open()
    page = document.new_page()
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 40, 40), False)
    pixmap.clear_with(200)
    page.insert_image(page.rect, pixmap=pixmap)
    path = tmp_path / "scan.pdf"
    document.save(path)
    error = _error(path)
    assert (error.status, error.reason) == (EMPTY, "no text found: OCR read nothing on page 1")


def test_blank_pdf_is_empty(tmp_path: Path) -> None:
    document = pymupdf.open()
    document.new_page()
    path = tmp_path / "blank.pdf"
    document.save(path)
    assert _error(path).status == EMPTY


@pytest.mark.parametrize(("content", "reason"), [
    # a PDF header, then bytes with no end-of-file marker: what a download cut off mid-way looks like
    (b"%PDF-1.7\n" + bytes(range(256)) * 8, "damaged: the file is cut short and the reader could not repair it"),
    (b"this is not a pdf at all", "corrupt or unreadable PDF: "),
])
def test_corrupt_pdf_fails(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(content)
    error = _error(path)
    assert error.status == FAILED
    assert error.reason.startswith(reason)


def test_truncated_pdf_fails(tmp_path: Path) -> None:
    path = tmp_path / "truncated.pdf"
    path.write_bytes(_pdf(["some text"]).tobytes()[:200])
    assert _error(path).status == FAILED


def test_html_saved_as_pdf_says_so(tmp_path: Path) -> None:
    path = tmp_path / "download.pdf"
    path.write_bytes(b"<!DOCTYPE html><html><body>404 Not Found</body></html>")
    error = _error(path)
    assert error.status == FAILED
    assert "HTML" in error.reason


def _epub_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")  # first and stored
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        archive.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">book-1</dc:identifier>'
            "<dc:title>The Lighthouse</dc:title><dc:language>en</dc:language></metadata>"
            '<manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
            '<spine><itemref idref="c1"/></spine></package>',
        )
        archive.writestr(
            "OEBPS/c1.xhtml",
            '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>One</title>'
            "</head><body><h1>Chapter One</h1><p>The keeper counted seventeen ships.</p></body></html>",
        )
    return buffer.getvalue()


def test_epub(tmp_path: Path) -> None:
    path = tmp_path / "book.epub"
    path.write_bytes(_epub_bytes())
    doc = _load(path)
    assert doc.kind == "epub"
    assert doc.title == "The Lighthouse"
    assert "The keeper counted seventeen ships." in doc.text
    assert doc.pages and doc.pages[0].number == 1


# --- text ----------------------------------------------------------------------------------------


def test_markdown_headings(tmp_path: Path) -> None:
    source = (
        "---\ntitle: front matter\n---\n"
        "# Install Guide\r\n\r\nIntro text.\r\n\r\n"
        "Setup\n-----\n\nRun it.\n\n"
        "```sh\n# not a heading\n```\n\n"
        "### Deep dive ###\n\nDetails.\n"
    )
    path = tmp_path / "guide.md"
    path.write_bytes(source.encode())
    doc = _load(path)
    assert doc.kind == "markdown"
    assert "\r" not in doc.text
    assert [(h.level, h.title) for h in doc.headings] == [(1, "Install Guide"), (2, "Setup"), (3, "Deep dive")]
    for heading in doc.headings:
        assert doc.text[heading.offset :].startswith(("#", heading.title))
    assert doc.title == "Install Guide"
    assert doc.heading_at(doc.text.index("Run it")) == "Setup"


def test_rst_headings(tmp_path: Path) -> None:
    path = tmp_path / "notes.rst"
    path.write_text("=====\nTitle\n=====\n\nIntro.\n\nSection A\n---------\n\nBody.\n\nSection B\n---------\n\nMore.\n")
    doc = _load(path)
    assert [(h.level, h.title) for h in doc.headings] == [(1, "Title"), (2, "Section A"), (2, "Section B")]
    assert doc.headings[0].offset == 0


def test_plain_text_title_is_stem(tmp_path: Path) -> None:
    path = tmp_path / "meeting notes.txt"
    path.write_text("Nothing special here.\n")
    doc = _load(path)
    assert (doc.kind, doc.title, doc.headings) == ("text", "meeting notes", [])


def test_source_code(tmp_path: Path) -> None:
    path = tmp_path / "main.py"
    path.write_text("# comment, not a heading\ndef main() -> None:\n    pass\n")
    doc = _load(path)
    assert (doc.kind, doc.title, doc.headings) == ("code", "main.py", [])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_text_with_bom(tmp_path: Path, encoding: str) -> None:
    text = "Grüße aus Köln\nZweite Zeile — ok\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(data)
    assert _load(path).text == text


def test_utf16_without_bom(tmp_path: Path) -> None:
    path = tmp_path / "nobom.txt"
    path.write_bytes("Plain words in UTF-16 without a byte order mark.\n".encode("utf-16-le"))
    assert _load(path).text.startswith("Plain words in UTF-16")


def test_cp1252_text(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("café naïve Straße — “quoted”".encode("cp1252"))
    assert _load(path).text == "café naïve Straße — “quoted”"


def test_shift_jis_text(tmp_path: Path) -> None:
    text = "日本語のテキストです。これは文字コードの検出のテストです。"
    path = tmp_path / "japanese.txt"
    path.write_bytes(text.encode("shift_jis"))
    assert _load(path).text == text


@pytest.mark.parametrize(
    ("content", "looks_like"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
        (b"\x7fELF\x02\x01\x01" + bytes(100), "ELF"),
        (bytes(range(256)) * 4, None),
    ],
)
def test_binary_under_text_extension_is_skipped(tmp_path: Path, content: bytes, looks_like: str | None) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    error = _error(path)
    assert error.status == SKIPPED
    assert "binary content" in error.reason
    assert "(the extension says .txt)" in error.reason
    if looks_like:
        assert looks_like in error.reason


@pytest.mark.parametrize("content", [b"", b"  \n\t\r\n  "])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.md"
    path.write_bytes(content)
    error = _error(path)
    assert (error.status, error.reason) == (EMPTY, "empty file")


def test_too_large_is_skipped_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 5000)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("read a file over the limit")

    monkeypatch.setattr("engine.ingest.loaders.open_regular", refuse)
    error = _error(path, max_bytes=2048)
    assert (error.status, error.reason) == (SKIPPED, "too large: 4.9 KB (limit 2.0 KB)")
    assert format_size(612 * 2**20) == "612 MB"
    assert format_size(200 * 2**20) == "200 MB"


def test_unreadable_file_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.txt"
    path.write_text("secret")
    path.chmod(0)
    try:
        if os.geteuid() == 0:  # root reads through chmod 000: make the open itself fail
            real_open = os.open

            def denied(file: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
                if str(file) == str(path):
                    raise PermissionError(13, "Permission denied")
                return real_open(file, flags, mode, dir_fd=dir_fd)

            monkeypatch.setattr(os, "open", denied)
        error = _error(path)
    finally:
        path.chmod(0o600)
    assert (error.status, error.reason) == (FAILED, "cannot read: permission denied")


def test_missing_file_fails(tmp_path: Path) -> None:
    assert _error(tmp_path / "gone.txt").status == FAILED


def test_odd_path(tmp_path: Path) -> None:
    folder = tmp_path / "My Documents ü 📁"
    folder.mkdir()
    path = folder / "Résumé 2024 ✓ final (copy).MD"
    path.write_text("# Résumé\n\nExperience.\n", encoding="utf-8")
    doc = _load(path)
    assert doc.title == "Résumé"


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "old.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    assert _error(path).status == SKIPPED


def test_supported_extensions() -> None:
    assert {".pdf", ".epub", ".md", ".txt", ".rst", ".py", ".html", ".htm", ".docx"} <= SUPPORTED_EXTENSIONS
    assert ".doc" not in SUPPORTED_EXTENSIONS
    assert all(ext == ext.lower() and ext.startswith(".") for ext in SUPPORTED_EXTENSIONS)


# --- HTML ----------------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Tides &amp; Moons</title>
<style>body { color: red }</style><script>var hidden = "SCRIPT TEXT";</script></head>
<body>
<header><a href="/">Site banner</a></header>
<nav><ul><li>Home</li><li>About</li></ul></nav>
<main>
<article>
<h1>Tides</h1>
<p>The moon&rsquo;s pull raises   the
sea &mdash; twice a day.</p>
<div hidden>Hidden text</div><span aria-hidden="true">icon</span>
<h2>Spring tides</h2>
<p>Sun and moon align.<br>New line here.</p>
<table><tr><th>Tide</th><th>Height</th></tr><tr><td>Spring</td><td>High</td></tr></table>
<noscript>Enable JS</noscript>
</article>
<aside>Related links</aside>
</main>
<footer>Copyright</footer>
</body></html>"""


def test_html_main_text(tmp_path: Path) -> None:
    path = tmp_path / "tides.html"
    path.write_text(_PAGE, encoding="utf-8")
    doc = _load(path)
    assert doc.kind == "html"
    assert doc.title == "Tides & Moons"
    for dropped in ("SCRIPT", "color", "Site banner", "Home", "Hidden text", "icon", "Related", "Copyright", "Enable"):
        assert dropped not in doc.text
    assert "The moon’s pull raises the sea — twice a day." in doc.text
    assert "Sun and moon align.\nNew line here." in doc.text
    assert "Tide: Spring | Height: High" in doc.text  # each row with its header
    assert [(h.level, h.title) for h in doc.headings] == [(1, "Tides"), (2, "Spring tides")]
    for heading in doc.headings:
        assert doc.text[heading.offset :].startswith(heading.title)
    assert "\n\n" in doc.text


def test_html_without_main_keeps_body_and_meta_charset(tmp_path: Path) -> None:
    page = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"></head>'
    page += "<body><p>Caf\xe9 cr\xe8me</p><p>Second paragraph</body></html>"
    path = tmp_path / "legacy.htm"
    path.write_bytes(page.encode("cp1252"))
    doc = _load(path)
    assert doc.text == "Café crème\n\nSecond paragraph"
    assert doc.title == "legacy"


def test_html_with_only_scripts_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "app.html"
    path.write_text("<html><body><script>render()</script></body></html>")
    assert _error(path).status == EMPTY


# --- DOCX ----------------------------------------------------------------------------------------


def test_docx(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Field Manual"
    document.add_heading("Overview", level=1)
    document.add_paragraph("First paragraph with\tTab.")
    document.add_heading("Details", level=2)
    paragraph = document.add_paragraph("Line one")
    paragraph.add_run().add_break()
    paragraph.add_run("line two")
    table = document.add_table(rows=2, cols=2)
    for (row, col), value in {(0, 0): "Name", (0, 1): "Value", (1, 0): "depth", (1, 1): "12 m"}.items():
        table.cell(row, col).text = value
    document.add_paragraph("After the table.")
    path = tmp_path / "manual.docx"
    document.save(str(path))
    doc = _load(path)
    assert doc.kind == "docx"
    assert doc.title == "Field Manual"
    assert [(h.level, h.title) for h in doc.headings] == [(1, "Overview"), (2, "Details")]
    assert "First paragraph with\tTab." in doc.text
    assert "Line one\nline two" in doc.text
    assert "Name: depth | Value: 12 m" in doc.text  # each row with its header
    assert doc.text.index("12 m") < doc.text.index("After the table.")
    for heading in doc.headings:
        assert doc.text[heading.offset :].startswith(heading.title)


def test_docx_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"just some text pretending")
    error = _error(path)
    assert error.status == FAILED
    assert error.reason.startswith("corrupt Word file: ")


def test_docx_without_document_xml(tmp_path: Path) -> None:
    path = tmp_path / "hollow.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    error = _error(path)
    assert error.status == FAILED
    assert error.reason.startswith("corrupt Word file: ")


def test_utf8_with_a_few_stray_bytes_stays_utf8(tmp_path: Path) -> None:
    """A damaged UTF-8 note: the bad bytes become U+FFFD, the rest is not re-read as a legacy charset."""
    data = ("# Café notes\n\nThe café in Zürich serves crème brûlée.\n".encode()
            + b"Stray \xff byte, \xfe another,\x80 and \x81 the last.\n")
    path = tmp_path / "damaged.md"
    path.write_bytes(data)
    text = _load(path).text
    assert "The café in Zürich serves crème brûlée." in text and text.startswith("# Café notes")
    assert text.count("\ufffd") == 4 and "Stray \ufffd byte" in text


def test_legacy_text_with_one_odd_pair_is_still_legacy(tmp_path: Path) -> None:
    text = "Er sagte „Fuß“ und ging über die Brücke. Die Größe der Äpfel überraschte alle Gäste.\n" * 3
    path = tmp_path / "german.txt"
    path.write_bytes(text.encode("cp1252"))  # "ß“" is DF 93: by chance a valid UTF-8 sequence
    assert _load(path).text == text


@pytest.mark.parametrize("body", [b"# Notes\n\nPlain ASCII text about herons and owls, nothing wide.\n",
                                  "# Notes\n\nA café in Zürich, written in UTF-8 after a stray mark.\n".encode()])
def test_a_stray_utf16_byte_order_mark_is_not_read_as_utf16(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "marked.md"
    path.write_bytes(b"\xff\xfe" + body)
    text = _load(path).text
    assert text.lstrip("\ufffd").startswith("# Notes") and ("herons" in text or "Zürich" in text)
    assert not any("\u3000" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af" for c in text)  # no CJK garbage


def test_real_utf16_cjk_with_a_byte_order_mark(tmp_path: Path) -> None:
    text = "東京の天気は晴れです。\n明日は雨が降るでしょう。\n"
    path = tmp_path / "japanese.txt"
    path.write_bytes(text.encode("utf-16"))
    assert _load(path).text == text


_LOAD_AND_MEASURE = """
import json, resource, sys, time
from pathlib import Path
from engine.ingest.loaders import load
from engine.ingest.status import LoadError
started = time.monotonic()
try:
    load(Path(sys.argv[1]), max_bytes=200 * 2**20)
    outcome = ["indexed", ""]
except LoadError as error:
    outcome = [error.status, error.reason]
try:  # this process's own peak (ru_maxrss would count the parent's peak from before exec)
    peak_mb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) // 1024
except OSError:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps([*outcome, time.monotonic() - started, peak_mb]))
"""


# (kind, MB it unpacks to, size its header declares, status, reason)
@pytest.mark.parametrize("case", [
    ("docx", 80, None, SKIPPED, r"word/document.xml unpacks to \d+ MB \(limit 64 MB\)"),
    ("docx", 80, 1000, FAILED, "Bad CRC-32"),  # the header says 1 KB
    ("docx", 80, 60 * 2**20, FAILED, "Bad CRC-32"),  # it says 60 MB, under the limit: reading stops there
    ("epub", 40, None, SKIPPED, r"\d+ MB of text and markup inside \(limit 32 MB\)"),
    ("epub", 40, 1000, FAILED, "Bad CRC-32"),
])
def test_archive_bombs_are_refused_in_bounded_time_and_memory(
        tmp_path: Path, case: tuple[str, int, int | None, str, str]) -> None:
    import json
    import subprocess
    import sys

    from tests.support.documents import write_zip_bomb

    kind, unpacked_mb, declared, status, reason = case
    path = write_zip_bomb(tmp_path / f"bomb.{kind}", kind, unpacked_mb, declared_bytes=declared)
    assert path.stat().st_size < 2**20  # a small file
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", _LOAD_AND_MEASURE, str(path)], cwd=root, capture_output=True,
                            text=True, timeout=120, check=True)
    found_status, found_reason, seconds, peak_mb = json.loads(result.stdout)
    assert found_status == status and re.search(reason, found_reason), found_reason
    assert seconds < 10 and peak_mb < 400, (seconds, peak_mb)  # the loaders alone take ~150 MB
