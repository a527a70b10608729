"""Keep the index a mirror of the collections' folders: new, changed, moved and deleted files.

``Indexer.sync`` is a generator of ``IndexProgress`` events (the GUI wraps it in a worker, the CLI
draws a bar). Decisions, cheapest first:

- same size and mtime as indexed: unchanged, nothing read;
- otherwise hash the bytes: the same hash is a touch (remember the new stat);
- a new path whose hash belongs to a document that vanished in the same sync: a move (path updated,
  nothing re-embedded);
- anything else is parsed (in a child process), chunked, and embedded, reusing the vectors of every
  chunk whose text is already in the index; then written in one transaction.

Each document lands in its own transaction, so a run killed at any moment resumes where it stopped:
the next sync simply finds the remaining files new or changed.

Progress counts files, and inside the file being worked on its pages (once parsed) or chunks; the time
left is estimated from the throughput seen since the first file came back from the parser (``Estimate``),
and only once enough of the run has been seen. Unchanged files are not part of the work at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.embedding.embedder import Embedder
from engine.ingest.chunker import chunk_document
from engine.ingest.parser_process import DEFAULT_LOADER, ParserProcess
from engine.ingest.regular import open_regular
from engine.ingest.scan import Candidate, ScanResult, normalise, scan_target, under
from engine.ingest.status import EMPTY, INDEXED, INDEXED_OCR, NEEDS_PASSWORD, LoadError
from engine.records import ChunkSpan, ParsedDocument
from engine.store.index_store import DEFAULT_COLLECTION, FileState, NewDocument
from engine.store.interface import LibraryStore

log = logging.getLogger(__name__)

# Bump when the loaders or the chunker change what a file turns into: documents read by an older version are
# read again at the next sync, as if they had changed (their unchanged chunks keep their vectors).
# 1: PDF line-end hyphens kept where the document writes the word hyphenated ("polynomial-time").
# 2: tables in PDF, Word and HTML read row by row, each row with its header; CSV read as a table.
# 3: scanned pages and images read by OCR; PDFs the reader repaired reported as damaged.
# 4: accents that PDFs write apart from their letters ("erkl¨art") joined to them; all text in NFC.
READER_VERSION = 4

EMBED_SLICE = 32  # chunks embedded between two cancel checks and progress events (one embedder batch)
# No time-left estimate before this much of the run has been seen: the seconds of work observed, and the files'
# worth done (at most 2 files, at least a tenth of the run; a single huge file is estimated from its own part done).
ESTIMATE_AFTER_S = 3.0
ESTIMATE_AFTER_FILES = 2.0
ESTIMATE_AFTER_SHARE = 0.1
WRONG_PASSWORD = "encrypted: the password given is not this document's password"

# Progress inside one file: (chunks done, chunks in the file, page reached or 0) -> an event to yield.
WithinFile = Callable[[int, int, int], "IndexProgress"]


@dataclass(frozen=True)
class FileOutcome:
    path: str
    action: str  # "indexed", "moved", "touched", "removed", "failed"
    status: str
    reason: str = ""
    pages: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks embedded now; the rest reused vectors already in the index
    moved_from: str = ""


@dataclass
class IndexProgress:
    phase: str  # "scanning", "indexing", "finished", "cancelled"
    files_done: int = 0
    files_total: int = 0  # the files to read in this run (unchanged, touched and moved ones are not)
    chunks_done: int = 0
    pages_done: int = 0
    current: str = ""  # the file being worked on now ("" between files)
    stage: str = ""  # what happens to it: "reading" (in the parser) or "embedding"
    elapsed_s: float = 0.0
    eta_s: float | None = None  # time left, once enough of the run has been seen to say (see ``Estimate``)
    outcome: FileOutcome | None = None
    queued: tuple[str, ...] = ()  # the files to read, in the order they are read
    summary: dict[str, int] = field(default_factory=dict)
    # Inside the current file (one huge file takes minutes): its pages once parsed (0 for formats without pages),
    # the page its embedding has reached, and its chunks embedded so far, of how many.
    current_pages: int = 0
    current_page: int = 0
    current_chunks_done: int = 0
    current_chunks_total: int = 0

    @property
    def current_fraction(self) -> float:
        """How much of the current file is done (0 until its chunks are known)."""
        return self.current_chunks_done / self.current_chunks_total if self.current_chunks_total else 0.0

    @property
    def work_done(self) -> float:
        """Files done, plus the done part of the current one: what the bar and the estimate count."""
        return self.files_done + self.current_fraction

    @property
    def fraction(self) -> float:
        return self.work_done / self.files_total if self.files_total else 0.0

    @property
    def waiting(self) -> tuple[str, ...]:
        """The queued files not done yet (after a cancel: the ones a resume reads)."""
        return self.queued[self.files_done:]

    @property
    def pages_per_s(self) -> float:
        return self.pages_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_done / self.elapsed_s if self.elapsed_s > 0 else 0.0


class Estimate:
    """Time left from the throughput observed so far, in files (with the current file's done part).

    The clock starts when the first file comes back from the parser: the scan, the planning and the parser's
    start-up are not part of the rate. Until ``ESTIMATE_AFTER_S`` seconds and enough files' worth of work
    have been seen there is no estimate at all.
    """

    def __init__(self, total_files: int) -> None:
        self.total = total_files
        self.started: float | None = None

    def start(self) -> None:
        if self.started is None:
            self.started = time.monotonic()

    def left_s(self, work_done: float) -> float | None:
        if self.started is None or work_done <= 0:
            return None
        seen_s = time.monotonic() - self.started
        enough = min(ESTIMATE_AFTER_FILES, max(ESTIMATE_AFTER_SHARE * self.total, ESTIMATE_AFTER_SHARE))
        if seen_s < ESTIMATE_AFTER_S or work_done < enough:
            return None
        return (self.total - work_done) * seen_s / work_done


@dataclass
class SyncPlan:
    to_index: list[Candidate]
    touched: list[tuple[FileState, Candidate]]
    moved: list[tuple[FileState, Candidate]]
    removed: list[FileState]
    scan: ScanResult


def file_hash(path: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open_regular(path) as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class Indexer:
    def __init__(self, store: LibraryStore, embedder: Embedder, *, max_file_bytes: int = 200 * 1024 * 1024,
                 parse_timeout_s: float = 60.0, chunk_tokens: int = 200, overlap_tokens: int = 32,
                 loader: str = DEFAULT_LOADER, embed_slice: int = EMBED_SLICE,
                 passwords: MutableMapping[str, str] | None = None, shared: bool = False) -> None:
        self.store = store
        # A team library holds the folders of every computer sharing it: a folder this computer cannot see is
        # another's (or not mounted here), never a folder whose files all vanished.
        self.shared = shared
        # The session's passwords of encrypted files (path -> password): in memory only, handed to the parser
        # through its pipe; a password the file refuses is dropped.
        self.passwords: MutableMapping[str, str] = passwords if passwords is not None else {}
        self.embed_slice = embed_slice
        self.embedder = embedder
        self.max_file_bytes = max_file_bytes
        self.parse_timeout_s = parse_timeout_s
        self.chunk_tokens = min(chunk_tokens, embedder.max_tokens - 2)
        self.overlap_tokens = overlap_tokens
        self.loader = loader
        store.ensure_embedder(embedder.name, embedder.dim)

    # -- public ---------------------------------------------------------------------------------

    def add(self, paths: Sequence[Path | str], collection: str = DEFAULT_COLLECTION,
            cancel: threading.Event | None = None) -> Iterator[IndexProgress]:
        """Add folders or files to ``collection`` and index them."""
        with self.store.writes():
            collection_id = self.store.collection_id(collection)
            assert collection_id is not None
            targets = [normalise(p) for p in paths]
            for target in targets:
                self.store.add_root(collection_id, target)
            self._include_under(targets)  # added again by hand: no longer left out
        yield from self.sync(targets, cancel=cancel)

    def include(self, paths: Sequence[Path | str], cancel: threading.Event | None = None) -> Iterator[IndexProgress]:
        """Index again files or folders that were forgotten inside a followed folder."""
        targets = [normalise(p) for p in paths]
        with self.store.writes():
            self._include_under(targets)
        yield from self.sync(targets, cancel=cancel)

    def unlock(self, path: Path | str, password: str,
               cancel: threading.Event | None = None) -> Iterator[IndexProgress]:
        """Read an encrypted file again with its password (kept for this session only)."""
        target = normalise(path)
        self.passwords[target] = password
        yield from self.sync([target], cancel=cancel)

    def sync(self, targets: Sequence[Path | str] | None = None, collection: str | None = None,
             cancel: threading.Event | None = None) -> Iterator[IndexProgress]:
        """Bring the index in line with ``targets`` (paths inside collections), or with every root."""
        started = time.monotonic()
        with self.store.writes():
            yield IndexProgress("scanning")
            plan = self.plan(targets, collection)
            yield from self._apply(plan, started, cancel)

    def forget(self, paths: Sequence[Path | str]) -> int:
        """Remove every trace of these files or folders (and stop following them). Returns documents removed.

        A file or folder inside a folder that stays followed is excluded from it (only its path is kept), so the
        next scan leaves it out instead of reading it again."""
        states = self.store.file_states()
        forgotten: set[int] = set()
        with self.store.writes():
            for target in (normalise(p) for p in paths):
                for _, root in self.store.roots():
                    if under(root, target):
                        self.store.remove_root(root)
                self._include_under([target])  # nothing under a forgotten folder needs excluding any more
                owner = self._root_of(target, self.store.roots())
                if owner is not None:
                    self.store.exclude(owner[0], target)
                forgotten.update(state.id for path, state in states.items() if under(path, target))
                for path in [p for p in self.passwords if under(p, target)]:
                    del self.passwords[path]
            self.store.forget_documents(forgotten)
        return len(forgotten)

    def _include_under(self, targets: Sequence[str]) -> None:
        excluded = [e.path for e in self.store.exclusions()]
        self.store.include(p for p in excluded if any(under(p, target) for target in targets))

    # -- planning -------------------------------------------------------------------------------

    def _root_of(self, path: str, roots: list[tuple[int, str]]) -> tuple[int, str] | None:
        owners = [(cid, root) for cid, root in roots if under(path, root)]
        return max(owners, key=lambda owner: len(owner[1])) if owners else None

    def plan(self, targets: Sequence[Path | str] | None = None, collection: str | None = None) -> SyncPlan:
        roots = self.store.roots()
        if collection is not None:
            collection_id = self.store.collection_id(collection, create=False)
            roots = [(cid, root) for cid, root in roots if cid == collection_id]
        if self.shared:
            roots = [(cid, root) for cid, root in roots if os.path.lexists(root)]
        scopes: list[tuple[int, str]] = []
        if targets is None:
            scopes = roots
        else:
            for target in (normalise(t) for t in targets):
                owner = self._root_of(target, roots)
                if owner is not None:
                    scopes.append((owner[0], target))
        scan = ScanResult()
        excluded = frozenset(e.path for e in self.store.exclusions())
        for collection_id, scope in scopes:
            scan_target(scope, collection_id, scan, explicit=any(scope == root for _, root in roots),
                        excluded=excluded)
        states = self.store.file_states()
        in_scope = {p: s for p, s in states.items() if any(under(p, scope) for _, scope in scopes)}

        pending: list[Candidate] = []
        touched: list[tuple[FileState, Candidate]] = []
        for candidate in scan.candidates.values():
            state = states.get(candidate.path)
            if state is not None and state.reader_version != READER_VERSION:
                state = None  # read by an older reader: read it again, whatever its size and content
            if state is not None and state.status == NEEDS_PASSWORD and candidate.path in self.passwords:
                state = None  # a password was given since: read it again with it
            if (state is not None and (state.size, state.mtime_ns, state.collection_id)
                    == (candidate.size, candidate.mtime_ns, candidate.collection_id)):
                continue
            if candidate.size > self.max_file_bytes:
                pending.append(candidate)  # the loader refuses it from its size alone: never hash it whole
                continue
            try:
                candidate.content_hash = file_hash(candidate.path)
            except OSError:
                pending.append(candidate)  # the loader will report why it cannot be read
                continue
            if (state is not None and state.content_hash == candidate.content_hash
                    and state.collection_id == candidate.collection_id):
                touched.append((state, candidate))
            else:
                pending.append(candidate)

        vanished = {p: s for p, s in in_scope.items() if p not in scan.candidates and p not in scan.problems}
        movable = {s.content_hash: s for s in vanished.values()
                   if s.status in (INDEXED, INDEXED_OCR) and s.content_hash}
        moved: list[tuple[FileState, Candidate]] = []
        to_index: list[Candidate] = []
        for candidate in pending:
            source = movable.get(candidate.content_hash) if candidate.path not in states else None
            if source is not None and source.collection_id == candidate.collection_id:
                moved.append((source, candidate))
                del movable[candidate.content_hash]
                vanished.pop(source.path, None)
            else:
                to_index.append(candidate)
        return SyncPlan(to_index, touched, moved, list(vanished.values()), scan)

    # -- applying -------------------------------------------------------------------------------

    def _apply(self, plan: SyncPlan, started: float, cancel: threading.Event | None) -> Iterator[IndexProgress]:
        summary = {"indexed": 0, "moved": 0, "touched": 0, "removed": 0, "failed": 0,
                   "unchanged": 0, "unsupported": plan.scan.unsupported}
        progress = IndexProgress("indexing", files_total=len(plan.to_index),
                                 queued=tuple(c.path for c in plan.to_index), summary=summary)
        estimate = Estimate(len(plan.to_index))

        def emit(outcome: FileOutcome | None = None) -> IndexProgress:
            """A snapshot: consumers keep events (or hand them to another thread), so never reuse one."""
            if outcome is not None:
                summary[outcome.action] = summary.get(outcome.action, 0) + 1
            return dataclasses.replace(progress, elapsed_s=time.monotonic() - started, outcome=outcome,
                                       eta_s=estimate.left_s(progress.work_done), summary=dict(summary))

        for state, candidate in plan.moved:
            self.store.move_document(state.id, candidate.path, candidate.size, candidate.mtime_ns)
            yield emit(FileOutcome(candidate.path, "moved", INDEXED, moved_from=state.path))
        for state, candidate in plan.touched:
            self.store.touch(state.id, candidate.size, candidate.mtime_ns)
            summary["touched"] += 1
        for state in plan.removed:
            self.store.delete_document(state.id)
            yield emit(FileOutcome(state.path, "removed", state.status))
        for problem in plan.scan.problems.values():
            self.store.record_failure(
                NewDocument(problem.collection_id, problem.path, "", os.path.basename(problem.path), 0, 0, "", 0,
                            READER_VERSION),
                problem.status, problem.reason)
            yield emit(FileOutcome(problem.path, "failed", problem.status, problem.reason))

        cancelled = False
        with ParserProcess(self.parse_timeout_s, self.max_file_bytes, self.loader) as parser:
            if plan.to_index:
                self._submit(parser, plan.to_index[0])
            for position, candidate in enumerate(plan.to_index):
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
                progress.current, progress.stage = candidate.path, "reading"
                yield emit()  # the file being read now, before it takes its time
                try:
                    document: ParsedDocument | None = parser.result()
                    error: LoadError | None = None
                except LoadError as load_error:
                    document, error = None, load_error
                estimate.start()
                if position + 1 < len(plan.to_index):
                    self._submit(parser, plan.to_index[position + 1])  # parse the next while this embeds

                def within(done: int, total: int, page: int) -> IndexProgress:
                    progress.current_chunks_done, progress.current_chunks_total = done, total
                    progress.current_page = page
                    return emit()

                if document is not None:
                    progress.stage, progress.current_pages = "embedding", len(document.pages)
                    yield emit()
                    outcome = yield from self._index_document(candidate, document, cancel, within)
                else:
                    outcome = self._record_error(candidate, error)
                progress.current_chunks_done = progress.current_chunks_total = 0
                progress.current_pages = progress.current_page = 0
                if outcome is None:  # cancelled while embedding: this file stays as it was
                    cancelled = True
                    break
                progress.files_done += 1
                progress.chunks_done += outcome.chunks
                progress.pages_done += outcome.pages
                progress.current, progress.stage = "", ""
                yield emit(outcome)
        summary["unchanged"] = (len(plan.scan.candidates) - len(plan.to_index) - len(plan.moved)
                                - len(plan.touched))
        progress.phase = "cancelled" if cancelled else "finished"
        progress.current, progress.stage = "", ""
        yield emit()

    def _submit(self, parser: ParserProcess, candidate: Candidate) -> None:
        parser.submit(Path(candidate.path), password=self.passwords.get(candidate.path, ""))

    def _record_error(self, candidate: Candidate, error: LoadError | None) -> FileOutcome:
        assert error is not None
        if error.status == NEEDS_PASSWORD and self.passwords.pop(candidate.path, None) is not None:
            error = LoadError(NEEDS_PASSWORD, WRONG_PASSWORD)  # forgotten at once: it is no use
        self.store.record_failure(self._new_document(candidate, None), error.status, error.reason)
        return FileOutcome(candidate.path, "failed", error.status, error.reason)

    def _new_document(self, candidate: Candidate, document: ParsedDocument | None) -> NewDocument:
        name = os.path.basename(candidate.path)
        if document is None:
            return NewDocument(candidate.collection_id, candidate.path, "", name, candidate.size,
                               candidate.mtime_ns, candidate.content_hash, 0, READER_VERSION)
        return NewDocument(candidate.collection_id, candidate.path, document.kind, document.title or name,
                           candidate.size, candidate.mtime_ns, candidate.content_hash, len(document.pages),
                           READER_VERSION)

    def _index_document(self, candidate: Candidate, document: ParsedDocument, cancel: threading.Event | None,
                        within: WithinFile) -> Generator[IndexProgress, None, FileOutcome | None]:
        """Chunk, embed and write one document, yielding progress between embedding slices."""
        chunks = chunk_document(document, self.embedder.count_tokens, max_tokens=self.chunk_tokens,
                                overlap_tokens=self.overlap_tokens)
        new_document = self._new_document(candidate, document)
        if not chunks:
            self.store.record_failure(new_document, EMPTY, "no text in this document")
            return FileOutcome(candidate.path, "failed", EMPTY, "no text in this document")
        hashes = [text_hash(c.text) for c in chunks]
        vectors = yield from self._vectors_for(chunks, hashes, cancel, within)
        if vectors is None:
            return None
        matrix, embedded = vectors
        status, note = INDEXED_OCR if document.ocr_pages else INDEXED, "; ".join(document.problems)
        self.store.write_document(new_document, chunks, matrix, hashes, status=status, note=note)
        return FileOutcome(candidate.path, "indexed", status, note, pages=len(document.pages), chunks=len(chunks),
                           embedded=embedded)

    def _vectors_for(self, chunks: Sequence[ChunkSpan], hashes: Sequence[str], cancel: threading.Event | None,
                     within: WithinFile) -> Generator[IndexProgress, None, tuple[np.ndarray, int] | None]:
        """Vectors for every chunk: reused where the text is already indexed, embedded otherwise; a progress
        event after each slice, so a huge file moves the bar instead of sitting at "0 of 1" for minutes."""
        known = self.store.reusable_vectors(hashes)
        matrix = np.empty((len(chunks), self.embedder.dim), dtype=np.float32)
        missing = [i for i, h in enumerate(hashes) if h not in known]
        for i, h in enumerate(hashes):
            if h in known:
                matrix[i] = np.frombuffer(known[h], dtype=np.float32)
        for start in range(0, len(missing), self.embed_slice):
            if cancel is not None and cancel.is_set():
                return None
            batch = missing[start : start + self.embed_slice]
            matrix[batch] = self.embedder.embed([chunks[i].text for i in batch])
            if start + self.embed_slice < len(missing):
                yield within(len(chunks) - len(missing) + start + len(batch), len(chunks), chunks[batch[-1]].page or 0)
        return matrix, len(missing)
