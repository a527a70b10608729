"""The app's embedder is torch's export less its NaN guards: the same vectors, made and verified at set-up.

The published export is a set-up source, not installed, so the tests rebuild it from the installed file by putting
back what models/strip_nan_guards.py takes out (a ``Where(IsNaN(p), 0, p)`` after each attention softmax, as torch
writes it) and check both ways: stripping the rebuilt graph writes the catalogue's bytes, and the guarded and
unguarded graphs embed real texts (and even a row of padding only) to the same bits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine import model_files as locate
from engine.embedding.embedder import OnnxEmbedder
from engine.errors import ChecksumError
from engine.models_catalogue import EMBEDDER, EMBEDDER_EXPORT, TOKENIZER, CatalogueModel, WheelMember
from models.provision import LocalWheels, provision

ROOT = Path(__file__).resolve().parents[1]


def _child(*args: str | Path) -> str:
    """Run ``python -m ARGS`` from the repository (the onnx package loads in children only: tests/support/nan_guards.py
    says why); its standard output."""
    result = subprocess.run([sys.executable, "-m", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def installed_embedder() -> Path:
    return locate.find(EMBEDDER)


@pytest.fixture(scope="module")
def rebuilt(installed_embedder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    """The published export as rebuilt from the installed file, and the op types of both graphs."""
    path = tmp_path_factory.mktemp("export") / "guarded.onnx"
    ops = json.loads(_child("tests.support.nan_guards", installed_embedder, path))
    return path, ops


@pytest.fixture(scope="module")
def guarded_export(rebuilt: tuple[Path, dict[str, list[str]]]) -> Path:
    return rebuilt[0]


def test_the_installed_embedder_has_no_nan_guard(rebuilt: tuple[Path, dict[str, list[str]]]) -> None:
    ops = rebuilt[1]["unguarded"]
    assert ops.count("Softmax") == 6 and "IsNaN" not in ops
    assert ops.count("Where") == 1  # the attention mask's, which stays
    guarded = rebuilt[1]["guarded"]
    assert guarded.count("IsNaN") == 6 and guarded.count("Where") == 7


def test_stripping_the_guarded_export_writes_the_catalogue_file(installed_embedder: Path, guarded_export: Path,
                                                                tmp_path: Path) -> None:
    _child("models.strip_nan_guards", guarded_export, tmp_path / "stripped.onnx")
    assert (tmp_path / "stripped.onnx").read_bytes() == installed_embedder.read_bytes()


def test_guarded_and_unguarded_graphs_embed_to_the_same_bits(installed_embedder: Path, guarded_export: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    paragraphs = [p for p in readme.split("\n\n") if len(p.split()) >= 20][:40]
    assert len(paragraphs) == 40
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


def test_set_up_derives_the_integer_embedder_from_its_derived_source_alone(tmp_path: Path, guarded_export: Path,
                                                                          installed_embedder: Path) -> None:
    """The integer graph is made from the unguarded one, itself made from the export: asked for alone, set-up
    makes the chain and keeps only the file asked for."""
    from engine.models_catalogue import EMBEDDER_INT8

    unguarded = _derived_embedder(tmp_path, guarded_export, EMBEDDER.sha256)
    assert EMBEDDER_INT8.made_from is not None
    integer = dataclasses.replace(EMBEDDER_INT8, made_from=dataclasses.replace(EMBEDDER_INT8.made_from,
                                                                                source=unguarded))
    [status] = provision([integer], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    assert status.state == "installed"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [EMBEDDER_INT8.file_name, "manifest.json"]
    assert (tmp_path / "models" / EMBEDDER_INT8.file_name).read_bytes() == locate.find(EMBEDDER_INT8).read_bytes()
