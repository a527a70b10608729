"""Walk the folders of a collection: supported files with their stat, and named problems.

Symbolic links are followed, but a link back into a folder already being walked is a loop and is
reported, not followed. Hidden files and folders (a leading dot) are left alone, and so are the paths the
person forgot inside a followed folder (the store's exclusions).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.ingest.loaders import SUPPORTED_EXTENSIONS
from engine.ingest.regular import not_regular_reason
from engine.ingest.status import FAILED, SKIPPED


@dataclass
class Candidate:
    path: str
    size: int
    mtime_ns: int
    collection_id: int
    content_hash: str = ""


@dataclass
class Problem:
    path: str
    status: str
    reason: str
    collection_id: int


@dataclass
class ScanResult:
    candidates: dict[str, Candidate] = field(default_factory=dict)
    problems: dict[str, Problem] = field(default_factory=dict)
    unsupported: int = 0


def is_supported(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in SUPPORTED_EXTENSIONS


def scan_target(target: str, collection_id: int, result: ScanResult, explicit: bool = True,
                excluded: frozenset[str] = frozenset()) -> None:
    """Add what ``target`` (a file or a folder) holds to ``result``, leaving out the ``excluded`` paths."""
    if target in excluded:
        return
    try:
        stat = os.stat(target)
    except FileNotFoundError:
        if os.path.islink(target):
            result.problems[target] = Problem(target, SKIPPED, "broken symbolic link", collection_id)
        return
    except OSError as error:
        result.problems[target] = Problem(target, FAILED, f"cannot read: {error.strerror}", collection_id)
        return
    if os.path.isdir(target):
        _walk(target, collection_id, result, excluded)
        return
    special = not_regular_reason(stat.st_mode)
    if special is not None and (explicit or is_supported(target)):
        result.problems[target] = Problem(target, SKIPPED, special, collection_id)  # a FIFO would block the read
    elif special is not None:
        result.unsupported += 1
    elif is_supported(target):
        result.candidates[target] = Candidate(target, stat.st_size, stat.st_mtime_ns, collection_id)
    elif explicit:
        extension = os.path.splitext(target)[1] or "(none)"
        result.problems[target] = Problem(target, SKIPPED, f"unsupported file type {extension}", collection_id)
    else:
        result.unsupported += 1


def _walk(root: str, collection_id: int, result: ScanResult, excluded: frozenset[str]) -> None:
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            stat = os.stat(folder)
        except OSError as error:
            result.problems[folder] = Problem(folder, FAILED, f"cannot open folder: {error.strerror}", collection_id)
            continue
        key = (stat.st_dev, stat.st_ino)
        if key in visited:
            result.problems[folder] = Problem(
                folder, SKIPPED, f"symbolic link loop: leads back to {os.path.realpath(folder)}", collection_id
            )
            continue
        visited.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            result.problems[folder] = Problem(folder, FAILED, f"cannot open folder: {error.strerror}", collection_id)
            continue
        for entry in entries:
            path = os.path.join(folder, entry.name)
            if entry.name.startswith(".") or path in excluded:
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    stack.append(path)
                    continue
                if entry.is_symlink() and not os.path.exists(path):
                    result.problems[path] = Problem(path, SKIPPED, "broken symbolic link", collection_id)
                    continue
            except OSError as error:  # e.g. ELOOP on a link pointing at itself
                result.problems[path] = Problem(path, SKIPPED, f"cannot follow: {error.strerror}", collection_id)
                continue
            scan_target(path, collection_id, result, explicit=False, excluded=excluded)


def under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip(os.sep) + os.sep)


def normalise(path: Path | str) -> str:
    """Absolute, with '..' folded, links kept as the user named them."""
    return os.path.abspath(os.path.expanduser(str(path)))
