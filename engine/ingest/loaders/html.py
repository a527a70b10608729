"""HTML with the standard library's parser: main text, title, h1-h6 headings, tables with their headers."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from engine.ingest.loaders.tables import merge_header_rows, render_table
from engine.ingest.loaders.text import decode
from engine.ingest.status import EMPTY, LoadError
from engine.records import Heading, ParsedDocument

EXTENSIONS = frozenset({".html", ".htm", ".xhtml"})

_SKIP = frozenset({
    "script", "style", "noscript", "template", "svg", "math", "nav", "footer", "aside", "form",
    "iframe", "object", "canvas", "select", "button", "dialog", "head",
})
_VOID = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
})
_BLOCK = frozenset({
    "address", "article", "blockquote", "body", "caption", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
    "main", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "ul",
})
_LINE = frozenset({"br", "tr"})
_CELL = frozenset({"td", "th"})
_HEADING = {f"h{n}": n for n in range(1, 7)}
# Elements whose end tag HTML lets authors omit: a new sibling closes the open one.
_IMPLIED_END: dict[str, frozenset[str] | set[str]] = {
    "p": _BLOCK, "li": {"li"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"}, "tr": {"tr"}, "head": {"body"},
    "td": {"td", "th", "tr"}, "th": {"td", "th", "tr"}, "option": {"option"},
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


class _Writer:
    """Accumulates collapsed text with paragraph/line/cell breaks and heading offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.pending = ""  # separator owed before the next text: "", " ", " | ", "\n", "\n\n"
        self.headings: list[Heading] = []
        self._heading: tuple[int, int, list[str]] | None = None  # level, offset, words

    def text(self, data: str, preformatted: bool) -> None:
        trailing = False
        if not preformatted:
            if data[:1].isspace() and self.pending == "":
                self.pending = " "
            trailing = data[-1:].isspace()
            data = _SPACES.sub(" ", data).strip()
            if not data:
                return
        if self.length and self.pending:
            self._write(self.pending)
        self.pending = ""
        if self._heading is not None:
            level, offset, words = self._heading
            self._heading = (level, self.length if not words else offset, [*words, data])
        self._write(data)
        if trailing:
            self.pending = " "

    def brk(self, separator: str) -> None:
        """Owe a separator; the strongest owed one wins."""
        if len(separator.strip(" ")) >= len(self.pending.strip(" ")) and separator != self.pending:
            if separator == " | " and "\n" in self.pending:
                return
            self.pending = separator

    def start_heading(self, level: int) -> None:
        self._heading = (level, self.length, [])

    def end_heading(self) -> None:
        if self._heading is not None and self._heading[2]:
            level, offset, words = self._heading
            self.headings.append(Heading(offset, level, _SPACES.sub(" ", " ".join(words)).strip()))
        self._heading = None

    def result(self) -> str:
        return "".join(self.parts)

    def _write(self, data: str) -> None:
        self.parts.append(data)
        self.length += len(data)


class _Table:
    """The cells of one table as it is read; a table inside a cell reads as that cell's text."""

    def __init__(self) -> None:
        self.rows: list[list[list[str]]] = []  # row -> cell -> text pieces
        self.header_rows: list[bool] = []  # in <thead>, or only <th> cells
        self.depth = 1  # nested tables open inside this one
        self.in_head = False

    def row(self) -> None:
        self.rows.append([])
        self.header_rows.append(True)

    def cell(self, tag: str) -> None:
        if not self.rows:
            self.row()
        self.rows[-1].append([])
        self.header_rows[-1] = self.header_rows[-1] and (tag == "th" or self.in_head)

    def text(self, data: str) -> None:
        if self.rows and self.rows[-1]:
            self.rows[-1][-1].append(data)

    def render(self) -> str:
        rows = [[" ".join(pieces) for pieces in row] for row in self.rows]
        leading = 0
        while leading < len(rows) and self.header_rows[leading] and rows[leading]:
            leading += 1
        if 0 < leading < len(rows):
            return render_table(rows[leading:], header=merge_header_rows(rows[:leading]))
        return render_table(rows)


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # tag, skipped
        self.everything = _Writer()
        self.main = _Writer()
        self.articles = _Writer()
        self.title_parts: list[str] = []
        self._in_title = False
        self._skip_depth = 0
        self._main_depth = 0
        self._article_depth = 0
        self._pre_depth = 0
        self._table: _Table | None = None

    def _writers(self) -> list[_Writer]:
        writers = [self.everything]
        if self._main_depth:
            writers.append(self.main)
        if self._article_depth:
            writers.append(self.articles)
        return writers

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = not self._skip_depth or self._only_head_skipped()
            return
        self._close_implied(tag)
        if tag in _VOID:
            if tag in _LINE or tag == "hr":
                self._break("\n" if tag == "br" else "\n\n")
            return
        skipped = self._skipped(tag, dict(attrs))
        self.stack.append((tag, skipped))
        self._enter(tag, skipped, +1)
        if not self._skip_depth:
            self._open_break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            return
        if not any(open_tag == tag for open_tag, _ in self.stack):
            return  # stray end tag
        while self.stack:
            open_tag, skipped = self.stack.pop()
            if not self._skip_depth or (skipped and self._skip_depth == 1):
                self._close_break(open_tag, skipped)
            self._enter(open_tag, skipped, -1)
            if open_tag == tag:
                break

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.handle_starttag(tag, attrs)  # <br/>: no end tag to wait for

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif self._table is not None and not self._skip_depth:
            self._table.text(data)
        elif not self._skip_depth:
            for writer in self._writers():
                writer.text(data, self._pre_depth > 0)

    def _skipped(self, tag: str, attrs: dict[str, str | None]) -> bool:
        if tag in _SKIP or "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
            return True
        if tag == "header" and not (self._main_depth or self._article_depth):
            return True  # site banner; an article's own header holds its title
        style = (attrs.get("style") or "").replace(" ", "").lower()
        return "display:none" in style or "visibility:hidden" in style

    def _only_head_skipped(self) -> bool:
        return all(tag == "head" for tag, skipped in self.stack if skipped)

    def _enter(self, tag: str, skipped: bool, step: int) -> None:
        self._skip_depth += step if skipped else 0
        self._main_depth += step if tag == "main" else 0
        self._article_depth += step if tag == "article" else 0
        self._pre_depth += step if tag in ("pre", "textarea") else 0

    def _close_implied(self, tag: str) -> None:
        if self.stack and tag in _IMPLIED_END.get(self.stack[-1][0], ()):
            self.handle_endtag(self.stack[-1][0])

    def _open_break(self, tag: str) -> None:
        if self._table is not None or tag == "table":
            self._open_table_part(tag)
            return
        if tag in _BLOCK:
            self._break("\n\n")
        elif tag in _CELL:
            self._break(" | ")
        if tag in _HEADING:
            for writer in self._writers():
                writer.start_heading(_HEADING[tag])

    def _close_break(self, tag: str, skipped: bool) -> None:
        if self._table is not None:
            if not skipped:  # a hidden element's end: its start never reached the table
                self._close_table_part(tag)
            return
        if tag in _HEADING:
            for writer in self._writers():
                writer.end_heading()
        if tag in _BLOCK:
            self._break("\n\n")
        elif tag == "tr":
            self._break("\n")

    def _open_table_part(self, tag: str) -> None:
        if self._table is None:
            self._table = _Table()
        elif tag == "table":
            self._table.depth += 1
        elif self._table.depth == 1 and tag == "thead":
            self._table.in_head = True
        elif self._table.depth == 1 and tag == "tr":
            self._table.row()
        elif self._table.depth == 1 and tag in _CELL:
            self._table.cell(tag)

    def _close_table_part(self, tag: str) -> None:
        table = self._table
        assert table is not None
        if tag == "thead":
            table.in_head = False
        elif tag == "table":
            table.depth -= 1
            if not table.depth:
                self._table = None
                self._break("\n\n")
                text = table.render()
                if text:
                    for writer in self._writers():
                        writer.text(text, preformatted=True)
                self._break("\n\n")

    def _break(self, separator: str) -> None:
        for writer in self._writers():
            writer.brk(separator)


def _charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def decode_markup(data: bytes, path: Path) -> str:
    """The page's markup as text, in its declared charset (or the one it reads as)."""
    return decode(data, path.suffix.lower(), declared=_charset(data))


def load_html(data: bytes, path: Path) -> ParsedDocument:
    text, title, headings = page_text(decode(data, path.suffix.lower(), declared=_charset(data)))
    if not text.strip():
        raise LoadError(EMPTY, "no text in this page")
    if not title:
        title = headings[0].title if headings else path.stem
    return ParsedDocument(text=text, kind="html", title=title, headings=headings)


def page_text(markup: str) -> tuple[str, str, list[Heading]]:
    """The page's main text, its <title> ("" when none) and its headings."""
    parser = _Extractor()
    parser.feed(markup)
    parser.close()
    writer = _choose(parser)
    return writer.result(), _SPACES.sub(" ", "".join(parser.title_parts)).strip(), writer.headings


def _choose(parser: _Extractor) -> _Writer:
    """``<main>`` if the page has one; its ``<article>``s if they hold a fair share; else all."""
    if parser.main.result().strip():
        return parser.main
    articles = len(parser.articles.result().strip())
    if articles and articles >= 0.25 * len(parser.everything.result().strip()):
        return parser.articles
    return parser.everything
