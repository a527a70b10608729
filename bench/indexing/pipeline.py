"""Figure 1: the whole indexing pipeline against the embedder alone on the chunks it embedded, part by part."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.indexing.corpus import CorpusFile
from bench.indexing.memory import RssSampler, cpu_seconds

GOAL_PIPELINE_RATIO = 0.85

if TYPE_CHECKING:
    from engine.api import Engine, FileOutcome


@dataclass
class GroupResult:
    files: int
    pages: int
    chunks: int
    embedded: int
    pipeline_s: float
    alone_s: float
    pipeline_cpu_s: float  # this process and the parser child
    parser_cpu_s: float
    alone_cpu_s: float

    @property
    def ratio(self) -> float:
        return self.alone_s / self.pipeline_s if self.pipeline_s > 0 else 0.0


@dataclass
class PipelineResult:
    groups: list[GroupResult] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    embedded_check: int = 0  # chunks the embedder-alone side embedded (must equal the pipeline's)

    def total(self, name: str) -> float:
        return float(sum(getattr(g, name) for g in self.groups))

    @property
    def ratio(self) -> float:
        """Embedder-alone time over pipeline time, all parts together (goal >= GOAL_PIPELINE_RATIO)."""
        return self.total("alone_s") / self.total("pipeline_s")

    @property
    def cpu_ratio(self) -> float:
        return self.total("alone_cpu_s") / self.total("pipeline_cpu_s")

    @property
    def ratios(self) -> list[float]:
        return [g.ratio for g in self.groups]


def embed_slices(database: Path, paths: Sequence[str], seen: set[str]) -> list[list[str]]:
    """What the indexer embedded for these documents, in its slices: per document in write order, the
    chunks whose text was not already indexed (``seen``), EMBED_SLICE at a time (read from the database)."""
    from engine.ingest.sync import EMBED_SLICE
    from engine.store.db import connect

    connection = connect(database, readonly=True)
    try:
        marks = ",".join("?" * len(paths))
        documents = [int(row[0]) for row in connection.execute(
            f"SELECT id FROM documents WHERE path IN ({marks}) AND status = 'indexed' ORDER BY id", tuple(paths))]
        slices: list[list[str]] = []
        for document_id in documents:
            chunks = [(str(text), str(text_hash)) for text, text_hash in connection.execute(
                "SELECT text, text_hash FROM chunks WHERE document_id = ? ORDER BY ordinal", (document_id,))]
            missing = [text for text, text_hash in chunks if text_hash not in seen]
            seen.update(text_hash for _, text_hash in chunks)
            slices.extend(missing[start : start + EMBED_SLICE] for start in range(0, len(missing), EMBED_SLICE))
        return slices
    finally:
        connection.close()


def measure_pipeline(engine: Engine, groups: Sequence[Sequence[CorpusFile]], sampler: RssSampler,
                     profile_path: Path | None) -> PipelineResult:
    import cProfile

    embedder = engine.embedder()
    result = PipelineResult()
    seen: set[str] = set()
    profiler = cProfile.Profile() if profile_path is not None else None
    for number, group in enumerate(groups, 1):
        outcomes: list[FileOutcome] = []
        paths = [str(f.path) for f in group]
        if profiler is not None:
            profiler.enable()
        parser_cpu_before = sampler.parser_cpu()
        with sampler:
            cpu_started, started = cpu_seconds(), time.perf_counter()
            for event in engine.index(paths, "corpus"):
                if event.outcome is not None:
                    outcomes.append(event.outcome)
            pipeline_s, pipeline_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        parser_cpu = sampler.parser_cpu() - parser_cpu_before
        if profiler is not None:
            profiler.disable()
        indexed = [o for o in outcomes if o.action == "indexed"]
        result.failed.extend((o.path, o.reason) for o in outcomes if o.action == "failed")

        slices = embed_slices(engine.database, [o.path for o in indexed], seen)
        cpu_started, started = cpu_seconds(), time.perf_counter()
        for texts in slices:
            embedder.embed(texts)
        alone_s, alone_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        alone_chunks = sum(len(s) for s in slices)
        result.embedded_check += alone_chunks
        group_result = GroupResult(len(indexed), sum(o.pages for o in indexed), sum(o.chunks for o in indexed),
                                   sum(o.embedded for o in indexed), pipeline_s, alone_s, pipeline_cpu + parser_cpu,
                                   parser_cpu, alone_cpu)
        result.groups.append(group_result)
        print(f"  part {number}/{len(groups)}: {group_result.files} files, {group_result.pages} pages, "
              f"{group_result.chunks} chunks ({group_result.embedded} embedded): pipeline {pipeline_s:.1f} s, "
              f"embedder alone {alone_s:.1f} s, ratio {group_result.ratio:.3f}; CPU s: pipeline "
              f"{group_result.pipeline_cpu_s:.1f} (parser {parser_cpu:.1f}), alone {alone_cpu:.1f}", flush=True)
        if alone_chunks != group_result.embedded:
            print(f"  warning: the embedder-alone side embedded {alone_chunks} chunks, the pipeline "
                  f"{group_result.embedded}", flush=True)
    if profiler is not None and profile_path is not None:
        profiler.dump_stats(profile_path)
        print(f"  cProfile of the pipeline (this process only) written to {profile_path}; "
              "pipeline timings include the profiler's overhead", flush=True)
    return result
