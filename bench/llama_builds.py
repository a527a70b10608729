"""llama.cpp builds side by side: prompt tokens/s, first token and decode tokens/s, in one run.

    .venv/bin/python -m bench.llama_builds --build portable=/path/site-packages \\
        --build dispatch=/path/site-packages [--build native=/path/site-packages:native] [--rounds 3]

Each build is a llama-cpp-python install of its own (a `pip install --target` folder, or a
virtual environment's site-packages); ``:VARIANT`` forces one CPU variant of a dispatch build (a
library ``libggml-cpu-VARIANT.so`` in its ``llama_cpp/lib``), else the app's own choice
(engine/generation/cpu_backend.py) is used. Every measurement runs in a fresh subprocess with that
folder first on ``sys.path``, the builds alternating within each round so that a load change on a
shared machine hits them all alike. Same model, same prompt (the first PROMPT_TOKENS tokens of
squad-dev's contexts), the app's generator options; medians over the rounds, and ratios to the first build.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT_TOKENS = 380
DECODE_TOKENS = 32
DEFAULT_MODELS = ("qwen2.5-coder-0.5b-instruct-q8_0.gguf", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
METRICS = (("prompt_tps", "prompt tok/s"), ("first_token_ms", "first token ms"), ("decode_tps", "decode tok/s"))


@dataclass(frozen=True)
class Build:
    name: str
    site_packages: Path
    variant: str | None

    @classmethod
    def parse(cls, text: str) -> Build:
        name, _, rest = text.partition("=")
        folder, _, variant = rest.partition(":")
        if not name or not folder:
            raise argparse.ArgumentTypeError(f"--build wants NAME=SITE_PACKAGES[:VARIANT], not {text!r}")
        if not (Path(folder) / "llama_cpp").is_dir():
            raise argparse.ArgumentTypeError(f"{folder} holds no llama_cpp package")
        return cls(name, Path(folder), variant or None)


def measure(model: Path, threads: int, variant: str | None) -> dict[str, object]:
    """One measurement in this process: evaluate the prompt, then decode greedily."""
    from bench.squad import load_squad
    from engine.generation.cpu_backend import load_cpu_backend
    from engine.generation.llm import GeneratorOptions, LlamaGenerator

    backend = load_cpu_backend(variant)
    generator = LlamaGenerator(model, GeneratorOptions(n_ctx=2048, n_threads=threads))
    llm = generator._llm
    articles, _ = load_squad()
    text = "\n\n".join(context for contexts in articles.values() for context in contexts[:2])
    prompt = llm.tokenize(text.encode("utf-8"), add_bos=True)[:PROMPT_TOKENS]
    llm.eval(prompt[:8])  # touches every weight once: page faults are not what is measured
    llm.reset()  # type: ignore[no-untyped-call]
    started = time.perf_counter()
    llm.eval(prompt)
    prompt_done = time.perf_counter()
    token = llm.sample(temp=0.0)
    first_token = time.perf_counter()
    for _ in range(DECODE_TOKENS - 1):
        llm.eval([token])
        token = llm.sample(temp=0.0)
    decoded = time.perf_counter()
    generator.close()
    return {"variant": backend.variant, "features": backend.features,
            "prompt_tps": len(prompt) / (prompt_done - started), "first_token_ms": (first_token - started) * 1000,
            "decode_tps": (DECODE_TOKENS - 1) / (decoded - first_token)}


def run_build(build: Build, model: Path, threads: int) -> dict[str, object]:
    command = [sys.executable, "-m", "bench.llama_builds", "--worker", str(model), "--threads", str(threads)]
    if build.variant:
        command += ["--variant", build.variant]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(build.site_packages), str(ROOT)])}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{build.name} on {model.name} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    measured: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def median(runs: list[dict[str, object]], key: str) -> float:
    return statistics.median(float(str(run[key])) for run in runs)


def report(model: Path, builds: list[Build], runs: dict[str, list[dict[str, object]]]) -> None:
    base = builds[0].name
    print(f"\n{model.name}: {PROMPT_TOKENS}-token prompt, {DECODE_TOKENS} tokens decoded, "
          f"medians of {len(runs[base])} rounds (ratio to {base})")
    print(f"{'build':<10} {'CPU variant':<16}" + "".join(f" {label:>22}" for _, label in METRICS))
    for build in builds:
        cells = []
        for key, _ in METRICS:
            value, reference = median(runs[build.name], key), median(runs[base], key)
            cells.append(f"{value:>12.1f} ({value / reference:4.2f}x)")
        print(f"{build.name:<10} {runs[build.name][0]['variant']!s:<16}" + "".join(f" {c:>22}" for c in cells))
    for build in builds:
        print(f"  {build.name}: {runs[build.name][0]['features']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Build.parse, action="append", default=[],
                        help="NAME=SITE_PACKAGES[:VARIANT], two or more; the first is the reference")
    parser.add_argument("--model", type=Path, action="append", help="GGUF file (default: the 0.5B and the 1.5B)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker, args.threads, args.variant)))
        return 0
    if len(args.build) < 2:
        parser.error("give at least two --build")
    from engine import paths

    models = args.model or [paths.models_dir() / name for name in DEFAULT_MODELS]
    print(f"{os.cpu_count()} CPUs, {args.threads} threads; builds: "
          + ", ".join(f"{b.name}={b.site_packages}{':' + b.variant if b.variant else ''}" for b in args.build))
    for model in models:
        runs: dict[str, list[dict[str, object]]] = {build.name: [] for build in args.build}
        for round_number in range(args.rounds):
            order = args.build if round_number % 2 == 0 else args.build[::-1]
            for build in order:
                runs[build.name].append(run_build(build, model, args.threads))
        report(model, args.build, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
