"""Where Hushdocs keeps its data, models, logs and settings.

Everything lives under one folder per role, chosen by platformdirs. ``HUSHDOCS_HOME`` moves all of
it below a single folder (tests, portable use); ``HUSHDOCS_MODELS`` points at a model folder on its
own (tests share one provisioned model folder while their data lives in a temporary one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "Hushdocs"
HOME_ENV = "HUSHDOCS_HOME"
MODELS_ENV = "HUSHDOCS_MODELS"


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser().resolve() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The folder holding the index database and conversations."""
    home = _home()
    return _ensure(home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, False)))


def models_dir() -> Path:
    """The folder the provisioning command writes models into, and the first place looked in."""
    override = os.environ.get(MODELS_ENV)
    if override:
        return _ensure(Path(override).expanduser().resolve())
    home = _home()
    return _ensure(home / "models" if home else Path(platformdirs.user_data_dir(APP_NAME, False)) / "models")


def bundled_models_dir() -> Path | None:
    """Models shipped inside a packaged (frozen) app, next to the executable."""
    if getattr(sys, "frozen", False):
        base = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
        candidate = base / "models"
        return candidate if candidate.is_dir() else None
    return None


def model_search_dirs() -> list[Path]:
    """Folders searched for a catalogue model, first match wins."""
    dirs = [models_dir()]
    bundled = bundled_models_dir()
    if bundled is not None:
        dirs.append(bundled)
    return dirs


def logs_dir() -> Path:
    home = _home()
    return _ensure(home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME, False)))


def settings_dir() -> Path:
    home = _home()
    return _ensure(home / "settings" if home else Path(platformdirs.user_config_dir(APP_NAME, False)))


def database_path() -> Path:
    return data_dir() / "hushdocs.sqlite3"


def settings_path() -> Path:
    return settings_dir() / "settings.json"


def log_path() -> Path:
    return logs_dir() / "hushdocs.log"
