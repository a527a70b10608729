"""`main.py search` and `main.py ask`: retrieval and grounded answers from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from cli.output import print_json
from engine.api import FUSIONS, Answer, Engine, HushdocsError, Settings


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

    ask = sub.add_parser("ask", help="answer questions from your documents, with sources",
                         description="Answer one or more questions with one loaded model. Give the questions as "
                                     "arguments, or '-' to read one question per line from standard input; "
                                     "with --json each answer is one JSON object on its own line.")
    ask.add_argument("questions", nargs="+", metavar="QUESTION", help="a question, or - to read them from stdin")
    ask.add_argument("--collection")
    ask.add_argument("--model", type=Path, help="a .gguf chat model instead of the configured one")
    ask.add_argument("--passages", type=int,
                     help="passages given to the model (default: the settings'; automatic: as measured for the model)")
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


def questions_of(arguments: Sequence[str], stdin: TextIO) -> Iterator[str]:
    """The questions in the order given; ``-`` stands for one question per non-empty line of ``stdin``."""
    for argument in arguments:
        if argument == "-":
            yield from (line.strip() for line in stdin if line.strip())
        elif argument.strip():
            yield argument.strip()


def cmd_ask(args: argparse.Namespace) -> int:
    settings = Settings.load()
    if args.model is not None:
        settings.chat_model = str(args.model.expanduser().resolve())
        settings.answers_from = "local"  # this file writes the answers, whatever server Settings name
    if args.passages:
        settings.passages = args.passages
    stop = threading.Event()
    several = len(args.questions) > 1 or args.questions == ["-"]
    failed = 0
    with Engine(settings) as engine:  # one loaded model answers every question
        for number, question in enumerate(questions_of(args.questions, sys.stdin)):
            if several and not args.json:
                print(("\n" if number else "") + f"Q: {question}")
            try:
                answer, streamed = _answer(engine, question, args.collection, stop, stream=not args.json)
            except KeyboardInterrupt:
                stop.set()
                print("\n(stopped)", file=sys.stderr)
                return 130
            except HushdocsError as error:
                if not several:
                    raise
                failed += 1  # one bad question (too long, say) must not lose the answers to the others
                if args.json:
                    print(json.dumps({"question": question, "error": str(error)}, ensure_ascii=False), flush=True)
                else:
                    print(f"hushdocs: {error}", file=sys.stderr)
                continue
            if args.json:
                _print_json_answer(answer, one_line=several)
            else:
                _print_sources(answer, streamed)
    return 1 if failed else 0


def _answer(engine: Engine, question: str, collection: str | None, stop: threading.Event, *,
            stream: bool) -> tuple[Answer, str]:
    """The checked answer, and the reply as it streamed."""
    answer = None
    streamed: list[str] = []
    for event in engine.ask(question, collection=collection, stop=stop):
        if event.kind == "token":
            streamed.append(event.text)
            if stream:
                sys.stdout.write(event.text)
                sys.stdout.flush()
        elif event.kind == "done":
            answer = event.answer
    assert answer is not None
    return answer, "".join(streamed)


def _print_json_answer(answer: Answer, *, one_line: bool) -> None:
    if one_line:  # JSON lines: one answer per line, written as soon as it is ready
        sys.stdout.write(json.dumps({"question": answer.question, **answer.to_json()}, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    else:
        print_json(answer.to_json())


def _print_sources(answer: Answer, streamed: str) -> None:
    """After the streamed reply: the checked answer where it differs, the sources with their quotes, or for
    a decline what was searched and the closest passages."""
    print()
    if answer.notice:
        print(("\n" if streamed.strip() else "") + answer.notice)
        for number, hit in enumerate(answer.closest, start=1):
            print(f"  ({number}) {_where(hit.path, hit.page, hit.section)}\n      {_snippet(hit.text)}")
        return
    if answer.grounded and " ".join(answer.text.split()) != " ".join(streamed.split()):
        print(f"\nChecked against the sources:\n{answer.text}")
    for sentence in answer.left_out:
        print(f"  (left out, not found in the sources: {_snippet(sentence, 120)})")
    if answer.citations:
        print("\nSources:")
        for citation in answer.citations:
            print(f"  [{citation.n}] {_where(citation.path, citation.page, citation.section)}")
            for quote in citation.quotes:
                print(f"      “{_snippet(quote.text)}”")


def _where(path: str, page: int | None, section: str) -> str:
    return f"{path}, page {page}" if page else (f"{path}, {section}" if section else path)


def _snippet(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
