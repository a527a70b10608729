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
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HUSHDOCS_VENV", ROOT / ".venv"))
STAMP = VENV / ".hushdocs-installed"
LLAMA_STAMP = VENV / ".hushdocs-llama-cpp"  # the llama-cpp-python version and CMAKE_ARGS installed
WHEEL_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hushdocs" / "llama-wheels"
# On x86-64 Linux, where the CPU has AVX-512 (or with HUSHDOCS_LLAMA_VARIANTS=all anywhere there), one build for
# every x86-64 CPU: each instruction-set level of ggml's CPU backend as its own library (libggml-cpu-haswell.so,
# -icelake, -zen4...); engine/generation/cpu_backend.py loads the best one the CPU has and the OS enables.
# Installed next to libllama (not in site-packages/bin), no mtmd. It compiles 14 variants: 7.4 minutes of set-up
# on a quiet 2-core AMD Zen 4 (the portable build: about 5), and there it evaluates prompts 1.30x (0.5B) and 1.42x
# (1.5B) as fast as the portable build (bench/llama_builds.py); on an AVX2-only CPU it loads the portable build's
# own instruction set and gained nothing, so there the portable build stays (HUSHDOCS_LLAMA_VARIANTS=none: the
# portable build everywhere). A release build of the packaged app should be the dispatch build.
VARIANTS_ENV = "HUSHDOCS_LLAMA_VARIANTS"
DISPATCH_CMAKE_ARGS = ("-DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_NATIVE=OFF "
                       "-DCMAKE_INSTALL_BINDIR=llama_cpp/lib -DLLAVA_BUILD=OFF")
# Elsewhere one portable build: a -march=native build dies with "Illegal instruction" on other CPUs.
PORTABLE_CMAKE_ARGS = "-DGGML_NATIVE=off"


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
    python = venv_python()
    ensure_llama_cpp(python)  # its own stamp: an environment holding another build gets this one, once
    fingerprint = requirements_fingerprint()
    if STAMP.exists() and STAMP.read_text().strip() == fingerprint:
        return
    say("installing pinned packages")
    run(python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--upgrade", "pip")
    run(python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-c", ROOT / "constraints.txt",
        "-e", f"{ROOT}[dev]")
    STAMP.write_text(fingerprint)


def llama_cpp_build() -> tuple[str, str]:
    """The pinned llama-cpp-python version and the CMAKE_ARGS to compile it with (the user's own, e.g.
    -DGGML_CUDA=on, win over the default)."""
    match = re.search(r"^llama_cpp_python==(\S+)", (ROOT / "constraints.txt").read_text(), re.MULTILINE)
    if match is None:
        sys.exit("constraints.txt does not pin llama_cpp_python")
    x86_64_linux = sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64")
    wanted = os.environ.get(VARIANTS_ENV, "auto")
    variants = x86_64_linux and (wanted == "all" or (wanted == "auto" and cpu_has_avx512()))
    return match.group(1), os.environ.get("CMAKE_ARGS") or (DISPATCH_CMAKE_ARGS if variants else PORTABLE_CMAKE_ARGS)


def cpu_has_avx512() -> bool:
    """The CPU lists AVX-512 (Linux's /proc/cpuinfo). Whether the OS enables it is the loader's question."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return re.search(r"^flags\s*:.*\bavx512f\b", cpuinfo, re.MULTILINE) is not None


def ensure_llama_cpp(python: Path) -> None:
    """Compile llama-cpp-python once per version and CMAKE_ARGS into a wheel kept in WHEEL_CACHE, and
    install it unless the environment already has that very build (LLAMA_STAMP). pip's own wheel cache
    is bypassed: it keys a built wheel by the source alone, so it would hand back a build made with
    other CMAKE_ARGS (an older portable one)."""
    version, cmake_args = llama_cpp_build()
    build = f"llama_cpp_python=={version} CMAKE_ARGS={cmake_args}"
    if LLAMA_STAMP.is_file() and LLAMA_STAMP.read_text().strip() == build:
        return
    cached = WHEEL_CACHE / hashlib.sha256(build.encode()).hexdigest()[:16]
    wheels = sorted(cached.glob("llama_cpp_python-*.whl"))
    if not wheels:
        say(f"compiling llama.cpp once ({cmake_args}): about 5 minutes on 2 cores, 8 or more with every CPU variant")
        with tempfile.TemporaryDirectory(prefix="hushdocs-llama-") as scratch:
            run(python, "-m", "pip", "wheel", "--disable-pip-version-check", "-q", "--no-deps", "--no-cache-dir",
                "--no-binary", "llama_cpp_python", "-w", scratch, f"llama_cpp_python=={version}",
                env={**os.environ, "CMAKE_ARGS": cmake_args})
            cached.mkdir(parents=True, exist_ok=True)
            for wheel in Path(scratch).glob("llama_cpp_python-*.whl"):
                shutil.move(str(wheel), cached / wheel.name)
        wheels = sorted(cached.glob("llama_cpp_python-*.whl"))
    say(f"installing llama.cpp ({cmake_args})")
    run(python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", "--force-reinstall",
        wheels[-1])
    LLAMA_STAMP.write_text(build)


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
