"""MiniLM sentence embeddings on ONNX Runtime: WordPiece, mean pooling, L2 normalisation.

Texts are sorted by length and batched so padding stays short; each text is truncated at
``max_tokens`` word pieces (the chunker keeps chunks under it, so nothing is lost in practice).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from engine import model_files as locate
from engine.models_catalogue import EMBEDDER, EMBEDDER_INT8, TOKENIZER

if TYPE_CHECKING:
    import onnxruntime

Vectors = npt.NDArray[np.float32]
# Calls of at most this many texts run on the session whose threads do not spin (OnnxEmbedder): a question's
# (its embedding, then the answerer's re-rank of its 8 focused candidates, engine.generation.answer.CANDIDATES).
QUICK_CALL_TEXTS = 8
DEFAULT_BATCH_SIZE = 32


class Embedder(Protocol):
    name: str
    dim: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """L2-normalised float32 vectors, one row per text, in input order: the documents' passages."""
        ...

    def embed_query(self, texts: Sequence[str]) -> Vectors:
        """As ``embed``, for questions (models trained with a query prefix embed them apart)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` without special tokens and without truncation."""
        ...


class OnnxEmbedder:
    def __init__(
        self,
        model_path: Path,
        tokenizer_path: Path,
        *,
        name: str = "all-MiniLM-L6-v2",
        threads: int = 0,
        max_tokens: int = 256,
        batch_size: int = DEFAULT_BATCH_SIZE,
        quick_model_path: Path | None = None,
    ) -> None:
        """``quick_model_path``: the graph for calls of a few texts (a question, the re-rank's candidates), where
        it is not ``model_path``'s: the fp32 graph beside the integer one, so a question's vector stays exact."""
        import onnxruntime  # noqa: PLC0415 - heavy, loaded on first use
        from tokenizers import Tokenizer  # noqa: PLC0415 - heavy, loaded on first use

        def session(spinning: bool, path: Path = model_path) -> onnxruntime.InferenceSession:
            options = onnxruntime.SessionOptions()
            if threads > 0:
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
            options.log_severity_level = 3
            # Batch widths differ on almost every call: a memory plan per shape only piles up (1.8 GiB measured).
            options.enable_mem_pattern = False
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
            return onnxruntime.InferenceSession(str(path), sess_options=options,
                                                providers=["CPUExecutionProvider"])

        # ONNX Runtime's pool threads spin after each run, waiting for the next. Across indexing's many batches
        # that saves their wake-ups (10 % of its throughput), but after a question's one short run the spinning
        # thread takes a core from what follows on a small machine: the vector scan, the keyword list's thread,
        # the chat model's prompt (numpy right after a query's embedding, 2 cores: 52 against 28 ms p50). So calls
        # of a few texts run on a second session whose threads sleep at once: of the same file (same kernels, same
        # vectors: tests/test_embedder.py), or of the fp32 graph where batches run on the integer one.
        self.model_path = model_path
        self._session = session(spinning=True)
        self._quick_session: onnxruntime.InferenceSession | None = None
        self._make_session = session
        self._quick_model_path = quick_model_path or model_path
        self._quick_lock = threading.Lock()
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # The shipped tokenizer pads everything to 128 and truncates at 128: undo both.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._counter = Tokenizer.from_file(str(tokenizer_path))
        self._counter.no_padding()
        self._counter.no_truncation()
        self.name = name
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def embed_query(self, texts: Sequence[str]) -> Vectors:
        return self.embed(texts)  # MiniLM embeds questions and passages alike

    def session_for(self, count: int) -> onnxruntime.InferenceSession:
        """The session a call embedding ``count`` texts runs on: a batch's, or a question's (made at first use)."""
        if count > QUICK_CALL_TEXTS:
            return self._session
        with self._quick_lock:
            if self._quick_session is None:
                self._quick_session = self._make_session(False, self._quick_model_path)
            return self._quick_session

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session = self.session_for(len(texts))
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        result = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            types = np.zeros((len(batch), width), dtype=np.int64)
            for row, index in enumerate(batch):
                encoding = encodings[index]
                length = len(encoding.ids)
                ids[row, :length] = encoding.ids
                mask[row, :length] = 1
                types[row, :length] = encoding.type_ids
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = session.run(None, {k: v for k, v in feeds.items() if k in self._input_names})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            result[batch] = pooled / np.maximum(norms, 1e-12)
        return result


# "0": never the integer graph (EMBEDDER_INT8), "1": wherever it is installed, even without VNNI (benchmarks, tests).
INT8_ENVIRONMENT = "HUSHDOCS_EMBEDDER_INT8"
VNNI_FLAGS = {"avx512_vnni": "avx512", "avx_vnni": "avx"}  # /proc/cpuinfo flag -> the register state it needs


def cpu_has_vnni(cpuinfo: str | None = None, enabled: frozenset[str] | None = None) -> bool:
    """The CPU lists VNNI (AVX512-VNNI or AVX-VNNI) and the OS enables the registers it runs in (Linux: /proc/cpuinfo
    and the kernel's xfeatures). Without it ONNX Runtime's u8 x s8 kernels add pairs of products in 16 bits, which
    can saturate; with it they are exact. Elsewhere (no /proc/cpuinfo) False: the fp32 graph is loaded."""
    from engine.generation.cpu_backend import os_enabled_state  # noqa: PLC0415 - ctypes, only when asked

    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
        enabled = os_enabled_state()
    flags = set(next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")),
                     []))
    return any(flag in flags and (enabled is None or state in enabled) for flag, state in VNNI_FLAGS.items())


def default_embedder_file() -> Path:
    """The embedder's graph for this CPU: its integer form where VNNI makes that exact and it is installed
    (``HUSHDOCS_EMBEDDER_INT8`` overrides), else the fp32 one. Both give the same model's vectors (cosine 0.998)."""
    wanted = os.environ.get(INT8_ENVIRONMENT, "")
    if wanted != "0" and (wanted == "1" or cpu_has_vnni()) and locate.is_installed(EMBEDDER_INT8):
        return locate.find(EMBEDDER_INT8)
    return locate.find(EMBEDDER)


def is_integer_graph(path: Path) -> bool:
    """``path`` is the embedder's integer graph (EMBEDDER_INT8), not its fp32 one."""
    return path.name == EMBEDDER_INT8.file_name


def default_embedder_kernels(path: Path | None = None) -> str:
    """What the embedder's products run on, for people: those of ``path`` (default: the graph for this CPU)."""
    if is_integer_graph(path or default_embedder_file()):
        return "8-bit integer products (this CPU has VNNI; questions on the fp32 graph)"
    return "fp32 products"


# The integer graph's batches: 16 texts ran 1.15-1.2x faster than 32 (bench.embedder_speed: 67.5 against 59.6
# texts/s on a 2-core Zen 4), its activations staying in the CPU's caches; the fp32 graph keeps the default 32.
INT8_BATCH_SIZE = 16


def load_default_embedder(threads: int = 0) -> OnnxEmbedder:
    """The catalogue's embedder (the graph for this CPU; questions always on the fp32 one) and tokenizer from the
    model folder (ModelMissingError if absent)."""
    path = default_embedder_file()
    batch_size = INT8_BATCH_SIZE if is_integer_graph(path) else DEFAULT_BATCH_SIZE
    return OnnxEmbedder(path, locate.find(TOKENIZER), threads=threads, batch_size=batch_size,
                        quick_model_path=locate.find(EMBEDDER))
