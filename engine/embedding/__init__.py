"""Sentence embeddings: the Embedder protocol and its ONNX Runtime implementation."""

from engine.embedding.embedder import Embedder, OnnxEmbedder

__all__ = ["Embedder", "OnnxEmbedder"]
