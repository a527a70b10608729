"""Hushdocs engine: ingestion, chunking, embeddings, store, retrieval and generation.

Nothing in this package imports Qt: the CLI, the tests and the GUI all drive it the same way.
"""

__version__ = "0.1.0"
