"""`main.py search` and `main.py ask`: retrieval and grounded answers from the command line."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from cli.output import print_json
from engine.api import FUSIONS, Engine, Settings


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    search = sub.add_parser("search", help="find the passages that match a query (no chat model needed)")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=5, help="how many passages (default 5)")
    search.add_argument("--collection")
    search.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid")
    search.add_argument("--fusion", choices=FUSIONS,
                        help="how hybrid combines keyword and vector results (default from settings: relative)")
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=cmd_search)

    ask = sub.add_parser("ask", help="answer a question from your documents, with sources")
    ask.add_argument("question")
    ask.add_argument("--collection")
    ask.add_argument("--model", type=Path, help="a .gguf chat model instead of the configured one")
    ask.add_argument("--passages", type=int, help="passages given to the model (default from settings)")
    ask.add_argument("--json", action="store_true", help="print one JSON object (see README) instead of streaming")
    ask.set_defaults(handler=cmd_ask)


def cmd_search(args: argparse.Namespace) -> int:
    settings = Settings.load()
    if args.fusion:
        settings.fusion = args.fusion
    with Engine(settings) as engine:
        hits = engine.search(args.query, k=args.k, collection=args.collection, mode=args.mode)
    if args.json:
        print_json([{"rank": rank, "path": h.path, "page": h.page, "section": h.section or None, "start": h.start,
                     "end": h.end, "score": round(h.score, 6), "similarity": round(h.similarity, 4), "text": h.text}
                    for rank, h in enumerate(hits, start=1)])
        return 0
    if not hits:
        print("No matching passages.")
    for rank, hit in enumerate(hits, start=1):
        where = f", page {hit.page}" if hit.page else (f", {hit.section}" if hit.section else "")
        snippet = " ".join(hit.text.split())
        print(f"[{rank}] {hit.path}{where}\n    {snippet[:300]}{'…' if len(snippet) > 300 else ''}\n")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    settings = Settings.load()
    if args.model is not None:
        settings.chat_model = str(args.model.expanduser().resolve())
    if args.passages:
        settings.passages = args.passages
    engine = Engine(settings)
    stop = threading.Event()
    answer = None
    streaming = not args.json
    try:
        for event in engine.ask(args.question, collection=args.collection, stop=stop):
            if event.kind == "token" and streaming:
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif event.kind == "done":
                answer = event.answer
    except KeyboardInterrupt:
        stop.set()
        print("\n(stopped)", file=sys.stderr)
        return 130
    finally:
        engine.close()
    assert answer is not None
    if args.json:
        print_json(answer.to_json())
        return 0
    if answer.notice:
        # Streamed text (if any) was the model declining; the notice says it plainly.
        print(("\n" if answer.passages else "") + answer.notice)
        return 0
    print()
    if answer.citations:
        print("\nSources:")
        for citation in answer.citations:
            where = (f", page {citation.page}" if citation.page
                     else f", {citation.section}" if citation.section else "")
            print(f"  [{citation.n}] {citation.path}{where}")
    return 0
