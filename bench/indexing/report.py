"""The figures as JSON and as the printed table: what was measured, the goal, whether it was met."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from typing import Any

from bench.indexing.corpus import Corpus
from bench.indexing.memory import RssSampler
from bench.indexing.pipeline import GOAL_PIPELINE_RATIO, PipelineResult
from bench.indexing.reference import GOAL_COSINE, GOAL_SPEEDUP, ReferenceResult
from bench.indexing.resync import GOAL_RESYNC_S, ResyncResult

Row = tuple[str, str, str, str]


def mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB"


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def load_note() -> str:
    load1, load5, _ = os.getloadavg()
    return f"load average {load1:.2f} (1 min), {load5:.2f} (5 min) on {os.cpu_count()} cores"


def platform_note() -> str:
    return f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"


def print_table(rows: Sequence[Row]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    line = "-" * (sum(widths) + 9)
    print(line)
    for number, row in enumerate(rows):
        print(f"{row[0]:<{widths[0]}} | {row[1]:>{widths[1]}} | {row[2]:<{widths[2]}} | {row[3]:<{widths[3]}}")
        if number == 0:
            print(line)
    print(line)


# -- JSON -------------------------------------------------------------------------------------------


def pipeline_figures(corpus: Corpus, pipeline: PipelineResult, sampler: RssSampler,
                     rss_before: int) -> dict[str, Any]:
    pages, chunks, embedded = pipeline.total("pages"), pipeline.total("chunks"), pipeline.total("embedded")
    seconds, alone = pipeline.total("pipeline_s"), pipeline.total("alone_s")
    return {
        "corpus": {"description": corpus.description, "files": len(corpus.files),
                   "files_indexed": int(pipeline.total("files")), "pages": int(pages), "chunks": int(chunks),
                   "embedded": int(embedded), "erlang_files": corpus.erlang_files,
                   "erlang_pages_available": corpus.erlang_pages_available, "failed": pipeline.failed},
        "pipeline": {"seconds": seconds, "pages_per_s": pages / seconds, "chunks_per_s": chunks / seconds,
                     "embedded_per_s": embedded / seconds, "embedder_alone_seconds": alone,
                     "embedder_alone_chunks_per_s": embedded / alone, "ratio": pipeline.ratio,
                     "ratio_per_part": pipeline.ratios, "ratio_median": statistics.median(pipeline.ratios),
                     "goal": GOAL_PIPELINE_RATIO, "cpu_seconds": pipeline.total("pipeline_cpu_s"),
                     "parser_cpu_seconds": pipeline.total("parser_cpu_s"),
                     "embedder_alone_cpu_seconds": pipeline.total("alone_cpu_s"), "cpu_ratio": pipeline.cpu_ratio},
        "rss": {"main_before_indexing": rss_before, "main_peak": sampler.peak_main, "parser_peak": sampler.peak_child,
                "sum_peak": sampler.peak_sum, "samples": sampler.samples,
                "parser_processes": len(sampler.parser_pids)},
    }


def reference_figures(reference: ReferenceResult) -> dict[str, Any]:
    return {"versions": reference.versions, "chunks": reference.chunks, "rounds": reference.rounds,
            "onnx_seconds": reference.onnx_s, "torch_seconds": reference.torch_s,
            "onnx_chunks_per_s": reference.onnx_rate, "torch_chunks_per_s": reference.torch_rate,
            "speedup": reference.speedup, "cosine_min": reference.cosine_min, "cosine_mean": reference.cosine_mean,
            "goal_speedup": GOAL_SPEEDUP, "goal_cosine": GOAL_COSINE}


def resync_figures(resync: ResyncResult) -> dict[str, Any]:
    return {"files": resync.files, "initial_seconds": resync.initial_s, "unchanged_seconds": resync.unchanged_s,
            "unchanged_median": statistics.median(resync.unchanged_s),
            "unchanged_nothing_done": resync.unchanged_ok, "changed_seconds": resync.changed_s,
            "changed_median": statistics.median(resync.changed_s), "changed_files_reindexed": resync.changed_files,
            "changed_only_that_file": resync.changed_only_that_file, "changed_embedded": resync.changed_embedded,
            "changed_chunks": resync.changed_chunks, "goal_seconds": GOAL_RESYNC_S}


# -- the table --------------------------------------------------------------------------------------


def pipeline_rows(pipeline: PipelineResult) -> list[Row]:
    files, pages = int(pipeline.total("files")), int(pipeline.total("pages"))
    chunks, embedded = int(pipeline.total("chunks")), int(pipeline.total("embedded"))
    seconds, alone = pipeline.total("pipeline_s"), pipeline.total("alone_s")
    return [
        ("corpus indexed (files / pages / chunks)", f"{files} / {pages:,} / {chunks:,}", "", ""),
        ("  chunks embedded (rest reused)", f"{embedded:,}", "", ""),
        ("pipeline pages/s", f"{pages / seconds:.2f}", "", ""),
        ("pipeline chunks/s", f"{chunks / seconds:.2f}", "", ""),
        ("embedder alone chunks/s (same chunks, slices)", f"{embedded / alone:.2f}", "", ""),
        ("pipeline / embedder alone (all; median of parts)",
         f"{pipeline.ratio:.3f}; {statistics.median(pipeline.ratios):.3f}", f">= {GOAL_PIPELINE_RATIO}",
         verdict(pipeline.ratio >= GOAL_PIPELINE_RATIO)),
        ("  same in CPU seconds (alone / pipeline incl. parser)", f"{pipeline.cpu_ratio:.3f}", "", ""),
    ]


def reference_rows(reference: ReferenceResult) -> list[Row]:
    return [
        (f"ONNX int8 chunks/s (median of {reference.rounds})", f"{reference.onnx_rate:.2f}", "", ""),
        (f"PyTorch fp32 chunks/s (median of {reference.rounds})", f"{reference.torch_rate:.2f}", "", ""),
        ("ONNX / PyTorch", f"{reference.speedup:.2f}x", f">= {GOAL_SPEEDUP:.0f}x",
         verdict(reference.speedup >= GOAL_SPEEDUP)),
        (f"cosine to PyTorch, min / mean ({reference.chunks} chunks)",
         f"{reference.cosine_min:.4f} / {reference.cosine_mean:.4f}", f">= {GOAL_COSINE}",
         verdict(reference.cosine_min >= GOAL_COSINE)),
    ]


def resync_rows(resync: ResyncResult) -> list[Row]:
    unchanged = statistics.median(resync.unchanged_s)
    return [
        (f"re-sync {resync.files} unchanged files (median of {len(resync.unchanged_s)})", f"{unchanged:.3f} s",
         f"< {GOAL_RESYNC_S:.0f} s", verdict(unchanged < GOAL_RESYNC_S and resync.unchanged_ok)),
        (f"one file changed: files re-indexed / chunks embedded ({len(resync.changed_s)} syncs)",
         f"{'/'.join(map(str, resync.changed_files))} / {'/'.join(map(str, resync.changed_embedded))}",
         "1 / that file's", verdict(resync.changed_only_that_file)),
        ("one file changed: sync time (median)", f"{statistics.median(resync.changed_s):.3f} s", "", ""),
    ]


def memory_rows(sampler: RssSampler, rss_before: int) -> list[Row]:
    return [
        ("peak RSS while indexing: main / parser / sum",
         f"{mib(sampler.peak_main)} / {mib(sampler.peak_child)} / {mib(sampler.peak_sum)}", "", ""),
        ("  main RSS before indexing (model loaded)", mib(rss_before), "", ""),
    ]


def print_summary(corpus: Corpus, pipeline: PipelineResult, *, reference: ReferenceResult | None,
                  resync: ResyncResult, sampler: RssSampler, rss_before: int, threads: int, wall_s: float) -> None:
    rows: list[Row] = [("figure", "measured", "goal", "met"), *pipeline_rows(pipeline)]
    if reference is not None:
        rows += reference_rows(reference)
    rows += resync_rows(resync) + memory_rows(sampler, rss_before)
    print(f"\nHushdocs indexing benchmark: {corpus.description}; {threads} threads; "
          f"{platform_note()}; {load_note()} at the end")
    print_table(rows)
    print(f"(pipeline {pipeline.total('pipeline_s'):.1f} s vs embedder alone {pipeline.total('alone_s'):.1f} s in "
          f"{len(pipeline.groups)} interleaved parts; per-part ratios "
          f"{', '.join(f'{r:.3f}' for r in pipeline.ratios)}; whole run {wall_s / 60:.1f} min)")
