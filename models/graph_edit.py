"""The command line of a set-up ONNX graph edit: ``python -m models.<edit> SOURCE.onnx OUTPUT.onnx``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import onnx


def run_graph_edit(argv: list[str], usage: str, edit: Callable[[onnx.ModelProto], int], nothing_found: str) -> int:
    """Load SOURCE, apply ``edit`` (it returns how many places it changed), check and save the result as OUTPUT.
    Exit 2 on a wrong command line, 1 where the edit found nothing to change (``nothing_found`` says what)."""
    if len(argv) != 2:
        print(usage, file=sys.stderr)
        return 2
    source, output = Path(argv[0]), Path(argv[1])
    model = onnx.load(source)
    if edit(model) == 0:
        print(f"{source.name}: {nothing_found}", file=sys.stderr)
        return 1
    onnx.checker.check_model(model)
    onnx.save(model, output)
    return 0
