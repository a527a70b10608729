"""Find the catalogue's installed model files at run time (never downloads; ``models/`` installs them)."""

from __future__ import annotations

from pathlib import Path

from engine import paths
from engine.errors import ModelMissingError
from engine.models_catalogue import CatalogueModel


def find(model: CatalogueModel) -> Path:
    """The installed file of ``model``, or ModelMissingError naming the command that installs it."""
    folders = paths.model_search_dirs()
    for folder in folders:
        candidate = folder / model.file_name
        if candidate.is_file() and candidate.stat().st_size == model.size:
            return candidate
    raise ModelMissingError(model.title, ", ".join(str(f) for f in folders))


def is_installed(model: CatalogueModel) -> bool:
    try:
        find(model)
    except ModelMissingError:
        return False
    return True
