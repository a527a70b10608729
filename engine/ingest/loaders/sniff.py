"""Magic-number sniffing: what a file's first bytes say it is, whatever its extension claims."""

from __future__ import annotations

import io
import zipfile

# (offset, magic, label); the label completes "looks like ...".
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF-", "a PDF"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc/.xls/.ppt) or an encrypted Office file"),
    (0, b"\x7fELF", "an executable (ELF)"),
    (0, b"MZ", "a Windows executable"),
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"GIF87a", "a GIF image"),
    (0, b"GIF89a", "a GIF image"),
    (0, b"II*\x00", "a TIFF image"),
    (0, b"MM\x00*", "a TIFF image"),
    (0, b"BM", "a BMP image"),
    (0, b"\x1f\x8b", "a gzip archive"),
    (0, b"BZh", "a bzip2 archive"),
    (0, b"\xfd7zXZ\x00", "an xz archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"Rar!\x1a\x07", "a RAR archive"),
    (0, b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (0, b"SQLite format 3\x00", "an SQLite database"),
    (0, b"\xca\xfe\xba\xbe", "a Java class file"),
    (0, b"\x00asm", "a WebAssembly module"),
    (0, b"ID3", "an MP3 file"),
    (0, b"OggS", "an Ogg media file"),
    (0, b"fLaC", "a FLAC audio file"),
    (0, b"\x1aE\xdf\xa3", "a Matroska/WebM video"),
    (4, b"ftyp", "an MP4/QuickTime media file"),
    (60, b"BOOKMOBI", "a MOBI e-book"),
    (0, b"AT&TFORM", "a DjVu document"),
    (0, b"{\\rtf", "an RTF document"),
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Magic this short is only trusted when the rest looks binary too.
_WEAK = {"a Windows executable", "a BMP image", "a gzip archive", "a bzip2 archive", "an MP3 file"}


def is_zip(data: bytes) -> bool:
    return data.startswith(_ZIP_MAGIC)


def is_pdf(data: bytes) -> bool:
    # The spec allows junk before the header; readers look in the first 1 KB.
    return b"%PDF-" in data[:1024]


def describe_zip(data: bytes) -> str:
    """Name a ZIP container by its content: EPUB, Word, Excel, OpenDocument, ..."""
    if data[30:58] == b"mimetypeapplication/epub+zip":
        return "an EPUB e-book"
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return "a ZIP archive"
    if "word/document.xml" in names:
        return "a Word document (.docx)"
    if "xl/workbook.xml" in names:
        return "an Excel workbook (.xlsx)"
    if "ppt/presentation.xml" in names:
        return "a PowerPoint presentation (.pptx)"
    if "mimetype" in names and "content.xml" in names:
        return "an OpenDocument file"
    return "a ZIP archive"


def sniff(data: bytes) -> str | None:
    """A short label ("a PDF", "a PNG image", ...) when ``data`` starts like a known binary format."""
    if is_zip(data):
        return describe_zip(data)
    if is_pdf(data):
        return "a PDF"
    for offset, magic, label in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            if label in _WEAK and not looks_binary(data):
                continue
            return label
    return None


def looks_binary(data: bytes, *, sample: int = 65536) -> bool:
    """NUL bytes or many control characters in the sample: not text in any 8-bit encoding.

    UTF-16/32 without a BOM also trips this; callers that accept those check for them first.
    """
    head = data[:sample]
    if not head:
        return False
    if b"\x00" in head:
        return True
    controls = sum(head.count(bytes([c])) for c in _CONTROL_BYTES)
    return controls / len(head) > 0.05


# C0 controls other than tab, LF, FF, CR and ESC (ANSI colour codes in logs).
_CONTROL_BYTES = (*(c for c in range(32) if c not in (9, 10, 12, 13, 27)), 127)
