"""How fast each chat model reads prompts and writes on this computer, measured on the person's own answers.

Settings shows the expected time per answer from these once a model has answered here; before that, from
the reference machine's speeds scaled by the core count (``models.expected_answer_seconds``), which can be
off by 2x between CPUs of the same core count (this project's 2-core hosts: 97 and 260 prompt tokens/s for
the same file).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from engine import paths

log = logging.getLogger(__name__)

SPEEDS_FILE = "chat-speeds.json"
NEW_ANSWER_WEIGHT = 0.3  # each answer's share of the running average: a few answers follow a new setting
MIN_PROMPT_TOKENS = 32  # fewer evaluated tokens (a cached prompt) time the overhead, not the speed
MIN_REPLY_TOKENS = 8


@dataclass(frozen=True)
class Speed:
    prompt_tokens_per_s: float
    decode_tokens_per_s: float


def speed_of(prompt_tokens: int, prompt_s: float, reply_tokens: int, decode_s: float) -> Speed | None:
    """The speed of one reply: its uncached prompt tokens over the wait for the first token, and its other
    tokens over the time they took; None when either part is too short to time."""
    if prompt_tokens < MIN_PROMPT_TOKENS or reply_tokens - 1 < MIN_REPLY_TOKENS or prompt_s <= 0 or decode_s <= 0:
        return None
    return Speed(prompt_tokens / prompt_s, (reply_tokens - 1) / decode_s)


def _path() -> Path:
    return paths.data_dir() / SPEEDS_FILE


def measured_speeds() -> dict[str, Speed]:
    """Every model file's running average on this computer (entries that are not two positive numbers skipped)."""
    try:
        raw = json.loads(_path().read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {name: Speed(float(entry[0]), float(entry[1])) for name, entry in raw.items()
            if isinstance(entry, list) and len(entry) == 2 and all(isinstance(v, float | int) and v > 0 for v in entry)}


def record(model_file: str, speed: Speed) -> None:
    """Fold one answer's speed into ``model_file``'s running average (written atomically; a failure to write
    is logged, never raised: it only costs the estimate)."""
    entries = measured_speeds()
    previous = entries.get(model_file)
    if previous is not None:
        speed = Speed(_moved_towards(previous.prompt_tokens_per_s, speed.prompt_tokens_per_s),
                      _moved_towards(previous.decode_tokens_per_s, speed.decode_tokens_per_s))
    entries[model_file] = speed
    written = {name: [round(s.prompt_tokens_per_s, 1), round(s.decode_tokens_per_s, 1)] for name, s in entries.items()}
    path = _path()
    temporary = path.with_suffix(".tmp")
    try:
        temporary.write_text(json.dumps(written, indent=1, sort_keys=True), "utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("could not record the chat model's speed in %s: %s", path, exc)


def _moved_towards(average: float, new: float) -> float:
    return average + NEW_ANSWER_WEIGHT * (new - average)
