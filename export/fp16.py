"""Half-precision ONNX for GPUs: convs and activations in fp16, normalisation in fp32.

Instance norm in fp16 is wrong in both ONNX Runtime and TensorRT (its variance
overflows or loses precision), so InstanceNormalization and any reductions stay
fp32 with casts around them; so does the output head after the last norm (tanh,
scale, round), which decides the final grey levels.
"""

from __future__ import annotations

import logging
from pathlib import Path

import onnx

from rtstyle.errors import RtstyleError

KEEP_FP32_OPS = ["InstanceNormalization", "LayerNormalization", "GroupNormalization",
                 "BatchNormalization", "ReduceMean", "ReduceSum", "ReduceSumSquare",
                 "ReduceL2", "ReduceMax", "ReduceMin", "Pow", "Sqrt", "Softmax"]


def _head_nodes(graph: onnx.GraphProto) -> list[str]:
    """Names of the nodes after the last normalisation: the net's output head."""
    norms = [i for i, n in enumerate(graph.node) if n.op_type in KEEP_FP32_OPS]
    start = norms[-1] + 1 if norms else len(graph.node)
    return [n.name for n in graph.node[start:] if n.name]


def _toposort(graph: onnx.GraphProto) -> None:
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        progress = [n for n in pending if all(i in ready for i in n.input)]
        if not progress:
            raise ValueError("graph has a cycle or a dangling input")
        for n in progress:
            ready.update(n.output)
        ordered += progress
        pending = [n for n in pending if n not in progress]
    del graph.node[:]
    graph.node.extend(ordered)


def _drop_cast_round_trips(graph: onnx.GraphProto) -> None:
    """Cast(fp32->fp16) -> Cast(fp16->fp32) between two fp32 nodes only loses precision."""
    producer = {o: n for n in graph.node for o in n.output}
    users: dict[str, int] = {}
    for n in graph.node:
        for i in n.input:
            users[i] = users.get(i, 0) + 1

    def cast_to(n: onnx.NodeProto) -> int | None:
        return next((a.i for a in n.attribute if a.name == "to"), None)

    rename = {}
    for node in list(graph.node):
        first = producer.get(node.input[0]) if node.op_type == "Cast" else None
        if (first is not None and first.op_type == "Cast" and users[first.output[0]] == 1
                and cast_to(first) == onnx.TensorProto.FLOAT16
                and cast_to(node) == onnx.TensorProto.FLOAT):
            rename[node.output[0]] = first.input[0]
            graph.node.remove(node)
            graph.node.remove(first)
    graph_outputs = {o.name for o in graph.output}
    for node in graph.node:
        for k, name in enumerate(node.input):
            while name in rename and name not in graph_outputs:
                name = rename[name]
            node.input[k] = name


def to_fp16(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Convert a checked fp32 graph (topologically sorted) to mixed fp16/fp32."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    unnamed = [n for n in proto.graph.node if not n.name]
    for i, node in enumerate(unnamed):
        node.name = f"rtstyle_node_{i}"
    logging.getLogger("onnxruntime.transformers.float16").setLevel(logging.ERROR)
    try:
        half = convert_float_to_float16(proto, keep_io_types=True,
                                        op_block_list=KEEP_FP32_OPS,
                                        node_block_list=_head_nodes(proto.graph))
        _toposort(half.graph)  # the converter appends its Casts at the end
        _drop_cast_round_trips(half.graph)
        onnx.checker.check_model(half)
    except Exception as e:  # the converter raises plain Exceptions with long messages
        raise RtstyleError(f"fp16 conversion failed ({str(e).splitlines()[0]}); "
                           "export fp32 instead") from e
    return half


def convert_file(src: Path, dst: Path) -> Path:
    """fp32 ONNX file -> fp16 ONNX file (written atomically), metadata carried over."""
    from rtstyle.export.onnx import get_metadata, load_checked, set_metadata
    from rtstyle.files import atomic_output

    half = to_fp16(load_checked(src))
    set_metadata(half, {**get_metadata(half), "precision": "fp16"})
    with atomic_output(Path(dst)) as tmp:
        onnx.save(half, str(tmp))
    return Path(dst)
