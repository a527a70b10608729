"""Write real documents of every supported kind (PyMuPDF PDFs and EPUB, python-docx, HTML, text)."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import pymupdf


def write_pdf(path: Path, pages: Sequence[str]) -> Path:
    """One page per string, text laid out in a box so long paragraphs wrap."""
    document = pymupdf.open()
    for text in pages:
        page = document.new_page()
        page.insert_textbox(pymupdf.Rect(56, 56, 540, 790), text, fontsize=10)
    document.save(path)
    document.close()
    return path


def write_encrypted_pdf(path: Path, text: str, password: str = "secret") -> Path:
    document = pymupdf.open()
    document.new_page().insert_text((72, 72), text)
    aes_256 = pymupdf.PDF_ENCRYPT_AES_256  # type: ignore[attr-defined]
    document.save(path, encryption=aes_256, owner_pw="owner", user_pw=password)
    document.close()
    return path


def write_scanned_pdf(path: Path) -> Path:
    """A page holding only an image: what a scanner produces without OCR."""
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 200, 100), False)
    pixmap.set_rect(pixmap.irect, (200, 200, 200))
    document = pymupdf.open()
    document.new_page().insert_image(pymupdf.Rect(50, 50, 450, 250), pixmap=pixmap)
    document.save(path)
    document.close()
    return path


def write_docx(path: Path, heading: str, paragraphs: Sequence[str], table: Sequence[Sequence[str]] = ()) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                grid.cell(r, c).text = cell
    document.save(str(path))
    return path


def write_epub(path: Path, title: str, body: str) -> Path:
    container = ('<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:'
                 'container"><rootfiles><rootfile full-path="content.opf" media-type="application/oebps-package+xml"/>'
                 "</rootfiles></container>")
    opf = (f'<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
           f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title>'
           '<dc:identifier id="id">x</dc:identifier><dc:language>en</dc:language></metadata>'
           '<manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
           '<spine><itemref idref="c1"/></spine></package>')
    chapter = (f'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head>'
               f"<body><h1>{title}</h1><p>{body}</p></body></html>")
    with zipfile.ZipFile(path, "w") as epub:
        epub.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        epub.writestr("META-INF/container.xml", container)
        epub.writestr("content.opf", opf)
        epub.writestr("c1.xhtml", chapter)
    return path


_DOCX_TYPES = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
               '<Default Extension="xml" ContentType="application/xml"/></Types>')
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def write_zip_bomb(path: Path, kind: str, unpacked_mb: int, *, declared_bytes: int | None = None) -> Path:
    """A small DOCX or EPUB whose main part unpacks to ``unpacked_mb`` MB of real markup (written in pieces,
    so the test never holds it). ``declared_bytes`` makes its zip headers understate that size."""
    part = "word/document.xml" if kind == "docx" else "c1.xhtml"
    paragraph = (f"<w:p><w:r><w:t>{'tide ' * 180}</w:t></w:r></w:p>" if kind == "docx"
                 else f"<p>{'tide ' * 180}</p>")
    head, tail = ((f'<?xml version="1.0"?><w:document xmlns:w="{_W_NS}"><w:body>', "</w:body></w:document>")
                  if kind == "docx" else ('<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>',
                                          "</body></html>"))
    if kind == "epub":
        write_epub(path, "Bomb", "placeholder")
        with zipfile.ZipFile(path) as existing:
            members = [(i.filename, existing.read(i)) for i in existing.infolist() if i.filename != part]
    else:
        members = [("[Content_Types].xml", _DOCX_TYPES.encode())]
    block = (paragraph * 1000).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED if name == "mimetype" else None)
        with archive.open(part, "w", force_zip64=True) as out:
            out.write(head.encode())
            for _ in range(unpacked_mb * 2**20 // len(block)):
                out.write(block)
            out.write(tail.encode())
    if declared_bytes is not None:
        _understate(path, part, declared_bytes)
    return path


def _understate(path: Path, name: str, size: int) -> None:
    """Rewrite the uncompressed size of ``name`` in the central directory (and its ZIP64 extra field)."""
    data = bytearray(path.read_bytes())
    entry = data.rindex(b"PK\x01\x02", 0, data.rindex(name.encode()) + 1)
    data[entry + 24 : entry + 28] = min(size, 0xFFFFFFFE).to_bytes(4, "little")
    name_length = int.from_bytes(data[entry + 28 : entry + 30], "little")
    extra_length = int.from_bytes(data[entry + 30 : entry + 32], "little")
    extra = entry + 46 + name_length
    position = extra
    while position < extra + extra_length:  # the ZIP64 field holds the real sizes when the 32-bit ones are full
        tag, length = (int.from_bytes(data[position + i : position + i + 2], "little") for i in (0, 2))
        if tag == 1:
            data[entry + 24 : entry + 28] = size.to_bytes(4, "little")
            data[position + 4 : position + 12] = size.to_bytes(8, "little")
        position += 4 + length
    path.write_bytes(bytes(data))
