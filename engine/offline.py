"""Nothing leaves the machine: every library's call home is switched off before the library loads.

onnxruntime resolves a Microsoft telemetry host from its native threads about 9 s after an
``InferenceSession`` is created, unless ``ORT_DISABLE_TELEMETRY=1`` is in the environment when it is
imported (``onnxruntime.disable_telemetry_events()`` afterwards still left lookups). A Python socket
guard cannot see native calls, so the setting goes into the environment first thing in every process:
``main.py`` (the app, the CLI and the frozen app) calls ``seal_environment`` before any other import,
the parser child calls it again, and child processes inherit it.
"""

from __future__ import annotations

import os
import sys

# Forced, not defaulted: a value of 0 left in someone's shell must not turn telemetry back on.
SEALED_ENVIRONMENT: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime (the embedder)
    "HF_HUB_OFFLINE": "1",  # huggingface_hub, pulled in beside tokenizers: never reach the hub
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",  # the cross-tool convention (https://consoledonottrack.com)
}

# Imported before the seal, these may already have read their settings.
_WATCHED_MODULES = ("onnxruntime", "huggingface_hub", "tokenizers")


def seal_environment() -> list[str]:
    """Put every off switch into ``os.environ`` (and so into every child process).

    Returns the watched libraries that were imported too early for the seal to be sure to reach them,
    so callers and tests can tell; an empty list is the normal case.
    """
    os.environ.update(SEALED_ENVIRONMENT)
    return [name for name in _WATCHED_MODULES if name in sys.modules]


def is_sealed(environment: dict[str, str] | None = None) -> bool:
    current = os.environ if environment is None else environment
    return all(current.get(key) == value for key, value in SEALED_ENVIRONMENT.items())
