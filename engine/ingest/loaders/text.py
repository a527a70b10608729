"""Plain text, Markdown, reStructuredText and source code: decoding, newlines, headings."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from engine.ingest.loaders.sniff import looks_binary, sniff
from engine.ingest.status import EMPTY, SKIPPED, LoadError
from engine.records import Heading, ParsedDocument

MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mdown", ".mkd"})
RST_EXTENSIONS = frozenset({".rst"})
PLAIN_EXTENSIONS = frozenset({".txt", ".text", ".log"})
CODE_EXTENSIONS = frozenset({
    ".py", ".pyi", ".js", ".mjs", ".jsx", ".ts", ".tsx", ".java", ".kt", ".scala", ".c", ".h",
    ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".cs", ".go", ".rs", ".rb", ".php", ".pl", ".lua", ".r",
    ".swift", ".m", ".sh", ".bash", ".zsh", ".ps1", ".bat", ".sql", ".toml", ".yaml", ".yml",
    ".json", ".jsonl", ".xml", ".ini", ".cfg", ".conf", ".properties", ".tex",
    ".bib", ".css", ".scss", ".vue", ".svelte", ".dart", ".ex", ".exs", ".erl", ".hs", ".ml",
    ".clj", ".el", ".vim", ".gradle", ".cmake", ".mk", ".proto", ".graphql", ".org", ".adoc",
})
EXTENSIONS = MARKDOWN_EXTENSIONS | RST_EXTENSIONS | PLAIN_EXTENSIONS | CODE_EXTENSIONS

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Declared charsets that browsers (and real files) actually mean as windows-1252.
_WINDOWS_1252_ALIASES = frozenset({"ascii", "us-ascii", "iso-8859-1", "iso8859-1", "latin-1", "latin1"})


def load_text(data: bytes, path: Path) -> ParsedDocument:
    text = normalize_newlines(decode(data, path.suffix.lower() or "(none)"))
    if not text.strip():
        raise LoadError(EMPTY, "empty file")
    ext = path.suffix.lower()
    if ext in MARKDOWN_EXTENSIONS:
        headings, kind = markdown_headings(text), "markdown"
    elif ext in RST_EXTENSIONS:
        headings, kind = rst_headings(text), "rst"
    elif ext in CODE_EXTENSIONS:
        return ParsedDocument(text=text, kind="code", title=path.name)
    else:
        headings, kind = [], "text"
    title = headings[0].title if headings else path.stem
    return ParsedDocument(text=text, kind=kind, title=title, headings=headings)


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- decoding ----------------------------------------------------------------------------------


def decode(data: bytes, ext: str, declared: str | None = None) -> str:
    """Text from bytes: BOM, then a declared charset, then UTF-8 (a few bad bytes replaced), then detection.

    Binary data raises ``LoadError(SKIPPED, ...)`` naming what it looks like when known.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            text = _decode_after_bom(body, encoding)
            if text is not None:
                return text
            data = body  # a stray byte order mark: what follows is not in that encoding
            break
    utf16 = _bomless_utf16(data)
    if utf16:
        return data.decode(utf16, errors="replace")
    kind = sniff(data)
    if kind is not None:
        raise LoadError(SKIPPED, f"binary content: looks like {kind}, not text (the extension says {ext})")
    if looks_binary(data):
        raise LoadError(SKIPPED, f"binary content, not text (the extension says {ext})")
    if declared:
        text = _decode_declared(data, declared)
        if text is not None:
            return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return _damaged_utf8_or_detect(data, ext)


def _decode_after_bom(body: bytes, encoding: str) -> str | None:
    """The text after a byte order mark, or None when it does not read as that encoding.

    A file can start with FF FE by accident (a stray mark before ASCII or UTF-8 text). Real UTF-16 or
    UTF-32 text decodes strictly and holds NUL bytes: every ASCII character, space or newline has one.
    """
    if encoding == "utf-8":
        return body.decode("utf-8", errors="replace")
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        return None
    if len(body) >= _WIDE_WITHOUT_NUL and b"\x00" not in body[:65536]:
        return None
    return text


# Valid multi-byte UTF-8 sequences (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_HIGH_BYTES = re.compile(rb"[\x80-\xff]+")
# UTF-16 text this long without a single NUL byte is not UTF-16 (it would be pure CJK with no newline).
_WIDE_WITHOUT_NUL = 64


def _damaged_utf8_or_detect(data: bytes, ext: str) -> str:
    """Not valid UTF-8: UTF-8 with a few bad bytes (each replaced by U+FFFD), or a legacy charset.

    Legacy text holds valid multi-byte UTF-8 sequences only by chance: never in single-byte charsets
    (cp1252, cp1251, ...) short of a rare pair like "ß“", and for under half their high bytes in CJK
    ones (Shift_JIS, GBK, EUC-KR: 28-43 % measured). Reading real UTF-8 sequences as a single-byte charset
    is the "CafÃ©" garbage, so UTF-8 wins when its sequences cover two thirds of the high bytes, when no
    charset reads the bytes at all, when detection can only offer UTF-16 for bytes without a NUL, or when
    it offers a single-byte charset and the UTF-8 sequences are at least half as many as the bad spots.
    """
    sequences = _UTF8_SEQUENCE.findall(data)
    if not sequences:
        return _detect(data, ext)[0]
    spots = _HIGH_BYTES.findall(_UTF8_SEQUENCE.sub(b" ", data))  # runs of bytes that are not UTF-8
    damaged_utf8 = data.decode("utf-8", errors="replace")
    if sum(map(len, sequences)) >= 2 * sum(map(len, spots)):
        return damaged_utf8
    try:
        text, encoding = _detect(data, ext)
    except LoadError:
        return damaged_utf8
    if encoding.startswith(("utf_16", "utf_32")):
        return damaged_utf8 if b"\x00" not in data else text
    if _is_single_byte(encoding) and 2 * len(sequences) >= len(spots):
        return damaged_utf8
    return text


def _is_single_byte(encoding: str) -> bool:
    """Every byte one character (cp1252, koi8-r, ...), as opposed to Shift_JIS, GBK and the like."""
    sample = bytes(range(0x80, 0x100))
    return len(sample.decode(encoding, errors="replace")) == len(sample)


def _decode_declared(data: bytes, declared: str) -> str | None:
    name = declared.strip().lower()
    if name in _WINDOWS_1252_ALIASES:
        name = "cp1252"
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    try:
        return data.decode(name)
    except UnicodeDecodeError:
        return None  # the declaration lies; detect instead


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: mostly-ASCII text has a NUL in every other byte."""
    sample = data[: min(len(data), 4096) // 2 * 2]
    if len(sample) < 16:
        return None
    even_nuls = sample[0::2].count(0) / (len(sample) / 2)
    odd_nuls = sample[1::2].count(0) / (len(sample) / 2)
    for encoding, zeros, others in (("utf-16-le", odd_nuls, even_nuls), ("utf-16-be", even_nuls, odd_nuls)):
        if zeros > 0.6 and others < 0.05:
            try:
                sample.decode(encoding)
            except UnicodeDecodeError:
                continue
            return encoding
    return None


def _detect(data: bytes, ext: str) -> tuple[str, str]:
    """The text in the charset detection finds most likely, and that charset's Python name."""
    from charset_normalizer import from_bytes  # noqa: PLC0415 - heavy, loaded on first use

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise LoadError(SKIPPED, f"binary content or unknown encoding, not text (the extension says {ext})")
    # Short Western text is often a tie between cp1250 and cp1252; the latter is far more common.
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= best.chaos and match.coherence >= best.coherence:
            best = match
            break
    return str(best), best.encoding


# --- headings ----------------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RST_ADORNMENT = re.compile(r"^([=\-~^\"'`*+#_:.!$%&,;<>?@\\/|])\1{2,}[ \t]*$")


def _lines(text: str) -> list[tuple[int, str]]:
    """Each line with its start offset."""
    out: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        out.append((offset, line))
        offset += len(line) + 1
    return out


def _front_matter_end(lines: list[tuple[int, str]]) -> int:
    """Index of the first line after a YAML front-matter block (0 when there is none)."""
    if not lines or lines[0][1].rstrip() != "---":
        return 0
    for index in range(1, min(len(lines), 200)):
        if lines[index][1].rstrip() in ("---", "..."):
            return index + 1
    return 0


def markdown_headings(text: str) -> list[Heading]:
    """ATX (``# Title``) and setext (``Title`` over ``===``/``---``) headings outside code fences."""
    lines = _lines(text)
    headings: list[Heading] = []
    fence = ""
    previous_blank = True
    for index in range(_front_matter_end(lines), len(lines)):
        offset, line = lines[index]
        fence_match = _FENCE.match(line)
        if fence:
            if fence_match and fence_match.group(1)[0] == fence[0] and len(fence_match.group(1)) >= len(fence):
                fence = ""
            continue
        if fence_match:
            fence = fence_match.group(1)
            continue
        atx = _ATX.match(line)
        if atx and atx.group(2).strip():
            headings.append(Heading(offset, len(atx.group(1)), atx.group(2).strip()))
        elif _is_setext_title(lines, index, previous_blank):
            level = 1 if lines[index + 1][1].strip()[0] == "=" else 2
            headings.append(Heading(offset, level, line.strip()))
        previous_blank = not line.strip()
    return headings


def _is_setext_title(lines: list[tuple[int, str]], index: int, previous_blank: bool) -> bool:
    line = lines[index][1]
    if not previous_blank or not line.strip() or index + 1 >= len(lines) or line.startswith("    "):
        return False
    if _SETEXT.match(line) or line.lstrip().startswith(("- ", "* ", "+ ", ">", "|")):
        return False
    return _SETEXT.match(lines[index + 1][1]) is not None


def rst_headings(text: str) -> list[Heading]:
    """Section titles underlined (optionally overlined) with punctuation; levels by first use."""
    lines = _lines(text)
    styles: list[tuple[str, bool]] = []
    headings: list[Heading] = []
    index = 0
    while index + 1 < len(lines):
        offset, line = lines[index]
        title = line.strip()
        under = _RST_ADORNMENT.match(lines[index + 1][1])
        if _is_rst_title(line, under, lines[index + 1][1]):
            assert under is not None
            over = index > 0 and lines[index - 1][1].rstrip() == lines[index + 1][1].rstrip()
            style = (under.group(1), over)
            if style not in styles:
                styles.append(style)
            start = lines[index - 1][0] if over else offset
            headings.append(Heading(start, styles.index(style) + 1, title))
            index += 2
            continue
        index += 1
    return headings


def _is_rst_title(line: str, under: re.Match[str] | None, underline: str) -> bool:
    title = line.strip()
    if not title or under is None or line[0].isspace() or _RST_ADORNMENT.match(line):
        return False
    return len(underline.rstrip()) >= len(title)
