"""The embedder's integer graph (models/per_token_int8.py): made at set-up to the catalogue's bytes, the same model's
vectors as the fp32 graph, and loaded only where the CPU's VNNI makes ONNX Runtime's integer kernels exact."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import model_files as locate
from engine.embedding import embedder as embedding
from engine.embedding.embedder import OnnxEmbedder, cpu_has_vnni, default_embedder_file
from engine.models_catalogue import EMBEDDER, EMBEDDER_INT8, TOKENIZER

ROOT = Path(__file__).resolve().parents[1]
ZEN4_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16\n"
ALDER_LAKE_FLAGS = "flags\t\t: fpu sse2 avx avx2 fma avx_vnni\n"
ZEN3_FLAGS = "flags\t\t: fpu sse2 avx avx2 fma\n"


def _child(*args: str | Path) -> str:
    """``python ARGS`` from the repository: the onnx package loads in children only (tests/support/nan_guards.py)."""
    result = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_set_up_makes_the_catalogue_file_from_the_installed_embedder(tmp_path: Path) -> None:
    _child("-m", "models.per_token_int8", locate.find(EMBEDDER), tmp_path / "int8.onnx")
    made = (tmp_path / "int8.onnx").read_bytes()
    assert hashlib.sha256(made).hexdigest() == EMBEDDER_INT8.sha256
    assert made == locate.find(EMBEDDER_INT8).read_bytes()


def test_every_weight_product_is_integer_and_every_gelu_fused() -> None:
    ops = json.loads(_child("-c", "import json, sys, onnx; "
                                  "print(json.dumps([n.op_type for n in onnx.load(sys.argv[1]).graph.node]))",
                            locate.find(EMBEDDER_INT8)))
    assert ops.count("MatMulIntegerToFloat") == 36  # 6 layers: query, key, value, output, feed-forward in and out
    assert ops.count("QuantizeLinear") == 24  # one per input: the query, key and value projections share theirs
    assert ops.count("BiasGelu") == 6 and "Erf" not in ops
    assert ops.count("MatMul") == 12  # what is left in fp32: attention's scores and its weighted sum of values


@pytest.mark.skipif(not cpu_has_vnni(), reason="the app loads the integer graph only where the CPU has VNNI")
def test_the_integer_graph_gives_the_fp32_graphs_vectors() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    paragraphs = [p for p in readme.split("\n\n") if len(p.split()) >= 20][:60]
    # batches of very different lengths (most rows padded), a word, a short sentence, a text past the limit
    texts = ["Harbour.", "Winter storage is not included.", *paragraphs, " ".join(paragraphs[:4])]
    tokenizer = locate.find(TOKENIZER)
    fp32 = OnnxEmbedder(locate.find(EMBEDDER), tokenizer, threads=2, batch_size=8).embed(texts)
    integer = OnnxEmbedder(locate.find(EMBEDDER_INT8), tokenizer, threads=2, batch_size=8).embed(texts)
    assert np.isfinite(integer).all()
    cosines = np.sum(fp32 * integer, axis=1)
    assert cosines.min() >= 0.998, f"cosine {cosines.min():.4f} for {texts[int(cosines.argmin())][:60]!r}"
    # and a question finds the same paragraph in both
    questions = ["How do I run the tests?", "Which chat model is the default?", "How is OCR done?"]
    for question in questions:
        asked = [OnnxEmbedder(locate.find(model), tokenizer, threads=2).embed([question])[0]
                 for model in (EMBEDDER, EMBEDDER_INT8)]
        assert int(np.argmax(fp32 @ asked[0])) == int(np.argmax(integer @ asked[1]))


def test_vnni_counts_only_where_the_os_enables_its_registers() -> None:
    assert cpu_has_vnni(ZEN4_FLAGS, frozenset({"avx", "avx512"}))
    assert not cpu_has_vnni(ZEN4_FLAGS, frozenset({"avx"}))  # a hypervisor that keeps the ZMM state off
    assert cpu_has_vnni(ALDER_LAKE_FLAGS, frozenset({"avx"}))
    assert not cpu_has_vnni(ZEN3_FLAGS, frozenset({"avx", "avx512"}))
    assert cpu_has_vnni(ZEN4_FLAGS, None)  # the OS's state unreadable: the CPU's flags decide


def test_the_graph_loaded_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(embedding.INT8_ENVIRONMENT, raising=False)
    monkeypatch.setattr(embedding, "cpu_has_vnni", lambda: True)
    assert default_embedder_file() == locate.find(EMBEDDER_INT8)
    monkeypatch.setattr(embedding, "cpu_has_vnni", lambda: False)
    assert default_embedder_file() == locate.find(EMBEDDER)
    monkeypatch.setenv(embedding.INT8_ENVIRONMENT, "1")
    assert default_embedder_file() == locate.find(EMBEDDER_INT8)
    monkeypatch.setattr(embedding, "cpu_has_vnni", lambda: True)
    monkeypatch.setenv(embedding.INT8_ENVIRONMENT, "0")
    assert default_embedder_file() == locate.find(EMBEDDER)


def test_a_question_is_embedded_on_the_fp32_graph_beside_the_integer_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexing's batches run on the integer graph; a question (and the re-rank's few candidates) on the fp32 one,
    whose vectors are exact: a text of two or three word pieces averages no rounding away (the integer graph's
    vector of "" has a cosine of 0.996 to the fp32 one)."""
    monkeypatch.setenv(embedding.INT8_ENVIRONMENT, "1")
    app = embedding.load_default_embedder(threads=2)
    assert app.batch_size == embedding.INT8_BATCH_SIZE
    fp32 = OnnxEmbedder(locate.find(EMBEDDER), locate.find(TOKENIZER), threads=2)
    question = ["What does IDL stand for?"]
    assert np.array_equal(app.embed(question), fp32.embed(question))
    passages = [f"The harbour master, Ingrid Solberg, answers call {n} on channel 12." for n in range(12)]
    assert not np.array_equal(app.embed(passages), fp32.embed(passages))  # a batch: the integer graph
