"""Which chat model file a setting names: "auto", a speed choice, a catalogue model, or any .gguf.

"fast" is Qwen2.5-Coder-0.5B (as Q8_0), "best" Qwen2.5-Coder-1.5B (right more often, about 2.2x the time on a
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
from engine.generation import speeds
from engine.generation.speeds import Speed
from engine.models_catalogue import CATALOGUE, QWEN_05B, QWEN_05B_Q4_K_M, QWEN_15B, TINY_CHAT_MODEL, CatalogueModel

Choice = Literal["auto", "fast", "best"]
CHOICES: tuple[Choice, ...] = ("auto", "fast", "best")
TIERS: dict[str, CatalogueModel] = {"fast": QWEN_05B, "best": QWEN_15B}
BEST_MIN_CORES = 8
# SmolLM2-135M stays installed (the tests' quick chat model; a setting naming it still works) but Settings no longer
# offers it: right on 0 of 5 answerable squad-dev questions, 3 of them declined, with llama.cpp's repeat penalty at
# 1.0 or 1.2 alike (bench.answers --squad 5 and a raw-reply probe, 2026-12); issue 16 saw it loop on one answer.
NOT_OFFERED = frozenset({TINY_CHAT_MODEL.name})


# Speeds on the reference machine: 2 cores of this project's CI machine, llama.cpp's portable CPU build. The 0.5B's
# from bench/ask_speed.py (382 prompt tokens to first token in 1.44 s, decode 57 tokens/s, for the Q4_K_M file;
# its Q8_0 form read prompts 1.3x faster at the same decode speed on an AVX2 host, and that ratio is applied);
# the 1.5B's from the 2.2x whole-answer time measured beside it (bench/quality.py, 2026-11).
REFERENCE_CORES = 2
REFERENCE_SPEEDS = {QWEN_05B.name: Speed(340.0, 55.0), QWEN_05B_Q4_K_M.name: Speed(260.0, 55.0),
                    QWEN_15B.name: Speed(95.0, 22.0)}
TYPICAL_PROMPT_TOKENS = 260  # question and passages, past the cached system prompt
TYPICAL_ANSWER_TOKENS = 30


@dataclass(frozen=True)
class Reading:
    """How much a chat model is given to read per answer, where the settings leave it to the model."""

    passages: int
    best_passage_tokens: int  # the best-ranked passage's length; -1: as long as the others (``passage_tokens``)


# Measured with bench.answers (30 + 30 squad-dev and 30 + 23 realdocs questions, 2026-12-03): two passages, the
# best one up to 160 tokens (the prompt as long as three of 80), against three of 80. The 1.5B, right 0.767 / 0.607
# against 0.700 / 0.542 (squad-dev / realdocs, seed 7) and 0.700 / 0.667 against 0.500 / 0.522 (seed 8), fewer
# answerable questions declined in both. The 0.5B, over three runs of each (seeds 7 and 8): right 0.400 / 0.374
# against 0.467 / 0.393 on average, wrongly declined 0.255 / 0.278 against 0.133 / 0.267 (one sample favoured
# each), and on every question of both sets right 0.467 / 0.499 against 0.533 / 0.594 with declines off: it keeps
# three of 80, as does any other model, a server's too.
DEFAULT_READING = Reading(passages=3, best_passage_tokens=-1)
READINGS: dict[str, Reading] = {QWEN_15B.name: Reading(passages=2, best_passage_tokens=160)}


def reading_for(model_file_name: str) -> Reading:
    """The measured reading of the catalogue chat model with this file name (``Generator.name``)."""
    model = catalogue_model_for(model_file_name)
    return READINGS.get(model.name, DEFAULT_READING) if model is not None else DEFAULT_READING


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


def expected_answer_seconds(model: CatalogueModel, cores: int | None = None) -> tuple[float, bool] | None:
    """About how long an answer takes on this computer, and whether that was measured here: from the model's
    own answers on this computer when it has given some (``speeds``), else estimated from the reference
    machine (None for a model never measured anywhere).

    The estimate: prompt evaluation scales with cores; decoding is bound by memory bandwidth, so it gains far
    less (square root of the core ratio, a conservative fit of llama.cpp's CPU scaling). Where another catalogue
    model has answered here, the estimate is scaled by how that one's speed here compares with its own
    reference estimate: CPUs with the same core count differ by 2x and more."""
    measured_here = speeds.measured_speeds()
    here = measured_here.get(model.file_name)
    if here is not None:
        return seconds_per_answer(here), True
    if model.name not in REFERENCE_SPEEDS:
        return None
    estimate = _reference_estimate(model, cores)
    for other in CATALOGUE:
        measured = measured_here.get(other.file_name) if other.name in REFERENCE_SPEEDS else None
        if measured is not None:
            expected = _reference_estimate(other, cores)
            estimate = Speed(estimate.prompt_tokens_per_s * measured.prompt_tokens_per_s / expected.prompt_tokens_per_s,
                             estimate.decode_tokens_per_s * measured.decode_tokens_per_s / expected.decode_tokens_per_s)
            break
    return seconds_per_answer(estimate), False


def _reference_estimate(model: CatalogueModel, cores: int | None) -> Speed:
    speed = REFERENCE_SPEEDS[model.name]
    ratio = min(cores or machine_cores(), 16) / REFERENCE_CORES
    return Speed(speed.prompt_tokens_per_s * ratio, speed.decode_tokens_per_s * ratio ** 0.5)


def seconds_per_answer(speed: Speed) -> float:
    return TYPICAL_PROMPT_TOKENS / speed.prompt_tokens_per_s + TYPICAL_ANSWER_TOKENS / speed.decode_tokens_per_s
