"""How much of what the question asks about the passages mention, weighted by rarity in the library.

A question's rare words name what it is about ("winter storage", "harbour master"); its common words
("name", "year") say little. A passage that holds a number but not the rare words of the question
("How much does winter storage cost?" over a page about summer mooring fees) answers another
question. Weights are inverse document frequencies over the library's chunks (FTS5 prefix counts of
each word's stem, so "stored" and "storage" count together).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from engine.generation.support import QUESTION_FORM_WORDS, stem, stems_of


class TermStatistics(Protocol):
    def chunk_count(self) -> int: ...

    def stem_document_frequencies(self, stems: Sequence[str]) -> dict[str, int]: ...


def stem_weights(question: str, statistics: TermStatistics) -> dict[str, float]:
    """Each content-word stem of the question with its inverse document frequency in the library."""
    stems = sorted(stems_of(question) - {stem(w) for w in QUESTION_FORM_WORDS})
    total = statistics.chunk_count()
    frequencies = statistics.stem_document_frequencies(stems)
    return {s: math.log(1 + total / (1 + frequencies.get(s, 0))) for s in stems}


def coverage(weights: dict[str, float], texts: Sequence[str]) -> float:
    """The weighted share of the question's words that the texts hold (1.0 when it has none)."""
    if not weights:
        return 1.0
    present: set[str] = set()
    for text in texts:
        present |= stems_of(text)
    return sum(w for s, w in weights.items() if s in present) / sum(weights.values())

