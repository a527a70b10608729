"""The installed llama.cpp build: every CPU variant the loader may pick here runs, and the packaging
check refuses a build made for one CPU.

Each variant runs in a subprocess of its own, so an "Illegal instruction" is one failed test, not a dead
suite. The packaging check is a unit test on a system-info line recorded from a -march=native build.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from engine.generation.cpu_backend import (
    X86_VARIANT_STATE,
    candidates,
    llama_cpp_lib_dir,
    os_enabled_state,
    refusals,
    variant_libraries,
    variant_score,
)

ROOT = Path(__file__).resolve().parents[1]
# llama_print_system_info() of a one-library build compiled -march=native on a CPU with AVX-512 (VBMI, VNNI,
# BF16) and AMX: ggml-cpu.cpp's feature list in its order (a fixed line, so that the check is tested on any machine,
# whatever its CPU builds natively).
NATIVE_SYSTEM_INFO = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
                      "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | "
                      "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")
PORTABLE_SYSTEM_INFO = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
                        "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")
# Load one variant (or the loader's choice), evaluate a short prompt and decode a few tokens greedily.
RUN_VARIANT = """
import json, sys
from pathlib import Path
from engine.generation.cpu_backend import load_cpu_backend
from engine.generation.llm import GeneratorOptions, LlamaGenerator
backend = load_cpu_backend(sys.argv[2] or None)
generator = LlamaGenerator(Path(sys.argv[1]), GeneratorOptions(n_ctx=256, n_threads=2))
llm = generator._llm
llm.eval(llm.tokenize(b"The capital of France is", add_bos=True))
tokens = [llm.sample(temp=0.0)]
for _ in range(3):
    llm.eval(tokens[-1:])
    tokens.append(llm.sample(temp=0.0))
print(json.dumps({"variant": backend.variant, "features": backend.features,
                  "text": llm.detokenize(tokens).decode("utf-8", "replace")}))
"""


def _dispatch_libraries() -> dict[str, Path]:
    libraries = variant_libraries(llama_cpp_lib_dir())
    if not libraries:
        bootstrap = _load_script(ROOT / "bootstrap.py", "hushdocs_bootstrap")
        if bootstrap.llama_cpp_build()[1] == bootstrap.DISPATCH_CMAKE_ARGS:
            pytest.fail(f"{llama_cpp_lib_dir()} holds no CPU variants, but bootstrap.py installs the dispatch "
                        "build here: run `python3 bootstrap.py setup`")
        pytest.skip("llama.cpp was built with other CMAKE_ARGS (one CPU library, no variants)")
    return libraries


def _load_script(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(model: Path, variant: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN_VARIANT, str(model), variant], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def test_every_variant_the_loader_may_pick_here_runs(tiny_model_path: Path) -> None:
    _dispatch_libraries()
    scores, refused = candidates(llama_cpp_lib_dir())
    assert scores, f"no CPU variant runs here; refused: {refused}"
    best = max(scores, key=scores.__getitem__)
    for variant in ["", *(name for name in scores if name != best)]:  # "": the loader's own choice
        result = _run(tiny_model_path, variant)
        assert result.returncode == 0, f"variant {variant or best} failed (exit {result.returncode}):\n" \
                                       f"{result.stderr[-1500:]}"
        report = json.loads(result.stdout.splitlines()[-1])
        assert report["variant"] == (variant or best) and report["text"].strip(), (report, scores)


def test_the_build_holds_every_variant_the_loader_knows() -> None:
    assert set(_dispatch_libraries()) == set(X86_VARIANT_STATE)


def test_variants_needing_register_state_the_os_does_not_enable_are_refused() -> None:
    variants = ["x64", "haswell", "skylakex", "zen4", "graniterapids"]
    assert set(refusals(variants, frozenset({"avx"}))) == {"skylakex", "zen4", "graniterapids"}
    assert set(refusals(variants, frozenset({"avx", "avx512"}))) == {"graniterapids"}
    assert refusals(variants, None) == {}  # unknown OS state: ggml's CPUID score decides


def test_the_amx_variant_is_refused_whatever_the_os_enables() -> None:
    for enabled in (frozenset({"avx", "avx512", "amx"}), frozenset({"avx", "avx512"}), None):
        refused = refusals(["haswell", "zen4", "sapphirerapids"], enabled)
        assert list(refused) == ["sapphirerapids"] and "AMX kernels fault" in refused["sapphirerapids"]


def test_the_amx_kernels_still_fault_where_amx_runs(tiny_model_path: Path) -> None:
    """The refusal above stands for the pinned llama.cpp's bug: when an upgrade fixes it, this goes red, and
    BROKEN_STATE_KERNELS in engine/generation/cpu_backend.py should lose its entry."""
    if "sapphirerapids" not in _dispatch_libraries():
        pytest.fail("the dispatch build has no sapphirerapids variant")
    enabled = os_enabled_state()
    if enabled is None or "amx" not in enabled or variant_score(_dispatch_libraries()["sapphirerapids"]) == 0:
        pytest.skip("this CPU or OS does not run AMX")
    result = _run(tiny_model_path, "sapphirerapids")
    faults = (-signal.SIGILL, -signal.SIGSEGV)  # a tile instruction with no valid configuration loaded
    assert result.returncode in faults, (result.returncode, result.stdout[-500:], result.stderr[-1500:])


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="Linux only")
def test_os_state_agrees_with_what_the_kernel_lists() -> None:
    """Linux lists avx512f and amx_tile in /proc/cpuinfo only when it enables their register state."""
    enabled = os_enabled_state()
    if enabled is None:
        pytest.skip("the kernel does not answer ARCH_GET_XCOMP_SUPP (older than 5.16, or not x86-64)")
    flags = set(next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")).split(":", 1)[1].split())
    assert ("avx" in enabled) == ("avx" in flags)
    assert ("avx512" in enabled) == ("avx512f" in flags)
    if "amx" in enabled:
        assert "amx_tile" in flags


def test_packaging_check_refuses_a_native_build_and_accepts_the_installed_one(tmp_path: Path) -> None:
    build = _load_script(ROOT / "packaging" / "build.py", "hushdocs_packaging_build")
    assert build.native_features(NATIVE_SYSTEM_INFO) == ["AMX_INT8", "AVX512", "AVX512_BF16", "AVX512_VBMI",
                                                         "AVX512_VNNI"]
    assert build.native_features(PORTABLE_SYSTEM_INFO) == []
    single_library = tmp_path  # a folder without CPU variants: the one-library rules apply
    with pytest.raises(SystemExit, match="built for this CPU"):
        build.check_llama_build(single_library, NATIVE_SYSTEM_INFO)
    assert build.check_llama_build(single_library, PORTABLE_SYSTEM_INFO) == PORTABLE_SYSTEM_INFO
    lib_dir = llama_cpp_lib_dir()
    if variant_libraries(lib_dir):
        # The variants decide, whatever the variant loaded on this machine reports.
        assert "CPU variants: " in build.check_llama_build(lib_dir, NATIVE_SYSTEM_INFO, "sapphirerapids")


def test_set_up_builds_every_variant_where_the_cpu_has_avx512(monkeypatch: pytest.MonkeyPatch) -> None:
    bootstrap = _load_script(ROOT / "bootstrap.py", "hushdocs_bootstrap")
    monkeypatch.setattr(bootstrap.sys, "platform", "linux")  # the dispatch build is chosen on x86-64 Linux
    monkeypatch.setattr(bootstrap.platform, "machine", lambda: "x86_64")
    monkeypatch.delenv("CMAKE_ARGS", raising=False)
    for wanted, avx512, expected in ((None, True, bootstrap.DISPATCH_CMAKE_ARGS),
                                     (None, False, bootstrap.PORTABLE_CMAKE_ARGS),
                                     ("all", False, bootstrap.DISPATCH_CMAKE_ARGS),
                                     ("none", True, bootstrap.PORTABLE_CMAKE_ARGS)):
        if wanted is None:
            monkeypatch.delenv(bootstrap.VARIANTS_ENV, raising=False)
        else:
            monkeypatch.setenv(bootstrap.VARIANTS_ENV, wanted)
        monkeypatch.setattr(bootstrap, "cpu_has_avx512", lambda avx512=avx512: avx512)
        assert bootstrap.llama_cpp_build()[1] == expected, (wanted, avx512)
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_CUDA=on")  # the person's own arguments go first
    assert bootstrap.llama_cpp_build()[1] == "-DGGML_CUDA=on"
