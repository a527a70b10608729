"""`main.py self-test`: every model loads and every native piece works, with timings.

The packaged app runs the same checks, so a broken bundle (a missing shared library, a model that
did not make it in) shows up as a failed line instead of a crash in front of a user.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.embedding.choice import MULTILINGUAL_MODEL
from engine.embedding.embedder import OnnxEmbedder, default_embedder_kernels, load_default_embedder
from engine.generation.llm import GeneratorOptions, LlamaGenerator
from engine.generation.models import resolve_chat_model
from engine.settings import Settings
from engine.store.db import connect


@dataclass
class Check:
    name: str
    ok: bool
    seconds: float
    detail: str


def _timed(name: str, action: Callable[[], str]) -> Check:
    started = time.perf_counter()
    try:
        detail = action()
        ok = True
    except Exception as exc:  # noqa: BLE001 - a self-test reports every failure as a line
        detail = f"{type(exc).__name__}: {exc}"
        traceback.print_exc(file=open(Path(tempfile.gettempdir()) / "hushdocs-selftest.err", "a"))  # noqa: SIM115
        ok = False
    return Check(name, ok, time.perf_counter() - started, detail)


def run_self_test(settings: Settings, chat_model: Path | None = None) -> Iterator[Check]:
    """Yield one Check per step; later steps that need an earlier one's result are skipped with a reason."""
    state: dict[str, object] = {}
    workdir = Path(tempfile.mkdtemp(prefix="hushdocs-selftest-"))

    def load_embedder() -> str:
        embedder = load_default_embedder(threads=settings.threads)  # the graph and batches the app runs here
        state["embedder"] = embedder
        return f"{embedder.name}, {embedder.dim} dimensions, {default_embedder_kernels(embedder.model_path)}"

    def embed() -> str:
        embedder = state["embedder"]
        assert isinstance(embedder, OnnxEmbedder)
        vectors = embedder.embed(["The Normans conquered England in 1066.", "Who conquered England?",
                                  "Polynomial time reductions between problems."])
        state["vectors"] = vectors
        similar = float(vectors[0] @ vectors[1])
        unrelated = float(vectors[0] @ vectors[2])
        if not similar > unrelated:
            raise AssertionError(f"similar pair {similar:.3f} not above unrelated {unrelated:.3f}")
        return f"3 texts; cosine related {similar:.2f} > unrelated {unrelated:.2f}"

    def multilingual() -> str:
        embedder = MULTILINGUAL_MODEL.make(settings.threads)
        question = embedder.embed_query(["Where are the winter tyres kept?"])[0]
        passages = embedder.embed(["Die Winterreifen liegen in der Garage.", "Der Brenner läuft mit Erdgas."])
        related, unrelated = (float(v @ question) for v in passages)
        if not related > unrelated:
            raise AssertionError(f"the German answer {related:.3f} not above the unrelated passage {unrelated:.3f}")
        return f"{embedder.name}: English question to German passage {related:.2f} > unrelated {unrelated:.2f}"

    def database() -> str:
        vectors = state["vectors"]
        assert isinstance(vectors, np.ndarray)
        conn = connect(workdir / "check.sqlite3")
        conn.execute("CREATE VIRTUAL TABLE t USING vec0(embedding float[384] distance_metric=cosine)")
        conn.execute("CREATE VIRTUAL TABLE k USING fts5(text)")
        stored = {1: (vectors[0], "The Normans conquered England in 1066."),
                  3: (vectors[2], "Polynomial time reductions between problems.")}
        with conn:
            for rowid, (vector, text) in stored.items():
                conn.execute("INSERT INTO t(rowid, embedding) VALUES (?, ?)", (rowid, vector.tobytes()))
                conn.execute("INSERT INTO k(rowid, text) VALUES (?, ?)", (rowid, text))
        nearest = conn.execute("SELECT rowid FROM t WHERE embedding MATCH ? AND k = 1", (vectors[1].tobytes(),))
        keyword = conn.execute("SELECT rowid FROM k WHERE k MATCH '\"polynomial\"'")
        vector_hit, keyword_hit = next(nearest)[0], next(keyword)[0]
        version = next(conn.execute("SELECT vec_version(), sqlite_version()"))
        conn.close()
        if (vector_hit, keyword_hit) != (1, 3):
            raise AssertionError(f"vector hit {vector_hit}, keyword hit {keyword_hit}")
        return f"sqlite-vec {version[0]}, SQLite {version[1]}, FTS5 and KNN ok"

    def pdf() -> str:
        import pymupdf  # noqa: PLC0415 - heavy, loaded on first use

        path = workdir / "check.pdf"
        document = pymupdf.open()
        for number in (1, 2):
            page = document.new_page()
            page.insert_text((72, 72), f"Hushdocs self-test page {number}")
        document.save(path)
        document.close()
        with pymupdf.open(path) as reopened:
            text = reopened[1].get_text()
        if "page 2" not in text:
            raise AssertionError(f"page 2 read as {text!r}")
        return f"PyMuPDF {pymupdf.VersionBind}: wrote and read 2 pages"

    def load_chat() -> str:
        path = chat_model or resolve_chat_model(settings.chat_model)
        generator = LlamaGenerator(path, GeneratorOptions(n_ctx=2048, n_threads=settings.threads,
                                                          n_gpu_layers=settings.gpu_layers))
        state["generator"] = generator
        return f"{path.name}, chat format {generator.chat_format}; llama.cpp {generator.cpu_backend.describe()}"

    def generate() -> str:
        generator = state["generator"]
        assert isinstance(generator, LlamaGenerator)
        started = time.perf_counter()
        pieces = list(generator.stream_chat([{"role": "user", "content": "Reply with the word: ready"}],
                                            max_tokens=8, temperature=0.0))
        elapsed = time.perf_counter() - started
        generator.close()
        text = "".join(pieces).strip()
        if not text:
            raise AssertionError("the model produced no text")
        return f"{len(pieces)} tokens in {elapsed:.2f} s: {text[:30]!r}"

    steps: list[tuple[str, Callable[[], str], str | None]] = [
        ("embedding model", load_embedder, None),
        ("embed", embed, "embedder"),
        *([("multilingual model", multilingual, None)] if MULTILINGUAL_MODEL.runs_here() else []),
        ("sqlite-vec + FTS5", database, "vectors"),
        ("PDF (PyMuPDF)", pdf, None),
        ("chat model", load_chat, None),
        ("generate", generate, "generator"),
    ]
    for name, action, needs in steps:
        if needs is not None and needs not in state:
            yield Check(name, False, 0.0, "skipped: an earlier step failed")
            continue
        yield _timed(name, action)
