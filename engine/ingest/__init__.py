"""Ingestion: loaders turn files into text with provenance, the chunker cuts it, sync keeps the index."""
