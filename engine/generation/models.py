"""Which chat model file a setting names: "auto", a speed choice, a catalogue model, or any .gguf.

"fast" is Qwen2.5-Coder-0.5B, "best" Qwen2.5-Coder-1.5B (right more often, about 2.2x the time on a
CPU; bench/answers.py measures both). "auto", the default, takes "best" where the machine runs it
at an interactive speed (a GPU llama.cpp can offload to, or at least ``BEST_MIN_CORES`` cores) and
it is installed; otherwise "fast".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine import model_files as locate
from engine.errors import HushdocsError
from engine.models_catalogue import CATALOGUE, QWEN_05B, QWEN_15B, TINY_CHAT_MODEL, CatalogueModel

Choice = Literal["auto", "fast", "best"]
CHOICES: tuple[Choice, ...] = ("auto", "fast", "best")
TIERS: dict[str, CatalogueModel] = {"fast": QWEN_05B, "best": QWEN_15B}
BEST_MIN_CORES = 8
# SmolLM2-135M stays installed (the tests' quick chat model; a setting naming it still works) but Settings no longer
# offers it: right on 0 of 5 answerable squad-dev questions, 3 of them declined, with llama.cpp's repeat penalty at
# 1.0 or 1.2 alike (bench.answers --squad 5 and a raw-reply probe, 2026-12); issue 16 saw it loop on one answer.
NOT_OFFERED = frozenset({TINY_CHAT_MODEL.name})


@dataclass(frozen=True)
class Speed:
    """A model's speed on the reference machine: 2 cores of this project's CI machine, llama.cpp's portable CPU
    build. The 0.5B's from bench/ask_speed.py (382 prompt tokens to first token in 1.44 s, decode 57 tokens/s);
    the 1.5B's from the 2.2x whole-answer time measured beside it (bench/quality.py, 2026-11)."""

    prompt_tokens_per_s: float
    decode_tokens_per_s: float


REFERENCE_CORES = 2
REFERENCE_SPEEDS = {QWEN_05B.name: Speed(260.0, 55.0), QWEN_15B.name: Speed(95.0, 22.0)}
TYPICAL_PROMPT_TOKENS = 260  # question and passages, past the cached system prompt
TYPICAL_ANSWER_TOKENS = 30


def machine_cores() -> int:
    return max(1, os.cpu_count() or 1)


def auto_tier(cores: int, gpu_offload: bool, best_installed: bool) -> Literal["fast", "best"]:
    if best_installed and (gpu_offload or cores >= BEST_MIN_CORES):
        return "best"
    return "fast"


def offered_chat_models() -> list[CatalogueModel]:
    """The catalogue chat models Settings lists: all but those too weak to answer (``NOT_OFFERED``)."""
    return [m for m in CATALOGUE if m.role == "chat" and m.name not in NOT_OFFERED]


def catalogue_model_for(setting: str, *, cores: int | None = None, gpu_offload: bool = False) -> CatalogueModel | None:
    """The catalogue model a setting names ("auto", "fast", "best" or a catalogue name); None for a file path."""
    if setting == "auto":
        setting = auto_tier(cores or machine_cores(), gpu_offload, locate.is_installed(QWEN_15B))
    if setting in TIERS:
        return TIERS[setting]
    return next((m for m in CATALOGUE if m.role == "chat" and setting in (m.name, m.file_name)), None)


def resolve_chat_model(setting: str, *, gpu_offload: bool = False) -> Path:
    """A speed choice or catalogue name resolves to its installed file; anything else is taken as a path."""
    model = catalogue_model_for(setting, gpu_offload=gpu_offload)
    if model is not None:
        return locate.find(model)
    path = Path(setting).expanduser()
    if path.suffix.lower() != ".gguf" or not path.is_file():
        raise HushdocsError(
            f"The chat model {setting!r} is neither a catalogue model nor an existing .gguf file. "
            "Choose another model in Settings, or pass --model PATH."
        )
    return path


def expected_answer_seconds(model: CatalogueModel, cores: int | None = None) -> float | None:
    """About how long an answer takes on this machine's CPU (None for a model never measured).

    Prompt evaluation scales with cores; decoding is bound by memory bandwidth, so it gains far less
    (square root of the core ratio, a conservative fit of llama.cpp's CPU scaling)."""
    speed = REFERENCE_SPEEDS.get(model.name)
    if speed is None:
        return None
    ratio = min(cores or machine_cores(), 16) / REFERENCE_CORES
    prompt = TYPICAL_PROMPT_TOKENS / (speed.prompt_tokens_per_s * ratio)
    decode = TYPICAL_ANSWER_TOKENS / (speed.decode_tokens_per_s * ratio ** 0.5)
    return float(prompt + decode)
