"""Which chat model file a setting names: a catalogue model, or any .gguf the user points at."""

from __future__ import annotations

from pathlib import Path

from engine import model_files as locate
from engine.errors import HushdocsError
from engine.models_catalogue import CATALOGUE


def resolve_chat_model(setting: str) -> Path:
    """A catalogue name resolves to its installed file; anything else is taken as a path."""
    for model in CATALOGUE:
        if model.role == "chat" and setting in (model.name, model.file_name):
            return locate.find(model)
    path = Path(setting).expanduser()
    if path.suffix.lower() != ".gguf" or not path.is_file():
        raise HushdocsError(
            f"The chat model {setting!r} is neither a catalogue model nor an existing .gguf file. "
            "Choose another model in Settings, or pass --model PATH."
        )
    return path
