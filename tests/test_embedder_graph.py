"""The app's embedder is torch's export less its NaN guards: the same vectors, made and verified at set-up.

The published export is a set-up source, not installed, so the tests rebuild it from the installed file by putting
back what models/strip_nan_guards.py takes out (a ``Where(IsNaN(p), 0, p)`` after each attention softmax, as torch
writes it) and check both ways: stripping the rebuilt graph writes the catalogue's bytes, and the guarded and
unguarded graphs embed real texts (and even a row of padding only) to the same bits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from engine import model_files as locate
from engine.embedding.embedder import OnnxEmbedder
from engine.errors import ChecksumError
from engine.models_catalogue import EMBEDDER, EMBEDDER_EXPORT, TOKENIZER, CatalogueModel, WheelMember
from models.provision import LocalWheels, provision
from models.strip_nan_guards import strip_nan_guards

GUARD_ZERO = "nan_guard_zero"


def with_nan_guards(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with ``Where(IsNaN(p), 0, p)`` after every Softmax, its users reading the Where."""
    guarded = onnx.ModelProto()
    guarded.CopyFrom(model)
    graph = guarded.graph
    nodes = list(graph.node)
    del graph.node[:]
    renamed: dict[str, str] = {}
    for node in nodes:
        for position, name in enumerate(node.input):
            node.input[position] = renamed.get(name, name)
        graph.node.append(node)
        if node.op_type == "Softmax":
            probabilities = node.output[0]
            graph.node.append(helper.make_node("IsNaN", [probabilities], [f"{probabilities}_isnan"]))
            graph.node.append(helper.make_node("Where", [f"{probabilities}_isnan", GUARD_ZERO, probabilities],
                                               [f"{probabilities}_guarded"]))
            renamed[probabilities] = f"{probabilities}_guarded"
    graph.initializer.append(helper.make_tensor(GUARD_ZERO, TensorProto.FLOAT, [], [0.0]))
    return guarded


@pytest.fixture(scope="module")
def installed_embedder() -> Path:
    return locate.find(EMBEDDER)


@pytest.fixture(scope="module")
def guarded_export(installed_embedder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "guarded.onnx"
    onnx.save(with_nan_guards(onnx.load(installed_embedder)), path)
    return path


def test_the_installed_embedder_has_no_nan_guard(installed_embedder: Path) -> None:
    ops = [node.op_type for node in onnx.load(installed_embedder).graph.node]
    assert ops.count("Softmax") == 6 and "IsNaN" not in ops
    assert ops.count("Where") == 1  # the attention mask's, which stays


def test_stripping_the_guarded_export_writes_the_catalogue_file(installed_embedder: Path,
                                                                 guarded_export: Path) -> None:
    model = onnx.load(guarded_export)
    assert strip_nan_guards(model) == 6
    assert model.SerializeToString() == installed_embedder.read_bytes()


def test_guarded_and_unguarded_graphs_embed_to_the_same_bits(installed_embedder: Path, guarded_export: Path,
                                                             squad_path: Path) -> None:
    import json

    articles = json.loads(squad_path.read_text("utf-8"))
    paragraphs = [p["context"] for article in articles["data"] for p in article["paragraphs"]][:40]
    # Batches of very different lengths (so most rows are padded), a text of no words and one past the limit.
    texts = ["", "Harbour master.", *paragraphs, " ".join(paragraphs[:4])]
    tokenizer = locate.find(TOKENIZER)
    unguarded = OnnxEmbedder(installed_embedder, tokenizer, threads=2, batch_size=8).embed(texts)
    guarded = OnnxEmbedder(guarded_export, tokenizer, threads=2, batch_size=8).embed(texts)
    assert np.isfinite(unguarded).all()
    assert np.array_equal(unguarded, guarded)


def test_even_a_row_with_every_key_masked_is_the_same(installed_embedder: Path, guarded_export: Path) -> None:
    """The export masks by adding float32's lowest value, not -inf, so no softmax row can be NaN: the guard is dead
    even for input the embedder never sends (a row of padding only)."""
    import onnxruntime

    ids = np.array([[101, 7570, 2003, 1996, 102], [0, 0, 0, 0, 0]], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.array([[1] * 5, [0] * 5], dtype=np.int64),
             "token_type_ids": np.zeros_like(ids)}
    outputs = []
    for path in (installed_embedder, guarded_export):
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0])
    assert np.isfinite(outputs[0]).all()
    assert np.array_equal(outputs[0], outputs[1])


def _derived_embedder(tmp_path: Path, guarded_export: Path, sha256: str) -> CatalogueModel:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "guarded_export-1.0-py3-none-any.whl", "w") as wheel:
        wheel.write(guarded_export, "guarded_export/model.onnx")
    data = guarded_export.read_bytes()
    source = CatalogueModel(name="guarded-export", role="embedder", title="export", file_name="export.onnx",
                            sha256=hashlib.sha256(data).hexdigest(), size=len(data), licence="Apache-2.0",
                            parts=(WheelMember("guarded-export", "1.0", "guarded_export/model.onnx"),),
                            default=False)
    assert EMBEDDER.made_from is not None and EMBEDDER.made_from.source == EMBEDDER_EXPORT
    return CatalogueModel(name="unguarded", role="embedder", title="unguarded", file_name="unguarded.onnx",
                          sha256=sha256, size=EMBEDDER.size, licence="Apache-2.0", parts=(),
                          made_from=dataclasses.replace(EMBEDDER.made_from, source=source))


def test_set_up_derives_the_embedder_in_a_child_and_verifies_it(tmp_path: Path, installed_embedder: Path,
                                                                guarded_export: Path) -> None:
    model = _derived_embedder(tmp_path, guarded_export, EMBEDDER.sha256)
    [status] = provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    assert status.state == "installed"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["manifest.json", "unguarded.onnx"]
    assert (tmp_path / "models" / "unguarded.onnx").read_bytes() == installed_embedder.read_bytes()


def test_a_derived_embedder_with_other_bytes_is_not_installed(tmp_path: Path, guarded_export: Path) -> None:
    model = _derived_embedder(tmp_path, guarded_export, hashlib.sha256(b"other bytes").hexdigest())
    with pytest.raises(ChecksumError, match="after removal of the NaN guards"):
        provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    assert list((tmp_path / "models").iterdir()) == []  # neither the result nor the assembled source is left
