"""Terminal output helpers: tables, a progress bar, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from engine.api import format_duration


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def is_terminal() -> bool:
    return sys.stdout is not None and sys.stdout.isatty()


def progress_bar(done: int, total: int, width: int = 28) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + "]"


def human_seconds(seconds: float | None) -> str:
    return "--" if seconds is None else format_duration(seconds, compact=True)
