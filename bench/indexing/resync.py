"""Figure 3: re-sync of a folder of small files, unchanged, then with one file changed at a time."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.api import Engine

GOAL_RESYNC_S = 1.0


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
