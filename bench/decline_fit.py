"""Can the decline signals, combined, tell unanswerable questions from answerable ones better than the rules?

    .venv/bin/python -m bench.answers --option min_question_coverage=0 --option max_misplaced_coverage=1 \
        --option min_answer_confidence=0 --option max_doubt=1 --save run.json         # decline nothing
    .venv/bin/python -m bench.decline_fit run.json [more.json ...]

A logistic regression over every signal an answer carries (``checks`` in `ask --json`) is fitted on one question
set and scored on the other (squad-dev's and realdocs' questions are written differently, so a combination that
only fits one set shows it here), then compared, at the same share of answerable questions declined, with the
rules the app applies (``decline_reason`` at the settings' thresholds) and with the model's doubt alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.answers import declined_at, parse_options
from engine.settings import Settings

# The signals, with the value an answer lacking one gets (answer_confidence: no answering word, as sure as can be).
FEATURES = {"doubt": 0.0, "answer_confidence": 1.0, "weakest_answer_word": 1.0, "confidence": 1.0,
            "misplaced": 0.0, "quote_coverage": 0.0, "coverage": 0.0, "support": 0.0, "subject": 0.0,
            "similarity": 0.0, "new_words": 0.0, "left_out": 0.0}
RIDGE = 1.0  # L2 penalty on the standardised weights: about 100 answered questions a set, a dozen features


@dataclass
class Point:
    answerable: bool
    right: float
    features: np.ndarray
    rule_declines: bool  # the app's rules at the settings' thresholds decline it
    doubt: float


def points(saved_set: dict[str, Any], settings: Settings) -> tuple[list[Point], int, int]:
    """The answered questions of a set (the ones any threshold can decline), and how many answerable and
    unanswerable questions the set has in all."""
    found, answerable, unanswerable = [], 0, 0
    for question in saved_set["questions"]:
        reply, scores = question["reply"], question["scores"]
        if scores.get("missing"):
            continue
        is_answerable = bool(question["item"]["answerable"])
        answerable += is_answerable
        unanswerable += not is_answerable
        if not reply.get("grounded"):
            continue
        checks = reply.get("checks") or {}
        values = np.array([float(checks.get(name, default)) for name, default in FEATURES.items()])
        found.append(Point(is_answerable, float(scores.get("right") or 0.0), values,
                           not declined_at(reply, settings).get("grounded"), float(checks.get("doubt", 0.0))))
    return found, answerable, unanswerable


def fit(found: list[Point]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, scale, weights) of a ridge-penalised logistic regression for "unanswerable", by Newton's method."""
    x = np.array([p.features for p in found])
    y = np.array([0.0 if p.answerable else 1.0 for p in found])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    weights = np.zeros(z.shape[1])
    penalty = np.diag([0.0] + [RIDGE] * (z.shape[1] - 1))
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ weights))
        gradient = z.T @ (p - y) + penalty @ weights
        hessian = z.T @ (z * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, weights


def probability(model: tuple[np.ndarray, np.ndarray, np.ndarray], point: Point) -> float:
    mean, scale, weights = model
    return float(1 / (1 + np.exp(-(weights[0] + ((point.features - mean) / scale) @ weights[1:]))))


def auc(scores: list[float], positive: list[bool]) -> float:
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    if not pos or not neg:
        return float("nan")
    return sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))


def outcome(found: list[Point], declines: list[bool], answerable: int, unanswerable: int) -> tuple[float, ...]:
    """(right, wrongly declined, unanswerable declined) over the whole set; a question not answered in the run
    is declined whatever the rule."""
    right = sum(p.right for p, d in zip(found, declines, strict=True) if p.answerable and not d)
    answered_answerable = sum(p.answerable and not d for p, d in zip(found, declines, strict=True))
    answered_unanswerable = sum(not p.answerable and not d for p, d in zip(found, declines, strict=True))
    return (right / max(1, answerable), 1 - answered_answerable / max(1, answerable),
            1 - answered_unanswerable / max(1, unanswerable))


def at_same_wrong_declines(found: list[Point], scores: list[float], target: int) -> list[bool]:
    """Decline the answers with the highest scores until as many answerable ones are declined as ``target``."""
    order = sorted(range(len(found)), key=lambda i: -scores[i])
    declines = [False] * len(found)
    wrong = 0
    for i in order:
        if found[i].answerable:
            if wrong == target:
                break
            wrong += 1
        declines[i] = True
    return declines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("saved", type=Path, nargs="+", help="files written by bench.answers --save, declines off")
    parser.add_argument("--option", action="append", default=[], help="a decline threshold for the rules, K=V")
    args = parser.parse_args(argv)
    settings = replace(Settings(), **parse_options(args.option))  # type: ignore[arg-type]
    pooled: dict[str, tuple[list[Point], int, int]] = {}
    for path in args.saved:
        for name, saved in json.loads(path.read_text("utf-8"))["sets"].items():
            found, answerable, unanswerable = points(saved, settings)
            before = pooled.get(name, ([], 0, 0))
            pooled[name] = (before[0] + found, before[1] + answerable, before[2] + unanswerable)
    names = list(pooled)
    print(f"features: {', '.join(FEATURES)}; ridge {RIDGE}")
    for name in names:
        others = [p for other in names if other != name for p in pooled[other][0]]
        found, answerable, unanswerable = pooled[name]
        model = fit(others) if others else fit(found)
        own = fit(found)
        fitted = [probability(model, p) for p in found]
        positive = [not p.answerable for p in found]
        rules = [p.rule_declines for p in found]
        target = sum(d and p.answerable for p, d in zip(found, rules, strict=True))
        print(f"\n{name}: {answerable} answerable, {unanswerable} unanswerable, {len(found)} answered with declines "
              f"off; fitted on {'the other set' if others else 'itself'}")
        print(f"  AUC for unanswerable: doubt {auc([p.doubt for p in found], positive):.3f}, combined "
              f"{auc(fitted, positive):.3f} (fitted on this set itself: "
              f"{auc([probability(own, p) for p in found], positive):.3f})")
        print(f"  {'':<34} right  wrongly declined  unanswerable declined")
        rows = {"declines off": [False] * len(found), "the app's rules": rules,
                "doubt alone, same wrong declines": at_same_wrong_declines(found, [p.doubt for p in found], target),
                "combined, same wrong declines": at_same_wrong_declines(found, fitted, target)}
        for threshold in (0.3, 0.4, 0.5, 0.6):
            rows[f"combined, p > {threshold}"] = [s > threshold for s in fitted]
        for label, declines in rows.items():
            right, wrongly, declined = outcome(found, declines, answerable, unanswerable)
            print(f"  {label:<34} {right:.3f}  {wrongly:>16.3f}  {declined:>21.3f}")
        print("  weights (standardised): " + ", ".join(
            f"{feature} {weight:+.2f}" for feature, weight in zip(FEATURES, model[2][1:], strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
