"""Zip-based formats (DOCX, EPUB, XPS): unpacking bounded in size and memory, whatever the headers claim.

A few hundred kilobytes of deflate can unpack to gigabytes. Two checks, both before any parser builds
anything from the archive: the sizes the central directory declares are added up against the limits,
then every member is unpacked as a stream with a running count and a hard cap, so a header that
understates its member is caught too (Python's zipfile also stops at the declared size and checks the
CRC, which turns such a member into "corrupt"). MuPDF unpacks EPUB and XPS itself, so those archives
are checked whole first; the DOCX loader reads its few parts through ``read_member``.
"""

from __future__ import annotations

import io
import posixpath
import zipfile

from engine.ingest.status import FAILED, SKIPPED, LoadError

MAX_UNPACKED_BYTES = 512 * 2**20  # everything in one archive (pictures included)
MAX_PART_BYTES = 64 * 2**20  # one part a loader parses itself (a DOCX's document.xml: ~5,000 pages)
# Markup MuPDF lays out (XHTML chapters, XPS pages): 10 MB of one chapter already took it 28 s.
MAX_MARKUP_BYTES = 32 * 2**20
MAX_MEMBERS = 20_000
_MARKUP = frozenset({".xhtml", ".html", ".htm", ".xml", ".opf", ".ncx", ".svg", ".fpage", ".fdoc", ".fdseq"})
_PIECE = 1 << 20

_CORRUPT = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError)


def mb(size: int) -> str:
    return f"{size / 2**20:.0f} MB"


def open_archive(data: bytes, label: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except _CORRUPT as exc:
        raise LoadError(FAILED, f"corrupt {label}: not a zip archive ({exc})") from exc


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, *, limit: int = MAX_PART_BYTES) -> bytes:
    """The unpacked bytes of one member, refused past ``limit`` by its header or while unpacking."""
    if info.file_size > limit:
        raise LoadError(SKIPPED, f"too large: {info.filename} unpacks to {mb(info.file_size)} (limit {mb(limit)})")
    out = bytearray()
    try:
        with archive.open(info) as stream:
            while piece := stream.read(_PIECE):
                out += piece
                if len(out) > limit:
                    raise LoadError(SKIPPED, f"too large: {info.filename} unpacks to over {mb(limit)} "
                                             "(its header says less: an archive bomb)")
    except _CORRUPT as exc:
        raise LoadError(FAILED, f"corrupt {label}: {info.filename}: {exc}") from exc
    return bytes(out)


def check_archive(data: bytes, label: str) -> None:
    """Refuse an archive that would unpack past the limits, before a parser that unpacks it itself."""
    with open_archive(data, label) as archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise LoadError(SKIPPED, f"too many files inside: {len(members):,} (limit {MAX_MEMBERS:,})")
        _check_declared(members)
        unpacked = 0
        for info in members:
            try:
                with archive.open(info) as stream:
                    while piece := stream.read(_PIECE):
                        unpacked += len(piece)
                        if unpacked > MAX_UNPACKED_BYTES:
                            raise LoadError(SKIPPED, f"too large: unpacks to over {mb(MAX_UNPACKED_BYTES)} "
                                                     "(its headers say less: an archive bomb)")
            except _CORRUPT as exc:
                raise LoadError(FAILED, f"corrupt {label}: {info.filename}: {exc}") from exc


def _check_declared(members: list[zipfile.ZipInfo]) -> None:
    total = sum(info.file_size for info in members)
    if total > MAX_UNPACKED_BYTES:
        raise LoadError(SKIPPED, f"too large: unpacks to {mb(total)} (limit {mb(MAX_UNPACKED_BYTES)})")
    markup = sum(info.file_size for info in members if posixpath.splitext(info.filename)[1].lower() in _MARKUP)
    if markup > MAX_MARKUP_BYTES:
        raise LoadError(SKIPPED, f"too large: {mb(markup)} of text and markup inside (limit {mb(MAX_MARKUP_BYTES)})")
