"""What each part of the answer prompt costs: tokens, and milliseconds of prompt evaluation before the first token.

    .venv/bin/python -m bench.prompt_cost --work /tmp/bench-work       # homes indexed by bench.answers --work
    .venv/bin/python -m bench.prompt_cost --questions 8 --model qwen2.5-coder-1.5b-instruct-q4_k_m

For a sample of answerable questions of each set (squad-dev and realdocs), the prompt is built exactly as
`Engine.ask` builds it (``Answerer.candidates`` and ``Answerer.choose_passages``, then ``answer_messages``) and
split into its parts: the chat template's own tokens, the system prompt, each passage, the reminder, the question,
and, for a follow-up, the previous turn and the rewrite of the question. The prompt is then evaluated by the real
model with the system prompt already cached (as the app keeps it), which gives this machine's prompt speed and so
each part's share of the time to first token. What the parts earn is measured by bench.answers (``--option
passages=2``, ``passage_tokens=...``) and by the prompt-injection tests; this prints what they cost.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.answers import Corpus, realdocs_corpus, squad_corpus


@dataclass
class PromptParts:
    tokens: dict[str, list[int]] = field(default_factory=dict)
    eval_ms: list[float] = field(default_factory=list)  # the uncached part of the prompt, evaluated
    eval_tokens: list[int] = field(default_factory=list)

    def add(self, part: str, count: int) -> None:
        self.tokens.setdefault(part, []).append(count)


def corpus_for(name: str, folder: Path, questions: int, seed: int) -> Corpus:
    return squad_corpus(folder, questions, seed) if name == "squad" else realdocs_corpus(folder, questions, seed)


def measure_set(name: str, work: Path, *, questions: int, seed: int, model: str | None, threads: int) -> PromptParts:
    """Index the set's documents into ``work/name/home`` unless that home exists (bench.answers --work leaves
    one), then split and time each question's prompt."""
    home = work / name / "home"
    fresh = not (home / "data").is_dir()
    os.environ["HUSHDOCS_HOME"] = str(home)
    from engine.api import Engine
    from engine.generation.answer import Answerer
    from engine.generation.llm import LlamaGenerator
    from engine.generation.prompt import REMINDER, SYSTEM_PROMPT, answer_messages, condense_messages, format_passage
    from engine.settings import Settings

    corpus = corpus_for(name, work / name / "docs", questions, seed)
    settings = Settings(threads=threads)  # the defaults: bench.answers may have left other settings in the home
    if model:
        settings.chat_model = model
    parts = PromptParts()
    with Engine(settings) as engine:
        if fresh:
            list(engine.index(corpus.files))
        generator = engine.generator()
        assert isinstance(generator, LlamaGenerator)
        answerer = Answerer(engine.retriever(), engine.generator, settings)
        count = generator.count_tokens
        asked = [item for item in corpus.items if item.answerable][:questions]
        previous: tuple[str, str] | None = None
        for item in asked:
            passages, _ = answerer.choose_passages(item.question, answerer.candidates(item.question, None),
                                                   generator, ())
            messages = answer_messages(item.question, passages)
            total = len(generator.prompt_tokens(messages))
            pieces = {"system prompt (cached)": count(SYSTEM_PROMPT), "reminder": count(REMINDER),
                      "question": count(f"Question: {item.question}")}
            for n, hit in enumerate(passages, start=1):
                pieces[f"passage {n}"] = count(format_passage(n, hit))
            pieces["chat template and wrappers"] = total - sum(pieces.values())
            for part, size in pieces.items():
                parts.add(part, size)
            parts.add("whole prompt", total)
            if previous is not None:  # a follow-up: the previous turn in the prompt, and the question's rewrite
                followup = answer_messages(item.question, passages, [previous])
                parts.add("follow-up: previous turn", len(generator.prompt_tokens(followup)) - total)
                rewrite = condense_messages(item.question, [previous])
                parts.add("follow-up: rewrite prompt (not cached)",
                          len(generator.prompt_tokens(rewrite)) - generator.cached_tokens(rewrite))
            previous = (item.question, (item.answers or item.key_points or ["(an answer)"])[0])

            generator.prefill(answer_messages("", []))  # the system prompt cached, as the app keeps it
            tokens = generator.prompt_tokens(messages)
            cached = generator.cached_tokens(messages)
            llm = generator._llm
            started = time.perf_counter()
            llm.eval(tokens[cached:])
            parts.eval_ms.append((time.perf_counter() - started) * 1000)
            parts.eval_tokens.append(len(tokens) - cached)
            parts.add("cached at the question (system prompt)", cached)
        print(f"{name}: {len(asked)} questions, model {generator.name}, {threads} threads", flush=True)
    return parts


def report(results: dict[str, PromptParts]) -> None:
    names = list(results)
    speeds = {n: sum(p.eval_tokens) / (sum(p.eval_ms) / 1000) for n, p in results.items()}
    order: list[str] = []
    for parts in results.values():
        order += [part for part in parts.tokens if part not in order]
    print(f"\n{'part (median tokens, and ms at this machine’s prompt speed)':<52}"
          + "".join(f"{n:>24}" for n in names))
    for part in order:
        cells = []
        for n in names:
            values = results[n].tokens.get(part)
            if not values:
                cells.append(f"{'-':>24}")
                continue
            tokens = statistics.median(values)
            cached = part.startswith("cached") or part.endswith("(cached)")
            ms = "cached" if cached else f"{tokens / speeds[n] * 1000:.0f} ms"
            cells.append(f"{tokens:>10.0f} tok {ms:>9}")
        print(f"{part:<52}" + "".join(cells))
    print(f"{'prompt evaluation after the cached system prompt':<52}"
          + "".join(f"{statistics.median(results[n].eval_ms):>21.0f} ms" for n in names))
    print(f"{'prompt speed (tokens/s)':<52}" + "".join(f"{speeds[n]:>24.1f}" for n in names))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="folder holding <set>/home from bench.answers --work "
                                                  "(default: a new temporary folder, indexed here)")
    parser.add_argument("--sets", default="squad,realdocs")
    parser.add_argument("--questions", type=int, default=12, help="answerable questions per set")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", help="chat model: catalogue name or .gguf path (default: the app's choice)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    from engine import paths

    os.environ.setdefault("HUSHDOCS_MODELS", str(paths.models_dir()))
    work = args.work or Path(tempfile.mkdtemp(prefix="hushdocs-prompt-cost-"))
    random.seed(args.seed)
    results = {name: measure_set(name, work, questions=args.questions, seed=args.seed, model=args.model,
                                 threads=args.threads)
               for name in args.sets.split(",")}
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
