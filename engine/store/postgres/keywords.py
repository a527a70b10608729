"""Keyword search text for PostgreSQL: accents folded in Python, then PostgreSQL's ``simple`` configuration.

FTS5 here folds accents (``remove_diacritics 2``: "résumé" matches "resume"). PostgreSQL's ``unaccent`` is a
contrib extension a server may lack, so the folding happens before the text reaches the server: the stored
keywords and the query are folded alike, and every server holds the same words whatever it has installed.
``simple`` lower-cases and keeps every word (no language's stemming or stopwords), as ``unicode61`` does.
"""

from __future__ import annotations

import re
import unicodedata

from engine.retrieval.search import content_words

CONFIG = "simple"


def fold_accents(text: str) -> str:
    """``text`` without its combining marks ("Zürich" -> "Zurich"), letters otherwise as they were."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def query_words(text: str) -> list[str]:
    """The query's words as FTS5 search here takes them (stopwords left out unless nothing else is left),
    folded and lower-cased, each once."""
    words = content_words(text) or re.findall(r"\w+", text.lower())
    return list(dict.fromkeys(fold_accents(w) for w in words))


def tsquery(words: list[str], *, prefix: bool = False) -> str:
    """A ``to_tsquery`` expression OR-ing the words, each a quoted lexeme (``\\w`` characters need no escape
    but the quote is doubled all the same)."""
    suffix = ":*" if prefix else ""
    return " | ".join("'" + w.replace("'", "''") + "'" + suffix for w in words)
