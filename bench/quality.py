"""Answer quality on squad-dev: retrieval recall/MRR for dense, keyword and hybrid; answers and refusals.

    .venv/bin/python -m bench.quality                 # retrieval on every question, answers on a sample
    .venv/bin/python -m bench.quality --answers 0     # retrieval only
    .venv/bin/python -m bench.quality --answers all   # every question (about 40 minutes on 2 cores)
    .venv/bin/python -m bench.quality --passage-tokens 80 100 0 --ceiling   # passage lengths side by side,
                                                      # and the model on the gold paragraph alone

The two articles are written as PDFs (so pages are real), indexed by the real pipeline into a
temporary Hushdocs home, and queried through the same Engine the app uses.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.squad import Question, chunk_holds_answer, load_squad, reply_is_right, sample_questions, write_article_pdfs


def retrieval_table(engine: object, questions: list[Question]) -> list[tuple[str, float, float, float, float, float]]:
    from engine.api import Engine
    from engine.retrieval.search import Fusion, SearchMode

    assert isinstance(engine, Engine)
    retriever = engine.retriever()
    answerable = [q for q in questions if not q.impossible]
    results = []
    # The last row ranks what the app hands the model: neighbouring chunks merged into passages.
    runs: list[tuple[str, SearchMode, Fusion, bool]] = [
        ("dense", "dense", "relative", False), ("keyword", "keyword", "relative", False),
        ("hybrid", "hybrid", "relative", False), ("hybrid-rrf", "hybrid", "rrf", False),
        ("hybrid passages", "hybrid", "relative", True)]
    for label, mode, fusion, merge in runs:
        ranks = []
        for question in answerable:
            hits = retriever.search(question.text, k=10, mode=mode, merge=merge, fusion=fusion)
            rank = next((i + 1 for i, h in enumerate(hits) if chunk_holds_answer(h.text, question)), None)
            ranks.append(rank)
        n = len(ranks)
        recall = [sum(1 for r in ranks if r is not None and r <= k) / n for k in (1, 3, 5, 10)]
        mrr = sum(1.0 / r for r in ranks if r is not None) / n
        results.append((label, recall[0], recall[1], recall[2], recall[3], mrr))
    return results


def answer_table(engine: object, questions: list[Question], sample: int | None, seed: int) -> dict[str, object]:
    from engine.api import Engine

    assert isinstance(engine, Engine)
    answerable, unanswerable = sample_questions(questions, sample, seed)
    right = wrongly_declined = declined = 0
    first_token, totals, failures = [], [], []
    for question in answerable + unanswerable:
        answer = next(e.answer for e in engine.ask(question.text) if e.kind == "done")
        assert answer is not None
        first_token.append(answer.timings.get("first_token_ms", 0.0))
        totals.append(answer.timings.get("total_ms", 0.0))
        refused = not answer.grounded
        if question.impossible:
            declined += refused
        else:
            wrongly_declined += refused
            good = reply_is_right(answer.text, question)
            right += good
            if not good:
                failures.append((question.text, question.answers[0], answer.text[:160]))
    return {"answerable": len(answerable), "unanswerable": len(unanswerable),
            "right": right / max(1, len(answerable)), "wrongly_declined": wrongly_declined / max(1, len(answerable)),
            "declined": declined / max(1, len(unanswerable)),
            "first_token_p50_ms": statistics.median(first_token) if first_token else 0.0,
            "total_p50_ms": statistics.median(totals) if totals else 0.0, "failures": failures}


def gold_paragraph_ceiling(engine: object, questions: list[Question], sample: int | None,
                           seed: int) -> tuple[float, float]:
    """Right and wrongly declined when the model reads only the paragraph holding the answer: what the
    prompt and model reach with perfect retrieval."""
    from engine.api import Engine
    from engine.generation.answer import is_refusal
    from engine.generation.prompt import answer_messages
    from engine.records import Hit

    assert isinstance(engine, Engine)
    answerable, _unanswerable = sample_questions(questions, sample, seed)  # the ones answer_table asks
    generator = engine.generator()
    right = declined = 0
    for question in answerable:
        paragraph = Hit(chunk_id=0, document_id=0, path=f"{question.article}.pdf", title=question.article, page=None,
                        section="", start=0, end=len(question.context), text=question.context, score=1.0,
                        similarity=1.0, chunk_ids=(0,), ranks={})
        reply = "".join(generator.stream_chat(answer_messages(question.text, [paragraph]), temperature=0.0,
                                              max_tokens=engine.settings.max_answer_tokens))
        refused = is_refusal(reply)
        declined += refused
        right += not refused and reply_is_right(reply, question)
    return right / max(1, len(answerable)), declined / max(1, len(answerable))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", default="60", help="questions of each kind to answer: a number, 'all' or 0")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", help="chat model (catalogue name or .gguf path); default: the default model")
    parser.add_argument("--passages", type=int, help="passages per answer (default: settings)")
    parser.add_argument("--passage-tokens", type=int, nargs="+",
                        help="focus passages to this many tokens (0: whole); several values: one row each")
    parser.add_argument("--ceiling", action="store_true",
                        help="also answer each answerable question from its gold paragraph alone (no retrieval)")
    parser.add_argument("--show-failures", type=int, default=0, help="print this many wrong answers")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="hushdocs-bench-quality-"))
    models = os.environ.get("HUSHDOCS_MODELS")
    from engine import paths

    os.environ.setdefault("HUSHDOCS_MODELS", models or str(paths.models_dir()))
    os.environ["HUSHDOCS_HOME"] = str(home)
    from engine.api import Engine
    from engine.settings import Settings

    articles, questions = load_squad()
    settings = Settings(temperature=0.0)
    if args.model:
        settings.chat_model = args.model
    if args.passages:
        settings.passages = args.passages
    engine = Engine(settings)
    started = time.perf_counter()
    pdfs = write_article_pdfs(articles, home / "corpus")
    list(engine.index(pdfs, "squad"))
    chunks = sum(d.chunks for d in engine.documents())
    pages = sum(d.pages for d in engine.documents())
    print(f"indexed {len(pdfs)} PDFs ({pages} pages, {chunks} chunks) in {time.perf_counter() - started:.1f} s")
    answerable = sum(1 for q in questions if not q.impossible)
    print(f"\nretrieval over {answerable} answerable questions (a hit: a chunk holding the gold answer span; "
          "'hybrid passages': a passage of merged neighbouring chunks holding it, as the app retrieves)")
    print(f"{'mode':<16} {'recall@1':>9} {'recall@3':>9} {'recall@5':>9} {'recall@10':>10} {'MRR@10':>8}")
    for mode, r1, r3, r5, r10, mrr in retrieval_table(engine, questions):
        print(f"{mode:<16} {r1:>9.3f} {r3:>9.3f} {r5:>9.3f} {r10:>10.3f} {mrr:>8.3f}")
    if args.answers not in ("0", ""):
        sample = None if args.answers == "all" else int(args.answers)
        print(f"\nanswers with {engine.chat_model_path().name}, temperature 0, sample seed {args.seed}")
        print(f"{'configuration':<32} {'right':>6} {'wrongly declined':>17} {'unanswerable declined':>22} "
              f"{'first token p50':>16} {'whole p50':>10}")
        failures: list[tuple[str, str, str]] = []
        for passage_tokens in args.passage_tokens or [settings.passage_tokens]:
            engine.settings.passage_tokens = passage_tokens
            length = f"focused to {passage_tokens}" if passage_tokens else "whole"
            result = answer_table(engine, questions, sample, args.seed)
            count = settings.passages or "automatic"
            print(f"{f'{count} passages, {length}':<32} {result['right']:>6.3f} "
                  f"{result['wrongly_declined']:>17.3f} {result['declined']:>22.3f} "
                  f"{result['first_token_p50_ms']:>13.0f} ms {result['total_p50_ms']:>7.0f} ms")
            found = result["failures"]
            assert isinstance(found, list)
            failures = found
        if args.ceiling:
            right, declined = gold_paragraph_ceiling(engine, questions, sample, args.seed)
            print(f"{'its gold paragraph only':<32} {right:>6.3f} {declined:>17.3f} {'-':>22} {'-':>16} {'-':>10}")
        for question, gold, reply in failures[: args.show_failures]:
            print(f"  Q: {question}\n     gold: {gold}\n     got:  {reply}")
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
