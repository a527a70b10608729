"""Put torch's NaN guards back into an unguarded embedder graph (what models/strip_nan_guards.py takes out).

    python -m tests.support.nan_guards UNGUARDED.onnx GUARDED.onnx     # prints the op types of both, as JSON

Run in a child process: the ``onnx`` package, loaded into a pytest process that also holds Qt, onnxruntime and the
rest, made the interpreter abort at exit ("bool_dealloc", a refcount error in a C extension), so no test imports it.
"""

from __future__ import annotations

import json
import sys

import onnx
from onnx import TensorProto, helper

GUARD_ZERO = "nan_guard_zero"


def with_nan_guards(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with ``Where(IsNaN(p), 0, p)`` after every Softmax, its users reading the Where."""
    guarded = onnx.ModelProto()
    guarded.CopyFrom(model)
    graph = guarded.graph
    nodes = list(graph.node)
    del graph.node[:]
    renamed: dict[str, str] = {}
    for node in nodes:
        for position, name in enumerate(node.input):
            node.input[position] = renamed.get(name, name)
        graph.node.append(node)
        if node.op_type == "Softmax":
            probabilities = node.output[0]
            graph.node.append(helper.make_node("IsNaN", [probabilities], [f"{probabilities}_isnan"]))
            graph.node.append(helper.make_node("Where", [f"{probabilities}_isnan", GUARD_ZERO, probabilities],
                                               [f"{probabilities}_guarded"]))
            renamed[probabilities] = f"{probabilities}_guarded"
    graph.initializer.append(helper.make_tensor(GUARD_ZERO, TensorProto.FLOAT, [], [0.0]))
    return guarded


def main(argv: list[str]) -> int:
    unguarded = onnx.load(argv[0])
    guarded = with_nan_guards(unguarded)
    onnx.checker.check_model(guarded)
    onnx.save(guarded, argv[1])
    print(json.dumps({"unguarded": [n.op_type for n in unguarded.graph.node],
                      "guarded": [n.op_type for n in guarded.graph.node]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
