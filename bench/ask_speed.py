"""`ask` speed with the default model: time to first token and tokens/s, against raw llama.cpp.

    .venv/bin/python -m bench.ask_speed            # 12 squad-dev questions, 2 threads, interleaved rounds

For each question the full `Engine.ask` path (retrieval, prompt assembly, chat template, streaming)
is timed, then the same prompt text (the chat template applied to the same messages) is run through
llama.cpp's own decode loop (`Llama.generate`: evaluate the prompt, then sample token by token) for
the same number of tokens. Before each run, on both sides, the KV cache holds exactly what it holds
when a person asks a question: the system prompt, evaluated when the model was loaded, and nothing
of the other side's prompt. The Python layer's cost is the difference in decode speed and in prompt time.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", help="chat model (catalogue name or .gguf path)")
    parser.add_argument("--passage-tokens", type=int, help="focus passages to this many tokens (0: whole)")
    parser.add_argument("--gpu-layers", type=int, default=-1,
                        help="layers offloaded to a GPU, as the setting (-1, the app's default: all, where llama.cpp "
                             "was built for a GPU; 0: the CPU only)")
    parser.add_argument("--flash-attn", choices=("on", "off"), default="on",
                        help="llama.cpp's flash attention, on in the app (off: to measure what it gains)")
    args = parser.parse_args(argv)

    from engine import paths

    os.environ.setdefault("HUSHDOCS_MODELS", str(paths.models_dir()))
    home = Path(tempfile.mkdtemp(prefix="hushdocs-bench-ask-"))
    os.environ["HUSHDOCS_HOME"] = str(home)
    from bench.squad import load_squad, write_article_pdfs
    from engine.api import Engine, generator_options
    from engine.generation.llm import LlamaGenerator
    from engine.generation.models import resolve_chat_model
    from engine.generation.prompt import answer_messages
    from engine.settings import Settings

    settings = Settings(temperature=0.0, threads=args.threads, gpu_layers=args.gpu_layers)
    if args.model:
        settings.chat_model = args.model
    if args.passage_tokens is not None:
        settings.passage_tokens = args.passage_tokens
    chosen_generator = None
    if args.flash_attn == "off":  # the app's generator, but for this one option
        options = dataclasses.replace(generator_options(settings), flash_attn=False)
        chosen_generator = LlamaGenerator(resolve_chat_model(settings.chat_model), options)
    engine = Engine(settings, generator=chosen_generator)
    articles, questions = load_squad()
    list(engine.index(write_article_pdfs(articles, home / "corpus"), "squad"))
    generator = engine.generator()
    assert isinstance(generator, LlamaGenerator)
    llm = generator._llm  # the benchmark drives llama.cpp's own loop on the very same model object
    picked = random.Random(5).sample([q for q in questions if not q.impossible], args.questions)

    rows = []
    system_prefix = answer_messages("", [])
    for question in picked:
        generator.prefill(system_prefix)
        started = time.perf_counter()
        first = None
        pieces = 0
        for event in engine.ask(question.text):
            if event.kind == "token":
                pieces += 1
                last = time.perf_counter()  # the last token, not the bookkeeping after it
                first = first or last
            elif event.kind == "done":
                answer = event.answer
        assert answer is not None
        if first is None or not answer.passages:
            continue
        tokens = generator.prompt_tokens(answer_messages(question.text, answer.passages))
        generated = generator.count_tokens(answer.text) if pieces else 0
        wanted = max(pieces, 8)
        generator.prefill(system_prefix)
        raw_started = time.perf_counter()
        raw_first = None
        produced = 0
        for _token in llm.generate(tokens, temp=0.0, reset=True):
            raw_first = raw_first or time.perf_counter()
            produced += 1
            if produced >= wanted:
                break
        raw_end = time.perf_counter()
        assert raw_first is not None
        ask_ttft = (first - started) * 1000
        ask_rate = (pieces - 1) / (last - first) if pieces > 1 and last > first else float("nan")
        raw_ttft = (raw_first - raw_started) * 1000
        raw_rate = (produced - 1) / (raw_end - raw_first) if produced > 1 else float("nan")
        rows.append((len(tokens), ask_ttft, answer.timings.get("retrieval_ms", 0.0), raw_ttft, ask_rate, raw_rate,
                     generated, pieces - 1, last - first, produced - 1, raw_end - raw_first))
        print(f"prompt {len(tokens):>5} tok | ask first token {ask_ttft:>6.0f} ms (retrieval "
              f"{answer.timings.get('retrieval_ms', 0):.0f}) | raw prompt eval+first {raw_ttft:>6.0f} ms | "
              f"decode ask {ask_rate:5.1f} tok/s raw {raw_rate:5.1f} tok/s", flush=True)
    engine.close()
    if not rows:
        print("no answered question to time")
        return 1

    def median(index: int) -> float:
        return statistics.median(r[index] for r in rows if r[index] == r[index])

    print(f"\n{len(rows)} questions, {args.threads} threads, model {generator.name}, "
          f"flash attention {args.flash_attn}, GPU layers {args.gpu_layers}")
    print(f"prompt tokens p50:                 {median(0):.0f}")
    print(f"ask: first token p50 / p95:        {median(1):.0f} / "
          f"{sorted(r[1] for r in rows)[int(0.95 * (len(rows) - 1))]:.0f} ms (goal 1500), retrieval p50 "
          f"{median(2):.0f} ms")
    print(f"raw llama.cpp: prompt + first p50: {median(3):.0f} ms")
    print(f"decode p50: ask {median(4):.1f} tok/s, raw {median(5):.1f} tok/s, ratio {median(4) / median(5):.3f}")
    pooled_ask = sum(r[7] for r in rows) / sum(r[8] for r in rows)
    pooled_raw = sum(r[9] for r in rows) / sum(r[10] for r in rows)
    print(f"decode pooled over all tokens: ask {pooled_ask:.1f} tok/s, raw {pooled_raw:.1f} tok/s, "
          f"ratio {pooled_ask / pooled_raw:.3f}")
    print(f"first-token overhead of the Python layer p50: {median(1) - median(3):.0f} ms "
          f"({(median(1) - median(3)) / median(3) * 100:.1f}% of raw)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
