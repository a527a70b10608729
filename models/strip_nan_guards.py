"""Take torch's NaN guards out of an exported transformer's attention (set-up time only).

    python -m models.strip_nan_guards SOURCE.onnx OUTPUT.onnx

torch's ONNX export follows each attention softmax with ``Where(IsNaN(p), 0, p)``, for a row whose keys are all
masked by -inf. This export masks by adding float32's lowest value instead, so a softmax row is finite even with
every key masked (uniform, then): the guard changes nothing unless the scores are NaN already. Yet ONNX Runtime
spends 15 % of the embedder's time in those nodes (its profiler: ``Where`` 13 %, ``IsNaN`` 2 %, 300 squad-dev
chunks, 2 threads).
Without them the vectors are the same to the last bit at 1.12x the speed (bench/embedder_speed.py).

models/provision.py runs this in a process of its own for the catalogue's derived embedder and verifies the
output's sha256: the ``onnx`` package writes the same bytes for the same graph.
"""

from __future__ import annotations

import sys

import onnx

from models.graph_edit import run_graph_edit


def strip_nan_guards(model: onnx.ModelProto) -> int:
    """Remove every ``Where(IsNaN(x), c, x)`` from ``model``'s graph, its users reading ``x``, and any constant
    only those nodes read; the number of guards removed."""
    graph = model.graph
    producers = {output: node for node in graph.node for output in node.output}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    graph_outputs = {output.name for output in graph.output}
    renamed: dict[str, str] = {}
    removed: set[int] = set()
    for node in graph.node:
        if node.op_type != "Where" or len(node.input) != 3:
            continue
        test = producers.get(node.input[0])
        guarded = node.input[2]
        if test is None or test.op_type != "IsNaN" or test.input[0] != guarded or node.output[0] in graph_outputs:
            continue
        renamed[node.output[0]] = guarded
        removed.add(id(node))
        if consumers.get(test.output[0]) == 1:  # the IsNaN feeds this Where alone
            removed.add(id(test))
    kept = [node for node in graph.node if id(node) not in removed]
    read_by_removed = {name for node in graph.node if id(node) in removed for name in node.input}
    for node in kept:
        for position, name in enumerate(node.input):
            if name in renamed:
                node.input[position] = renamed[name]
    del graph.node[:]
    graph.node.extend(kept)
    still_read = {name for node in kept for name in node.input} | graph_outputs
    unread = [tensor for tensor in graph.initializer if tensor.name in read_by_removed - still_read]
    for tensor in unread:
        graph.initializer.remove(tensor)
    return len(renamed)


def main(argv: list[str]) -> int:
    return run_graph_edit(argv, __doc__ or "", strip_nan_guards,
                          "no NaN guard found (not a torch export of a transformer?)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
