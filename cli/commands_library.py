"""`main.py index | docs | forget | collections | sync | watch`: the library from the command line."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

from cli.output import human_seconds, is_terminal, print_json, progress_bar, table
from engine.api import DEFAULT_COLLECTION, Engine, FileOutcome, IndexProgress, printable


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    index = sub.add_parser("index", help="add folders or files to a collection and index them")
    index.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    index.add_argument("--collection", default=DEFAULT_COLLECTION, help=f"default: {DEFAULT_COLLECTION!r}")
    index.add_argument("--json", action="store_true", help="print a JSON report instead of progress")
    index.set_defaults(handler=cmd_index)

    sync = sub.add_parser("sync", help="re-scan every collection's folders and follow all changes")
    sync.add_argument("--collection", help="only this collection")
    sync.add_argument("--json", action="store_true")
    sync.set_defaults(handler=cmd_sync)

    docs = sub.add_parser("docs", help="the indexed documents with status, pages, chunks and errors")
    docs.add_argument("--collection")
    docs.add_argument("--json", action="store_true")
    docs.set_defaults(handler=cmd_docs)

    forget = sub.add_parser("forget", help="remove files or folders from the index, every trace of them")
    forget.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    forget.add_argument("--json", action="store_true")
    forget.set_defaults(handler=cmd_forget)

    collections = sub.add_parser("collections", help="the collections and their folders")
    collections.add_argument("--json", action="store_true")
    collections.set_defaults(handler=cmd_collections)

    watch = sub.add_parser("watch", help="keep the index in step with the folders until Ctrl+C")
    watch.set_defaults(handler=cmd_watch)


def _engine() -> Engine:
    return Engine()


def _outcome_json(outcome: FileOutcome) -> dict[str, object]:
    return {"path": outcome.path, "action": outcome.action, "status": outcome.status, "reason": outcome.reason,
            "pages": outcome.pages, "chunks": outcome.chunks, "embedded": outcome.embedded,
            "moved_from": outcome.moved_from or None}


def _run_indexing(events: object, as_json: bool) -> int:
    """Drive an indexing generator: a progress bar on a terminal, lines otherwise, or one JSON report."""
    outcomes: list[FileOutcome] = []
    last: IndexProgress | None = None
    live = is_terminal() and not as_json
    for event in events:  # type: ignore[attr-defined]
        last = event
        if event.outcome is not None:
            outcomes.append(event.outcome)
            if (not as_json and event.outcome.action != "indexed") or (not as_json and not live):
                _print_outcome(event.outcome, live)
        if live and event.phase == "indexing" and event.files_total:
            name = printable(os.path.basename(event.current))[:40]
            inside = f" ({event.current_fraction:.0%})" if event.current_chunks_total else ""
            sys.stdout.write(f"\r{progress_bar(int(1000 * event.fraction), 1000)} {event.files_done}/"
                             f"{event.files_total} files, {event.chunks_done} chunks, "
                             f"{human_seconds(event.eta_s)} left  {name + inside:<46}")
            sys.stdout.flush()
    assert last is not None
    if live:
        sys.stdout.write("\r" + " " * 110 + "\r")
    failed = [o for o in outcomes if o.action == "failed"]
    if as_json:
        print_json({"phase": last.phase, "summary": last.summary, "files": [_outcome_json(o) for o in outcomes],
                    "elapsed_s": round(last.elapsed_s, 2), "pages": last.pages_done, "chunks": last.chunks_done})
    else:
        summary = ", ".join(f"{count} {name}" for name, count in last.summary.items() if count)
        print(f"{last.phase}: {summary or 'nothing to do'} in {last.elapsed_s:.1f} s "
              f"({last.pages_done} pages, {last.chunks_done} chunks)")
        if failed:
            print(f"{len(failed)} file(s) could not be indexed; `main.py docs` lists them with the reason.")
    return 130 if last.phase == "cancelled" else 0


def _print_outcome(outcome: FileOutcome, live: bool) -> None:
    """One line per file, flushed: a reader on a pipe (a GUI, a test) sees each file as it is done."""
    prefix = "\r" + " " * 110 + "\r" if live else ""
    path = printable(outcome.path)
    if outcome.action == "failed":
        line = f"{outcome.status:<9} {path}: {outcome.reason}"
    elif outcome.action == "moved":
        line = f"moved     {printable(outcome.moved_from)} -> {path}"
    elif outcome.action == "removed":
        line = f"removed   {path}"
    else:
        reused = f", {outcome.chunks - outcome.embedded} reused" if outcome.embedded < outcome.chunks else ""
        line = f"indexed   {path} ({outcome.pages} pages, {outcome.chunks} chunks{reused})"
    print(f"{prefix}  {line}", flush=True)


def _cancellable(run: object) -> int:
    """Run an indexing command; Ctrl+C cancels between files and keeps what was indexed."""
    try:
        return int(run())  # type: ignore[operator]
    except KeyboardInterrupt:
        print("\ncancelled: what was indexed so far is kept; run the same command to resume", file=sys.stderr)
        return 130


def cmd_index(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not p.exists() and not p.is_symlink()]
    if missing:
        print(f"hushdocs: no such file or folder: {', '.join(map(str, missing))}", file=sys.stderr)
        return 1
    cancel = threading.Event()
    with _engine() as engine:
        return _cancellable(lambda: _run_indexing(engine.index(args.paths, args.collection, cancel), args.json))


def cmd_sync(args: argparse.Namespace) -> int:
    with _engine() as engine:
        return _cancellable(lambda: _run_indexing(engine.sync(collection=args.collection), args.json))


def cmd_docs(args: argparse.Namespace) -> int:
    with _engine() as engine:
        documents = engine.documents(args.collection)
    if args.json:
        print_json([{"id": d.id, "collection": d.collection, "path": d.path, "kind": d.kind, "title": d.title,
                     "status": d.status, "error": d.error or None, "pages": d.pages, "chunks": d.chunks,
                     "size": d.size, "indexed_at": d.indexed_at} for d in documents])
        return 0
    if not documents:
        print("No documents yet. Add some with `main.py index FOLDER`.")
        return 0
    rows = [(d.status, d.pages or "", d.chunks, d.collection,
             printable(d.path) + (f"  ({d.error})" if d.error else ""))
            for d in documents]
    print(table(["status", "pages", "chunks", "collection", "path"], rows))
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    with _engine() as engine:
        removed = engine.forget(args.paths)
    if args.json:
        print_json({"removed": removed})
    else:
        print(f"forgot {removed} document(s)")
    return 0


def cmd_collections(args: argparse.Namespace) -> int:
    with _engine() as engine:
        collections = engine.collections()
    if args.json:
        print_json([{"name": c.name, "documents": c.document_count, "roots": c.roots} for c in collections])
        return 0
    if not collections:
        print("No collections yet. `main.py index FOLDER --collection NAME` makes one.")
        return 0
    rows = [(c.name, c.document_count, ", ".join(map(printable, c.roots))) for c in collections]
    print(table(["collection", "documents", "folders"], rows))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    print("watching the collections' folders; Ctrl+C stops")

    def report(event: IndexProgress) -> None:
        if event.outcome is not None:
            _print_outcome(event.outcome, live=False)

    with _engine() as engine:
        try:
            _run_indexing(engine.sync(), as_json=False)
            engine.start_watching(report)
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0
