#!/usr/bin/env python3
"""Set up Hushdocs and start it, or run its tests: the README's two commands.

    python3 bootstrap.py          set up (virtual environment, pinned packages, models), then open the app
    python3 bootstrap.py test     set up, check the import contracts (lint-imports), then run the test suite
    python3 bootstrap.py setup    set up only

Standard library only, so it runs on a fresh machine with nothing but Python 3.11+. The second run
is fast: packages are reinstalled only when pyproject.toml or constraints.txt changed, and models
are verified from a manifest instead of re-hashed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HUSHDOCS_VENV", ROOT / ".venv"))
STAMP = VENV / ".hushdocs-installed"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_script(name: str) -> Path:
    """A console script the virtual environment installed (``lint-imports``)."""
    return VENV / ("Scripts" if os.name == "nt" else "bin") / (f"{name}.exe" if os.name == "nt" else name)


def say(message: str) -> None:
    print(f"[hushdocs] {message}", flush=True)


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(c) for c in command], check=True, env=env)


def requirements_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_packages() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - bootstrap may be started by an older python3
        sys.exit("Hushdocs needs Python 3.11 or newer.")
    if not venv_python().exists():
        say(f"creating the virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = requirements_fingerprint()
    if STAMP.exists() and STAMP.read_text().strip() == fingerprint:
        return
    say("installing pinned packages (the first time compiles llama.cpp: about 5 minutes on 2 cores)")
    env = dict(os.environ)
    # Portable CPU build unless the user asked for something else (e.g. -DGGML_CUDA=on): a
    # -march=native build dies with "Illegal instruction" on other CPUs.
    env.setdefault("CMAKE_ARGS", "-DGGML_NATIVE=off")
    python = venv_python()
    run(python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--upgrade", "pip", env=env)
    run(python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-c", ROOT / "constraints.txt",
        "-e", f"{ROOT}[dev]", env=env)
    STAMP.write_text(fingerprint)


def ensure_models() -> None:
    run(venv_python(), ROOT / "main.py", "models", "install")


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "app"
    if action not in ("app", "test", "setup"):
        print(__doc__)
        return 2
    ensure_packages()
    ensure_models()
    if action == "setup":
        say("ready: `python3 bootstrap.py` opens the app, `python3 bootstrap.py test` runs the tests")
        return 0
    if action == "test":
        # The layers (pyproject.toml's [tool.importlinter], drawn in ARCHITECTURE.md) before any test.
        if subprocess.call([str(venv_script("lint-imports"))], cwd=ROOT) != 0:
            say("an import crosses a layer (the broken contract is above; ARCHITECTURE.md says why); tests not run")
            return 1
        return subprocess.call([str(venv_python()), "-m", "pytest", *argv[1:]], cwd=ROOT)
    return subprocess.call([str(venv_python()), str(ROOT / "main.py"), *argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
