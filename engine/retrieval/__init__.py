"""Retrieval: keyword (FTS5 BM25) and vector (binary coarse + float re-score) search, fused."""
