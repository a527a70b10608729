"""`main.py migrate --to URL`: copy this data home's library into a team library on PostgreSQL."""

from __future__ import annotations

import argparse

from cli.output import is_terminal, print_json, progress_bar, table
from engine.api import CopyProgress, Engine


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate = sub.add_parser(
        "migrate", help="copy this library (documents, vectors, collections, conversations) into a team library",
        description="Copy the library of this data home into a PostgreSQL team library, without reading or "
                    "embedding anything again. Stopped or killed, run it again: it goes on where it was. "
                    "The rows copied are counted on both sides at the end.")
    migrate.add_argument("--to", required=True, metavar="URL", dest="url",
                         help="the team library, e.g. postgresql://hushdocs@db.lan:5432/hushdocs")
    migrate.add_argument("--json", action="store_true", help="print the counts as JSON")
    migrate.set_defaults(handler=cmd_migrate)


def cmd_migrate(args: argparse.Namespace) -> int:
    last: CopyProgress | None = None
    copied = {"documents": 0, "conversations": 0}
    live = is_terminal() and not args.json
    with Engine() as engine:
        for last in engine.migrate_to(args.url):
            if last.stage in copied:
                copied[last.stage] = last.copied_now
            if live and last.total:
                print(f"\r{last.stage:<14} {progress_bar(last.done, last.total)} {last.done}/{last.total}",
                      end="", flush=True)
    if live:
        print()
    assert last is not None and last.stage == "verified"
    if args.json:
        print_json({"copied_now": copied, "counts": {k: {"here": a, "server": b} for k, (a, b) in last.counts.items()},
                    "complete": last.matches})
    else:
        print(table(["rows", "here", "on the server"], [(k, a, b) for k, (a, b) in last.counts.items()]))
        print(f"copied now: {copied['documents']} document(s), {copied['conversations']} conversation(s); "
              + ("everything is on the server" if last.matches else "the counts differ: run migrate again"))
    return 0 if last.matches else 1
