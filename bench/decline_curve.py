"""Declined against wrongly declined, for each signal the app could decline on, from a saved answers run.

    .venv/bin/python -m bench.answers --option min_question_coverage=0 --option max_misplaced_coverage=1 \
        --option min_answer_confidence=0 --option max_doubt=1 --save run.json         # decline nothing
    .venv/bin/python -m bench.decline_curve run.json                                    # then sweep

Every answer in the run carries the signals the app computed (``checks`` in `ask --json`): the share
of the question's rarer words in the quoted sentences (``quote_coverage``) and in the cited passages
(``coverage``), the share of each answer sentence's words its quotes hold (``support``), and the best
passage's cosine to the question (``similarity``), and the probability the model gave to the offered refusal it
was not let write (``doubt``). Declining when a signal is below a threshold moves
an answerable question to "wrongly declined" and an unanswerable one to "declined"; this prints both
shares for each threshold, squad-dev and realdocs side by side, so the operating point is chosen on
both sets at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (signal, True when a high value is the warning sign): declined below the threshold, or above it for "misplaced"
SIGNALS = (("quote_coverage", False), ("coverage", False), ("support", False), ("similarity", False),
           ("misplaced", True), ("confidence", False), ("answer_confidence", False),
           ("weakest_answer_word", False), ("doubt", True))
THRESHOLDS = (0.0, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
# The two checks the app combines (Settings.min_question_coverage, Settings.max_misplaced_coverage): a grid.
COVERAGE_FLOORS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3)
MISPLACED_CEILINGS = (1.0, 0.5, 0.4, 0.3, 0.2)


@dataclass
class Point:
    answerable: bool
    answered: bool  # before any threshold: the app answered (the model did not decline, a sentence was supported)
    right: float
    checks: dict[str, float]


def points(saved_set: dict[str, Any]) -> list[Point]:
    found = []
    for question in saved_set["questions"]:
        reply, scores = question["reply"], question["scores"]
        if scores.get("missing"):
            continue
        answerable = bool(question["item"]["answerable"])
        found.append(Point(answerable, bool(reply.get("grounded")), float(scores.get("right") or 0.0),
                           {k: float(v) for k, v in (reply.get("checks") or {}).items()}))
    return found


def curve(found: list[Point], signal: str, threshold: float, high_warns: bool = False) -> tuple[float, float, float]:
    """(right, wrongly declined, unanswerable declined) when answers with ``signal`` below ``threshold`` (above
    it, for a signal where a high value warns) are declined."""
    def kept(point: Point) -> bool:
        value = point.checks.get(signal, 1.0 if high_warns else 0.0)
        return point.answered and (value <= threshold if high_warns else value >= threshold)

    return shares(found, kept)


def shares(found: list[Point], kept: Callable[[Point], bool]) -> tuple[float, float, float]:
    answerable = [p for p in found if p.answerable]
    unanswerable = [p for p in found if not p.answerable]
    right = sum(p.right for p in answerable if kept(p)) / max(1, len(answerable))
    wrongly = sum(not kept(p) for p in answerable) / max(1, len(answerable))
    declined = sum(not kept(p) for p in unanswerable) / max(1, len(unanswerable))
    return right, wrongly, declined


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("saved", type=Path, help="a file written by bench.answers --save")
    args = parser.parse_args(argv)
    sets = json.loads(args.saved.read_text("utf-8"))["sets"]
    found = {name: points(saved) for name, saved in sets.items()}
    names = list(found)
    header = f"{'signal':<15} {'below':>5}  " + "  ".join(f"{n + ' right / wrongly / declined':>38}" for n in names)
    print(header)
    for signal, high_warns in SIGNALS:
        for threshold in THRESHOLDS:
            cells = []
            for name in names:
                right, wrongly, declined = curve(found[name], signal, threshold, high_warns)
                cells.append(f"{right:>14.3f} {wrongly:>11.3f} {declined:>11.3f}")
            print(f"{signal:<15} {('>' if high_warns else '<') + f'{threshold:.2f}':>5}  " + "  ".join(cells))
        print()
    print("both checks: declined when quote_coverage < floor or misplaced > ceiling")
    for floor in COVERAGE_FLOORS:
        for ceiling in MISPLACED_CEILINGS:
            cells = []
            for name in names:
                def kept(p: Point, floor: float = floor, ceiling: float = ceiling) -> bool:
                    return p.answered and p.checks.get("quote_coverage", 0.0) >= floor and \
                        p.checks.get("misplaced", 0.0) <= ceiling
                right, wrongly, declined = shares(found[name], kept)
                cells.append(f"{right:>14.3f} {wrongly:>11.3f} {declined:>11.3f}")
            label = f"<{floor:.2f}, >{ceiling:.2f}"
            print(f"{label:<21}  " + "  ".join(cells))
    print("goals: right >= 0.80, wrongly declined <= 0.10, unanswerable declined >= 0.70")
    return 0


if __name__ == "__main__":
    sys.exit(main())
