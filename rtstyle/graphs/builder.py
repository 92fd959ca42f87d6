"""A small helper over `onnx.helper` for writing the nets' graphs by hand.

Each method appends one node and returns its output's name, so a graph reads like the
torch module's `forward`. Weights come from a `Params` callback by their state-dict name
and shape, so one builder both checks a model file's tensors and writes them into the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (state-dict name, expected shape) -> float32 array of that shape (None: leave it out)
Params = Callable[[str, tuple[int, ...]], "np.ndarray | None"]


def shape_recorder() -> tuple[Params, dict[str, tuple[int, ...]]]:
    """A Params that records what was asked for and allocates nothing: a net's tensor
    names and shapes, read off its graph builder before any weight is read."""
    seen: dict[str, tuple[int, ...]] = {}

    def params(name: str, shape: tuple[int, ...]) -> None:
        seen[name] = shape

    return params, seen


class Graph:
    """Nodes and initializers of one graph under construction."""

    def __init__(self, params: Params):
        self.params = params
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def _name(self, op: str) -> str:
        self._n += 1
        return f"{op}_{self._n}"

    def op(self, op: str, *inputs: str, **attrs: Any) -> str:
        out = self._name(op)
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out

    def const(self, value: Any, dtype: Any = np.int64) -> str:
        name = self._name("const")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def weight(self, key: str, shape: Sequence[int]) -> str:
        array = self.params(key, tuple(shape))
        if array is not None:
            self.inits.append(numpy_helper.from_array(np.asarray(array, np.float32), key))
        return key

    def conv(self, x: str, prefix: str, cin: int, cout: int, k: int, bias: bool,
             transpose: bool = False, groups: int = 1, **attrs: Any) -> str:
        """Conv (or ConvTranspose) with torch's weight layout under `prefix`.weight/.bias."""
        shape = (cin, cout, k, k) if transpose else (cout, cin // groups, k, k)
        inputs = [x, self.weight(f"{prefix}.weight", shape)]
        if bias:
            inputs.append(self.weight(f"{prefix}.bias", (cout,)))
        if groups > 1:
            attrs["group"] = groups
        return self.op("ConvTranspose" if transpose else "Conv", *inputs,
                       kernel_shape=[k, k], **attrs)

    def norm(self, x: str, prefix: str, channels: int, eps: float) -> str:
        return self.op("InstanceNormalization", x,
                       self.weight(f"{prefix}.weight", (channels,)),
                       self.weight(f"{prefix}.bias", (channels,)), epsilon=eps)

    def pad(self, x: str, pads: str | Sequence[int], mode: str) -> str:
        """`pads` as ONNX orders them (all begins, then all ends), or a tensor's name."""
        return self.op("Pad", x, pads if isinstance(pads, str) else self.const(pads), mode=mode)

    def upsample2(self, x: str) -> str:
        """Nearest x2, as torch's F.interpolate(scale_factor=2, mode="nearest") exports."""
        return self.op("Resize", x, "", self.const([1, 1, 2, 2], np.float32), mode="nearest",
                       coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    def hw(self, x: str) -> str:
        """x's (H, W) as an int64 tensor."""
        return self.op("Slice", self.op("Shape", x), self.const([2]), self.const([4]))

    def crop(self, x: str, start: int, size: str) -> str:
        """x[:, :, start:start + h, start:start + w] for (h, w) = the tensor `size`."""
        ends = self.op("Add", size, self.const([start, start]))
        return self.op("Slice", x, self.const([start, start]), ends, self.const([2, 3]))

    def tanh_output(self, y: str) -> str:
        """tanh(y) * 150 + 127.5: the published nets' output range."""
        return self.op("Add", self.op("Mul", self.op("Tanh", y), self.const(150.0, np.float32)),
                       self.const(127.5, np.float32))


def frames_model(g: Graph, body: Callable[[Graph, str], str],
                 size: tuple[int, int] | None = None, scale: int = 1) -> onnx.ModelProto:
    """The net's graph between OpenCV frames, as nets/frames.py's FrameModel does it:
    uint8 BGR NHWC in, float RGB NCHW through `body`, clamped, rounded uint8 BGR NHWC out.
    `size` (h, w) fixes the frame shape; otherwise batch, height and width are dynamic.
    `scale`: the output is that many times the input's size (the sr net)."""
    from rtstyle.export.onnx import INPUT, OPSET, OUTPUT

    flip = g.const([2, 1, 0])
    rgb = g.op("Gather", g.op("Transpose", g.op("Cast", INPUT, to=TensorProto.FLOAT),
                              perm=[0, 3, 1, 2]), flip, axis=1)
    y = g.op("Clip", body(g, rgb), g.const(0.0, np.float32), g.const(255.0, np.float32))
    y = g.op("Cast", g.op("Round", y), to=TensorProto.UINT8)
    y = g.op("Gather", y, flip, axis=1)
    g.nodes.append(helper.make_node("Transpose", [y], [OUTPUT], perm=[0, 2, 3, 1]))
    dims: list[Any] = ["batch", *(size or ("height", "width")), 3]
    out_dims = dims if scale == 1 else ["batch", *([d * scale for d in size] if size else
                                                    ("out_height", "out_width")), 3]
    graph = helper.make_graph(
        g.nodes, "rtstyle", [helper.make_tensor_value_info(INPUT, TensorProto.UINT8, dims)],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.UINT8, out_dims)], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="rtstyle")
    model.ir_version = 8  # what onnxruntime >= 1.14 and OpenVINO 2024 read
    return model
