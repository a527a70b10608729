"""One chat model in two encodings, side by side: prompt speed, decode speed, and how far their predictions differ.

    .venv/bin/python -m bench.quantization          # the published 0.5B Q4_K_M against the Q8_0 made from it
    .venv/bin/python -m bench.quantization --model a.gguf --model b.gguf --rounds 5

The files are loaded once each (2 threads, flash attention, as the app runs them) and timed in alternating
rounds, so the shared machine's noise falls on both alike: a 300-token prompt evaluated from an empty cache
(prompt tokens/s, what the first token waits for), then 64 more greedy tokens (decode tokens/s). Then every file
reads the same 500 tokens of text (this project's README) keeping each position's logits, and the later files
are compared with the first: the mean KL divergence of their next-token distributions (nats a token), how often
they agree on the most likely token, and each one's perplexity on that text. Printed: medians over the rounds and
the ratios to the first file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PROMPT_TOKENS = 300
DECODE_TOKENS = 64
COMPARED_TOKENS = 500


def default_models() -> list[Path]:
    from engine import model_files
    from engine.models_catalogue import QWEN_05B, QWEN_05B_Q4_K_M

    return [model_files.find(QWEN_05B_Q4_K_M), model_files.find(QWEN_05B)]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted: np.ndarray = logits - logits.max(axis=1, keepdims=True)
    return np.asarray(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, action="append", help="a GGUF file (repeatable; the first is the "
                        "reference; default: the published 0.5B Q4_K_M and the Q8_0 made from it)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    from llama_cpp import Llama

    from engine.generation.cpu_backend import load_cpu_backend

    load_cpu_backend()
    files = args.model or default_models()
    def load(path: Path, *, every_logit: bool) -> Llama:
        return Llama(model_path=str(path), n_ctx=2048, n_threads=args.threads, n_threads_batch=args.threads,
                     flash_attn=True, logits_all=every_logit, verbose=False)

    models = [load(f, every_logit=False) for f in files]  # logits for the last position only, as the app
    text = (ROOT / "README.md").read_text("utf-8")
    prompt = models[0].tokenize(text.encode())[:PROMPT_TOKENS]
    prompt_speed: list[list[float]] = [[] for _ in files]
    decode_speed: list[list[float]] = [[] for _ in files]
    for _round in range(args.rounds):
        for i, llm in enumerate(models):
            llm.reset()  # type: ignore[no-untyped-call]
            started = first = time.perf_counter()
            for produced, _token in enumerate(llm.generate(prompt, temp=0.0), start=1):
                if produced == 1:  # the prompt evaluated, its first token sampled
                    first = time.perf_counter()
                    prompt_speed[i].append(len(prompt) / (first - started))
                if produced > DECODE_TOKENS:
                    break
            decode_speed[i].append(DECODE_TOKENS / (time.perf_counter() - first))

    compared = models[0].tokenize(text[4000:].encode())[:COMPARED_TOKENS]
    for llm in models:
        llm.close()
    logprobs = []
    for path in files:
        llm = load(path, every_logit=True)
        llm.eval(compared)
        logprobs.append(log_softmax(np.asarray(llm.scores[: len(compared)], dtype=np.float64)))
        llm.close()

    following = np.asarray(compared[1:])
    rows = np.arange(len(compared) - 1)
    print(f"{len(prompt)}-token prompt, {DECODE_TOKENS} decoded tokens, {args.threads} threads, {args.rounds} "
          f"alternating rounds (medians); predictions over {len(compared)} tokens of README.md\n")
    print(f"{'file':<46}{'prompt tok/s':>13}{'ratio':>7}{'decode tok/s':>14}{'ratio':>7}{'KL nats':>9}"
          f"{'top-1 same':>11}{'perplexity':>11}{'MB':>6}")
    reference_prompt = statistics.median(prompt_speed[0])
    reference_decode = statistics.median(decode_speed[0])
    for i, path in enumerate(files):
        kl = float((np.exp(logprobs[0]) * (logprobs[0] - logprobs[i])).sum(axis=1).mean())
        agree = float((logprobs[0].argmax(axis=1) == logprobs[i].argmax(axis=1)).mean())
        perplexity = float(np.exp(-logprobs[i][rows, following].mean()))
        prompt_p50 = statistics.median(prompt_speed[i])
        decode_p50 = statistics.median(decode_speed[i])
        print(f"{path.name:<46}{prompt_p50:>13.1f}{prompt_p50 / reference_prompt:>7.2f}{decode_p50:>14.1f}"
              f"{decode_p50 / reference_decode:>7.2f}{kl:>9.4f}{agree:>11.3f}{perplexity:>11.2f}"
              f"{path.stat().st_size / 1e6:>6.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
