"""Pick and load llama.cpp's CPU backend: the fastest variant this CPU has and this OS lets a process use.

A dispatch build of llama.cpp (``GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON``, what bootstrap.py
installs) ships one CPU library per instruction-set level (``libggml-cpu-haswell.so``,
``libggml-cpu-icelake.so``...) instead of one fixed ``libggml-cpu.so``. ggml would look for them only
next to the Python executable and in the current folder, and it scores them by CPUID alone (its
``ggml_backend_cpu_x86_score`` says "FIXME: this does not check for OS support"): a CPU may list
AVX-512 or AMX while the kernel (or the hypervisor) does not enable their registers, and then every
AVX-512 instruction dies with "Illegal instruction". So this module loads the variant itself, from
llama_cpp's own lib folder, before llama.cpp initialises its backends:

1. every variant whose register state the OS does not enable is refused (Linux: the xfeatures the
   kernel supports, from ``arch_prctl(ARCH_GET_XCOMP_SUPP)``; AMX also needs
   ``arch_prctl(ARCH_REQ_XCOMP_PERM)`` to be granted);
2. the others are scored by their own ``ggml_backend_score()`` (0: the CPU lacks a feature);
3. the best one is registered with ``ggml_backend_load()``.

A build without variants (``libggml-cpu`` linked in, the older portable build) is left alone.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ModelLoadError

log = logging.getLogger(__name__)

# Register state each x86 variant's instructions need (the variants of ggml/src/CMakeLists.txt at the
# pinned llama.cpp): "avx" is XCR0's YMM state, "avx512" its opmask/ZMM state, "amx" the tile state.
_YMM = frozenset({"avx"})
_ZMM = frozenset({"avx", "avx512"})
X86_VARIANT_STATE: dict[str, frozenset[str]] = {
    "x64": frozenset(), "sse42": frozenset(),
    "sandybridge": _YMM, "ivybridge": _YMM, "piledriver": _YMM, "haswell": _YMM, "alderlake": _YMM,
    "skylakex": _ZMM, "cannonlake": _ZMM, "cascadelake": _ZMM, "icelake": _ZMM, "cooperlake": _ZMM, "zen4": _ZMM,
    "sapphirerapids": _ZMM | {"amx"},
}
# Register states whose ggml kernels fault at the pinned llama.cpp, with why: no variant using them is loaded, whatever
# the CPU and the OS allow. ggml_backend_amx_mul_mat runs tile instructions without a valid tile configuration
# loaded, on a Xeon whose kernel grants AMX (a valid configuration loads there): the dispatch build's sapphirerapids
# variant dies with SIGILL at tilezero in a worker thread, a -march=native build with SIGSEGV at ldtilecfg (the
# configuration on its stack reads 255 rows of 0 bytes). tests/test_llama_build.py runs the AMX variant where it
# can, to say when a llama.cpp upgrade has fixed it.
BROKEN_STATE_KERNELS = {
    "amx": "its AMX kernels fault in this llama.cpp release (tile instructions without a valid tile configuration: "
           "SIGILL or SIGSEGV; llama.cpp issue 20824, fix proposed in PR 26954)",
}
# XSAVE feature bits (Intel SDM vol. 1, 13.1): 2 YMM; 5, 6, 7 opmask and ZMM; 17, 18 AMX tile config and data.
_XFEATURE_BITS = {"avx": (2,), "avx512": (5, 6, 7), "amx": (17, 18)}
_SYS_ARCH_PRCTL = 158  # x86-64 Linux
_ARCH_GET_XCOMP_SUPP = 0x1021
_ARCH_REQ_XCOMP_PERM = 0x1023
_XFEATURE_XTILEDATA = 18
_PREFIX, _SUFFIX = ("ggml-cpu-", ".dll") if sys.platform == "win32" else ("libggml-cpu-", ".so")


@dataclass(frozen=True)
class CpuBackend:
    """What was loaded: the variant's name ("built in" for a build without variants) and its features."""

    variant: str
    features: str  # llama_print_system_info()'s CPU part: the instruction sets the loaded code was built for
    path: Path | None = None
    refused: dict[str, str] = field(default_factory=dict)  # variant -> why it was not a candidate

    def describe(self) -> str:
        refused = f"; refused here: {', '.join(sorted(self.refused))}" if self.refused else ""
        return f"CPU variant {self.variant} ({self.features}){refused}"


def variant_libraries(lib_dir: Path) -> dict[str, Path]:
    """The CPU variant libraries of a dispatch build, by variant name; empty for a build without them."""
    return {path.name[len(_PREFIX):-len(_SUFFIX)]: path for path in sorted(lib_dir.glob(f"{_PREFIX}*{_SUFFIX}"))}


def os_enabled_state() -> frozenset[str] | None:
    """The register states ("avx", "avx512", "amx") this process may use; None where it cannot be read
    (not x86-64 Linux, or a kernel older than 5.16), and then ggml's CPUID score decides alone."""
    if not sys.platform.startswith("linux") or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    mask = ctypes.c_uint64(0)
    if libc.syscall(ctypes.c_long(_SYS_ARCH_PRCTL), ctypes.c_long(_ARCH_GET_XCOMP_SUPP), ctypes.byref(mask)) != 0:
        return None
    enabled = {name for name, bits in _XFEATURE_BITS.items() if all(mask.value >> bit & 1 for bit in bits)}
    # The tile state is enabled per process, on request (what ggml's AMX code asks for too).
    if "amx" in enabled and libc.syscall(ctypes.c_long(_SYS_ARCH_PRCTL), ctypes.c_long(_ARCH_REQ_XCOMP_PERM),
                                         ctypes.c_long(_XFEATURE_XTILEDATA)) != 0:
        enabled.discard("amx")
    return frozenset(enabled)


def refusals(variants: list[str], enabled: frozenset[str] | None) -> dict[str, str]:
    """The variants that must not be loaded here, each with the reason."""
    refused = {}
    for name in variants:
        needed = X86_VARIANT_STATE.get(name)
        broken = sorted(needed & BROKEN_STATE_KERNELS.keys()) if needed else []
        if broken:
            refused[name] = BROKEN_STATE_KERNELS[broken[0]]
        elif enabled is None:
            continue  # the OS's state cannot be read: ggml's CPUID score decides
        elif needed is None:
            refused[name] = "a variant this module does not know the register needs of"
        elif needed - enabled:
            refused[name] = f"needs {'+'.join(sorted(needed - enabled))} register state, which the OS does not enable"
    return refused


def variant_score(path: Path) -> int:
    """The variant's own ggml_backend_score(): 0 when the CPU lacks one of its features (CPUID)."""
    library = ctypes.CDLL(str(path))
    score = int(library.ggml_backend_score())
    if sys.platform != "win32":
        import _ctypes  # noqa: PLC0415 - POSIX only

        _ctypes.dlclose(library._handle)  # as ggml does after scoring: only the chosen one stays loaded
    return score


def candidates(lib_dir: Path) -> tuple[dict[str, int], dict[str, str]]:
    """The variants the loader may pick on this machine with their scores, and the refused ones with why."""
    libraries = variant_libraries(lib_dir)
    refused = refusals(list(libraries), os_enabled_state())
    scores = {name: variant_score(path) for name, path in libraries.items() if name not in refused}
    return {name: score for name, score in scores.items() if score > 0}, refused


def llama_cpp_lib_dir() -> Path:
    """The folder llama-cpp-python loads its shared libraries from (also inside the packaged app)."""
    import llama_cpp  # noqa: PLC0415 - heavy, loaded on first use

    return Path(llama_cpp.__file__).parent / "lib"


def _cpu_features() -> str:
    import llama_cpp  # noqa: PLC0415 - heavy, loaded on first use

    info = llama_cpp.llama_print_system_info().decode()
    match = re.search(r"CPU : (.*?)(?:\w+ : |$)", info)
    return " ".join(re.findall(r"(\w+) = 1", match.group(1) if match else info))


_lock = threading.Lock()
_loaded: CpuBackend | None = None


def load_cpu_backend(variant: str | None = None) -> CpuBackend:
    """Register llama.cpp's CPU backend once per process, before the first model loads; ``variant``
    forces one by name (the tests run each candidate in its own process). Raises ModelLoadError when
    none can run here."""
    global _loaded
    with _lock:
        if _loaded is not None:
            if variant is not None and variant != _loaded.variant:
                raise RuntimeError(f"CPU variant {_loaded.variant} is already loaded in this process")
            return _loaded
        lib_dir = llama_cpp_lib_dir()
        libraries = variant_libraries(lib_dir)
        if not libraries:
            _loaded = CpuBackend("built in", _cpu_features())
            return _loaded
        scores, refused = candidates(lib_dir)
        chosen = variant if variant is not None else max(scores, key=lambda name: scores[name], default=None)
        if chosen is None:
            raise ModelLoadError(f"None of llama.cpp's CPU variants in {lib_dir} runs on this machine "
                                 f"({', '.join(libraries)}; refused: {refused or 'none'})")
        if chosen not in libraries:
            raise ModelLoadError(f"llama.cpp has no CPU variant {chosen!r} in {lib_dir}")
        _register_backends(lib_dir, libraries[chosen], set(libraries.values()))
        _loaded = CpuBackend(chosen, _cpu_features(), libraries[chosen], refused)
        log.info("llama.cpp %s", _loaded.describe())
        return _loaded


def _register_backends(lib_dir: Path, cpu_variant: Path, all_variants: set[Path]) -> None:
    """Register the chosen CPU variant, and any other backend module in the folder (a GPU build's
    libggml-cuda.so: ggml would not find it either). ggml's functions are looked up through libllama's
    handle, so they belong to the libggml copy libllama linked (a wheel holds libggml.so and
    libggml.so.0 as two separate files)."""
    import llama_cpp.llama_cpp  # noqa: PLC0415, F401 - loads libllama from lib_dir first

    ggml = ctypes.CDLL(str(lib_dir / ("llama.dll" if sys.platform == "win32" else "libllama.so")))
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    prefix = _PREFIX.removesuffix("cpu-")
    base = {f"{prefix}base{_SUFFIX}", f"{prefix.removesuffix('-')}{_SUFFIX}"}
    for path in sorted(lib_dir.glob(f"{prefix}*{_SUFFIX}")):
        if path not in all_variants and path.name not in base and ggml.ggml_backend_load(str(path).encode()):
            log.info("llama.cpp backend loaded: %s", path.name)
    if not ggml.ggml_backend_load(str(cpu_variant).encode()):
        raise ModelLoadError(f"llama.cpp could not load its CPU backend {cpu_variant}")
