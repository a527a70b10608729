"""Does the model get to read the answer? The gold answer in what the app hands the chat model, per setting.

    .venv/bin/python -m bench.reading                                    # the settings' defaults
    .venv/bin/python -m bench.reading --config passages=3,passage_tokens=80 --config passages=1,passage_tokens=0

No chat model writes anything here, so a configuration takes about a minute: every answerable question of
squad-dev (up to --squad) and of bench/realdocs goes through the app's own retrieval and passage choice
(`Answerer.candidates`, then `Answerer.choose_passages`: focus, re-rank, fit), and the passages are checked
for the gold answer (SQuAD normalisation; list, procedure and summary questions: the share of their key
points). The share is the ceiling of "right" in bench.answers: a passage the model never reads cannot
be quoted. Printed per set: in the candidates retrieved, in the passages read, in the first of them, and
the passages' length in the chat model's tokens (what prompt evaluation, most of the first token's wait,
pays for).

The documents are indexed through `main.py index`, as bench.answers does (`--work DIR` keeps and reuses
the homes, the same layout as bench.answers --work).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from bench.answers import Corpus, Item, cli_env, index, parse_options, realdocs_corpus, squad_corpus, write_settings
from bench.squad import squad_normalise


@dataclass
class Reading:
    in_candidates: float
    in_passages: float
    in_first: float
    tokens_p50: float
    tokens_p90: float


def normalised(text: str) -> str:
    return " ".join(squad_normalise(text).split())


def held(item: Item, texts: list[str]) -> float:
    """The share of the item's gold that ``texts`` hold: any short answer (1 or 0), else the key points'."""
    body = " ".join(normalised(t) for t in texts)
    if item.key_points:
        return sum(normalised(p) in body for p in item.key_points) / len(item.key_points)
    return float(any(normalised(a) in body for a in item.answers if a.strip()))


def read(corpus: Corpus, home: Path, options: dict[str, object], budget_share: float | None = None) -> Reading:
    from engine import paths
    from engine.api import Engine
    from engine.generation.answer import Answerer
    from engine.settings import Settings

    os.environ[paths.HOME_ENV] = str(home)
    settings = replace(Settings(), **options)  # type: ignore[arg-type]
    engine = Engine(settings)
    try:
        retriever = engine.retriever()
        if budget_share is not None:
            retriever.keyword_match_budget = max(1, round(budget_share * retriever.chunk_count()))  # type: ignore[attr-defined]
            retriever.keyword_thread = None  # the thread's searcher would keep the default budget
        answerer = Answerer(retriever, engine.generator, settings)
        generator = engine.generator()
        found: list[tuple[float, float, float, int]] = []
        for item in (i for i in corpus.items if i.answerable):
            candidates = answerer.candidates(item.question, None)
            passages, _weights = answerer.choose_passages(item.question, candidates, generator, [])
            found.append((held(item, [h.text for h in candidates]), held(item, [h.text for h in passages]),
                          held(item, [h.text for h in passages[:1]]),
                          sum(generator.count_tokens(h.text) for h in passages)))
    finally:
        engine.close()
    tokens = sorted(f[3] for f in found)
    return Reading(statistics.mean(f[0] for f in found), statistics.mean(f[1] for f in found),
                   statistics.mean(f[2] for f in found), statistics.median(tokens),
                   float(tokens[min(len(tokens) - 1, int(0.9 * len(tokens)))]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", default=[], metavar="K=V,K=V",
                        help="Settings fields for one configuration (repeatable); none: the defaults")
    parser.add_argument("--squad", type=int, default=150, help="squad-dev answerable questions (default 150)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, metavar="DIR", help="keep and reuse the indexed homes here")
    parser.add_argument("--keyword-budget-share", type=float, metavar="F",
                        help="the keyword list's match budget as this share of each library's chunks (0.015: "
                             "pruned as a 1M-chunk library is at the default budget); default: the app's budget")
    args = parser.parse_args(argv)

    from engine import paths

    models = os.environ.get(paths.MODELS_ENV) or str(paths.models_dir())  # before any HUSHDOCS_HOME is set
    os.environ[paths.MODELS_ENV] = models
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="hushdocs-bench-reading-"))
    corpora = []
    for name in ("squad", "realdocs"):
        (work / name / "docs").mkdir(parents=True, exist_ok=True)
        home = work / name / "home"
        home.mkdir(exist_ok=True)
        corpus = (squad_corpus(work / name / "docs", args.squad, args.seed) if name == "squad"
                  else realdocs_corpus(work / name / "docs", None, args.seed))
        write_settings(home, {})  # indexed as the app's defaults index
        report, seconds = index(corpus.files, cli_env(home, models), home / "cli-stderr.log")
        print(f"{name}: {len(corpus.files)} files indexed ({report.get('chunks')} new chunks) in {seconds:.1f} s; "
              f"{sum(i.answerable for i in corpus.items)} answerable questions", flush=True)
        corpora.append((corpus, home))
    configurations = [parse_options([p for p in c.split(",") if p]) for c in args.config] or [{}]
    print(f"\n{'configuration':<38}" + "".join(f"{title:>44}" for title in ("squad-dev", "realdocs")))
    print(f"{'':<38}" + f"{'candidates  read  first  tokens p50/p90':>44}" * 2)
    for options in configurations:
        label = ", ".join(f"{k}={v}" for k, v in options.items()) or "the defaults"
        row = f"{label:<38}"
        for corpus, home in corpora:
            r = read(corpus, home, options, args.keyword_budget_share)
            row += (f"{r.in_candidates:>16.3f}{r.in_passages:>6.3f}{r.in_first:>7.3f}"
                    f"{r.tokens_p50:>8.0f}/{r.tokens_p90:<6.0f}")
        print(row, flush=True)
    print("shares of the gold answer (key points: their share) held by the retrieved candidates, the passages the "
          "model reads, and the first of them; tokens: the passages read, in the chat model's tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
