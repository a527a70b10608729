"""Rewrite the embedder's matrix products to run on 8-bit integers, each token quantized on its own (set-up only).

    python -m models.per_token_int8 SOURCE.onnx OUTPUT.onnx

SOURCE is the app's embedder (models/strip_nan_guards.py's output): its weights are stored as int8 with a scale
per output column, which ONNX Runtime turns back into fp32 when it loads the file, so every product runs in fp32.
Here each weight product reads them as they are stored, and its input (the activations) is quantized too:

- per token, asymmetric: each row of the input gets its own scale and zero point, its minimum to its maximum over
  0..255. ONNX Runtime's own dynamic quantization takes one range for the whole batch, and the [CLS] token and a
  few outlier channels (99 and 63 of the hidden state, up to 20 times the others) set it: its vectors had a cosine
  of 0.990 to the fp32 ones, these 0.998 (bench/embedder_speed.py).
- ONNX Runtime's integer product (``MatMulIntegerToFloat``) takes one zero point for the whole input, so the
  quantized rows are shifted by 0 and each row's own zero point z is taken off by extra input columns that all
  hold z, against weight rows that add up to minus each weight column's sum: (q - z)·W = q·W + [z ... z]·R, exact
  in integers. The row scales multiply the product's output (the operator's per-row A scale), the weight scales
  are its per-column B scales.
- each GELU (``x * 0.5 * (1 + erf(x / sqrt 2))`` after its bias, six nodes) becomes one ``BiasGelu``: ONNX
  Runtime's optimizer does not recognise this export's form of it.

The integer products are exact on CPUs with VNNI (``vpdpbusd``); without it ONNX Runtime's u8 x s8 kernels add
pairs of products in 16 bits, which can saturate, so the app loads this file only where the CPU has VNNI
(engine/embedding/embedder.py). The ``onnx`` package writes the same bytes for the same graph:
models/provision.py verifies the output's sha256.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import partial

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models.graph_edit import run_graph_edit

MS_DOMAIN = "com.microsoft"
INT8_MAX = 127


@dataclass
class WeightProduct:
    """A ``MatMul(x, Mul(Cast(int8 weights), column scales))`` of the source graph."""

    node: onnx.NodeProto
    weights: np.ndarray  # int8, (K, N)
    scales: np.ndarray  # float32, (N,)


def _initializers(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    return {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}


def weight_products(graph: onnx.GraphProto) -> list[WeightProduct]:
    """Every product of an activation with weights stored as int8 and a scale per output column."""
    producers = {output: node for node in graph.node for output in node.output}
    constants = _initializers(graph)
    found = []
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        dequantize = producers.get(node.input[1])
        if dequantize is None or dequantize.op_type != "Mul":
            continue
        cast = producers.get(dequantize.input[0])
        scale = constants.get(dequantize.input[1])
        if cast is None or cast.op_type != "Cast" or scale is None or cast.input[0] not in constants:
            continue
        weights = constants[cast.input[0]]
        if weights.dtype != np.int8 or weights.ndim != 2 or scale.shape != (1, weights.shape[1]):
            continue
        found.append(WeightProduct(node, weights, scale.reshape(-1).astype(np.float32)))
    return found


def correction_rows(weights: np.ndarray, count: int) -> np.ndarray:
    """``count`` int8 rows adding up, column by column, to minus the column sums of ``weights``."""
    remaining = -weights.astype(np.int64).sum(axis=0)
    rows = np.zeros((count, weights.shape[1]), dtype=np.int64)
    for row in rows:
        row[:] = np.clip(remaining, -INT8_MAX, INT8_MAX)
        remaining -= row
    assert not remaining.any(), "too few correction rows"
    return rows.astype(np.int8)


def add_constant(graph: onnx.GraphProto, name: str, value: np.ndarray) -> str:
    """``value`` as an initializer of ``graph`` named ``name``; the name."""
    graph.initializer.append(numpy_helper.from_array(value, name=name))
    return name


@dataclass(frozen=True)
class QuantizedRows:
    """The tensors ``quantize_rows`` makes of one input: the (B*S, K + extra) uint8 input of the integer products
    (each row's zero point repeated in the extra columns), the (B*S, 1) row scales, and the input's (B, S)."""

    codes: str
    row_scales: str
    leading: str
    extra_columns: int


def quantize_rows(graph: onnx.GraphProto, x: str, extra_columns: int) -> tuple[list[onnx.NodeProto], QuantizedRows]:
    """Nodes quantizing ``x`` (B, S, K) row by row to uint8, and what they make."""
    p = f"{x}/int8/"
    c = partial(add_constant, graph)
    nodes = [
        helper.make_node("Shape", [x], [p + "shape"]),
        helper.make_node("Slice", [p + "shape", c(p + "0", np.array([0], np.int64)),
                                   c(p + "2", np.array([2], np.int64))], [p + "leading"]),
        helper.make_node("Flatten", [x], [p + "rows"], axis=2),
        helper.make_node("ReduceMin", [p + "rows"], [p + "min"], axes=[-1], keepdims=0),
        helper.make_node("ReduceMax", [p + "rows"], [p + "max"], axes=[-1], keepdims=0),
        # the range holds zero, so that zero is a code (padding, exact zeros)
        helper.make_node("Min", [p + "min", c(p + "zero", np.array(0, np.float32))], [p + "low"]),
        helper.make_node("Max", [p + "max", p + "zero"], [p + "high"]),
        helper.make_node("Sub", [p + "high", p + "low"], [p + "range"]),
        helper.make_node("Div", [p + "range", c(p + "255", np.array(255, np.float32))], [p + "step"]),
        helper.make_node("Max", [p + "step", c(p + "tiny", np.array(1e-8, np.float32))], [p + "scale"]),
        helper.make_node("Div", [p + "low", p + "scale"], [p + "low_codes"]),
        helper.make_node("Neg", [p + "low_codes"], [p + "zero_codes"]),
        helper.make_node("Round", [p + "zero_codes"], [p + "zero_float"]),
        helper.make_node("Cast", [p + "zero_float"], [p + "zero_point"], to=TensorProto.UINT8),
        helper.make_node("QuantizeLinear", [p + "rows", p + "scale", p + "zero_point"], [p + "codes"], axis=0),
        helper.make_node("Unsqueeze", [p + "zero_point", c(p + "axis1", np.array([1], np.int64))],
                         [p + "zero_column"]),
        helper.make_node("Expand", [p + "zero_column", c(p + "extra", np.array([1, extra_columns], np.int64))],
                         [p + "zero_columns"]),
        helper.make_node("Concat", [p + "codes", p + "zero_columns"], [p + "input"], axis=1),
        helper.make_node("Unsqueeze", [p + "scale", p + "axis1"], [p + "row_scales"]),
    ]
    return nodes, QuantizedRows(p + "input", p + "row_scales", p + "leading", extra_columns)


def integer_product(graph: onnx.GraphProto, product: WeightProduct, rows: QuantizedRows) -> list[onnx.NodeProto]:
    """The nodes replacing ``product``: its integer product and the reshape back to (B, S, N)."""
    node = product.node
    p = f"{node.output[0]}/int8/"
    weights = np.vstack([product.weights, correction_rows(product.weights, rows.extra_columns)])
    c = partial(add_constant, graph)
    return [
        helper.make_node("MatMulIntegerToFloat",
                         [rows.codes, c(p + "weights", weights), rows.row_scales, c(p + "scales", product.scales),
                          c(p + "zero_point", np.array(0, np.uint8))],
                         [p + "rows"], domain=MS_DOMAIN, name=node.name),
        helper.make_node("Concat", [rows.leading, c(p + "width", np.array([weights.shape[1]], np.int64))],
                         [p + "shape"], axis=0),
        helper.make_node("Reshape", [p + "rows", p + "shape"], [node.output[0]]),
    ]


def quantize_products(model: onnx.ModelProto) -> int:
    """Replace every int8-weight product by an integer one on row-quantized input; the number replaced."""
    graph = model.graph
    products = weight_products(graph)
    by_input: dict[str, list[WeightProduct]] = {}
    for product in products:
        by_input.setdefault(product.node.input[0], []).append(product)
    replacing = {id(product.node): product for product in products}
    prepared: dict[str, QuantizedRows] = {}
    rebuilt: list[onnx.NodeProto] = []
    for node in graph.node:
        found = replacing.get(id(node))
        if found is None:
            rebuilt.append(node)
            continue
        x = node.input[0]
        if x not in prepared:  # quantized once for all its products (the query, key and value projections)
            largest_sum = max(int(np.abs(p.weights.astype(np.int64).sum(axis=0)).max()) for p in by_input[x])
            nodes, prepared[x] = quantize_rows(graph, x, max(1, math.ceil(largest_sum / INT8_MAX)))
            rebuilt.extend(nodes)
        rebuilt.extend(integer_product(graph, found, prepared[x]))
    del graph.node[:]
    graph.node.extend(rebuilt)
    return len(products)


def fuse_gelus(model: onnx.ModelProto) -> int:
    """Replace each ``Add(h, bias) -> Div(sqrt 2) -> Erf -> Add(1) -> Mul(0.5) -> Mul(Add's output)`` by one
    ``BiasGelu(h, bias)``; the number fused."""
    graph = model.graph
    constants = _initializers(graph)
    producers = {output: node for node in graph.node for output in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def constant_input(node: onnx.NodeProto, value: float) -> str | None:
        """The input of ``node`` that is not the constant ``value`` (None where no input is)."""
        for position, name in enumerate(node.input):
            if name in constants and constants[name].size == 1 and math.isclose(float(constants[name]), value,
                                                                                 rel_tol=1e-6):
                return str(node.input[1 - position])
        return None

    fused: dict[str, onnx.NodeProto] = {}
    for erf in (node for node in graph.node if node.op_type == "Erf"):
        div = producers.get(erf.input[0])
        if div is None or div.op_type != "Div" or div.input[1] not in constants:
            continue
        if not math.isclose(float(constants[div.input[1]]), math.sqrt(2), rel_tol=1e-6):
            continue
        add_bias = producers.get(div.input[0])
        if add_bias is None or add_bias.op_type != "Add":
            continue
        bias = next((name for name in add_bias.input if name in constants and constants[name].ndim == 1), None)
        if bias is None:
            continue
        h = next(name for name in add_bias.input if name != bias)
        [add_one] = consumers[erf.output[0]]
        [half] = consumers[add_one.output[0]]
        [gelu] = consumers[half.output[0]]
        if (add_one.op_type != "Add" or constant_input(add_one, 1.0) != erf.output[0] or half.op_type != "Mul"
                or constant_input(half, 0.5) != add_one.output[0] or gelu.op_type != "Mul"
                or set(gelu.input) != {half.output[0], add_bias.output[0]}):
            continue
        if any(len(consumers[name]) != 1 for name in (div.output[0], add_one.output[0], half.output[0])):
            continue
        if {node.name for node in consumers[add_bias.output[0]]} != {div.name, gelu.name}:
            continue
        fused[gelu.output[0]] = helper.make_node("BiasGelu", [h, bias], [gelu.output[0]], domain=MS_DOMAIN,
                                                 name=f"{gelu.name}/fused")
    rebuilt = [fused.get(node.output[0], node) for node in graph.node]
    del graph.node[:]
    graph.node.extend(rebuilt)
    return len(fused)


def drop_unused(model: onnx.ModelProto) -> None:
    """Remove nodes nothing reads (repeatedly), then initializers no node reads."""
    graph = model.graph
    outputs = {output.name for output in graph.output}
    nodes = list(graph.node)
    while True:
        read = {name for node in nodes for name in node.input} | outputs
        kept = [node for node in nodes if any(name in read for name in node.output)]
        if len(kept) == len(nodes):
            break
        nodes = kept
    del graph.node[:]
    graph.node.extend(nodes)
    read = {name for node in nodes for name in node.input}
    unread = [tensor for tensor in graph.initializer if tensor.name not in read]
    for tensor in unread:
        graph.initializer.remove(tensor)


def per_token_int8(model: onnx.ModelProto) -> tuple[int, int]:
    """The whole rewrite; how many products were made integer and how many GELUs fused."""
    products = quantize_products(model)
    gelus = fuse_gelus(model)
    drop_unused(model)
    if not any(entry.domain == MS_DOMAIN for entry in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return products, gelus


def main(argv: list[str]) -> int:
    return run_graph_edit(argv, __doc__ or "", lambda model: per_token_int8(model)[0],
                          "no product with int8-stored weights found")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
