"""`main.py embedder`: the search (embedding) model the index uses, and switching it with progress."""

from __future__ import annotations

import argparse
import sys
import time

from cli.output import human_seconds, is_terminal, print_json, progress_bar, table
from engine.api import (
    MINILM_NAME,
    EmbeddingModel,
    Engine,
    default_embedder_kernels,
    embedding_model,
    offered_embedding_models,
)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    embedder = sub.add_parser(
        "embedder", help="the search model (embedder) the index uses; --use NAME switches to another",
        description="Without --use: the model in use, a switch that was stopped, and the models this computer "
                    "runs with what switching to each costs. With --use: re-embed every indexed passage with that "
                    "model (no file is read again); Ctrl+C stops, and the same command goes on where it stopped.")
    embedder.add_argument("--use", metavar="NAME", help="switch to this model (its short name or full name)")
    embedder.add_argument("--json", action="store_true", help="print the models as JSON (without --use)")
    embedder.set_defaults(handler=cmd_embedder)


def cmd_embedder(args: argparse.Namespace) -> int:
    with Engine() as engine:
        if args.use:
            return _switch(engine, embedding_model(args.use))
        return _show(engine, as_json=args.json)


def _show(engine: Engine, *, as_json: bool) -> int:
    state = engine.embedding_state()
    costs = [(model, *engine.switch_cost(model.name)) for model in offered_embedding_models()]
    if as_json:
        print_json({"current": state.current, "chunks": state.total, "switching_to": state.target,
                    "switched_chunks": state.done, "models": [
                        {"key": model.key, "name": model.name, "label": model.label,
                         "in_use": model.name == state.current, "chunks_to_embed": chunks,
                         "expected_s": round(seconds, 1)} for model, chunks, seconds in costs]})
        return 0
    print(f"search model: {embedding_model(state.current).label} ({state.current}), {state.total} passages")
    if state.current == MINILM_NAME:
        print(f"runs on: {default_embedder_kernels()}")
    if state.target:
        target = embedding_model(state.target)
        print(f"a switch to {target.label} stopped at {state.done} of {state.total} passages: "
              f"`main.py embedder --use {target.key}` goes on with it")
    print()
    print(table(["name", "model", "switching"], [
        (model.key, model.label, "in use" if model.name == state.current else
         f"re-embeds {chunks} passages, about {human_seconds(seconds)}") for model, chunks, seconds in costs]))
    return 0


def _switch(engine: Engine, model: EmbeddingModel) -> int:
    """Re-embed with ``model``: a progress bar on a terminal, a line per tenth otherwise; the rate at the end."""
    live = is_terminal()
    before = engine.embedding_state()
    already = before.done if before.target == model.name else 0  # embedded by a run that was stopped
    started = time.perf_counter()
    shown_tenth = -1
    try:
        for step in engine.switch_embedder(model.name):
            if step.finished:
                break
            elapsed = time.perf_counter() - started
            rate = (step.done - already) / elapsed if elapsed > 0 else 0.0
            left = (step.total - step.done) / rate if rate > 0 else None
            if live:
                sys.stdout.write(f"\r{progress_bar(step.done, step.total)} {step.done}/{step.total} passages, "
                                 f"{human_seconds(left)} left  ")
                sys.stdout.flush()
            elif (tenth := 10 * step.done // max(step.total, 1)) != shown_tenth:
                shown_tenth = tenth
                print(f"  {step.done}/{step.total} passages embedded", flush=True)
    except KeyboardInterrupt:
        print("\nstopped: search goes on with the model in use; run the same command to go on where it stopped",
              file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - started
    if live:
        sys.stdout.write("\r" + " " * 80 + "\r")
    embedded = before.chunks_to_embed(model.name)
    speed = f", {embedded / elapsed:.1f} passages/s" if embedded and elapsed > 0 else ""
    print(f"search model: {model.label} ({model.name}); {step.total} passages, "
          f"{embedded} embedded in {elapsed:.1f} s{speed}")
    return 0
