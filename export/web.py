"""A transform-net ONNX graph for the browser: canvas pixels in, canvas pixels out.

A canvas hands out RGBA bytes (`getImageData`) and takes them back (`putImageData`).
Doing the RGBA <-> BGR channel work inside the graph, as two uint8 Slices and a Pad
around rtstyle's own frames-in, frames-out graph, leaves the page no per-pixel
JavaScript loop: ONNX Runtime's kernels do it, threaded and vectorised.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from rtstyle.export.onnx import INPUT, OUTPUT, get_metadata, set_metadata

WEB_INPUT, WEB_OUTPUT = "rgba", "rgba_styled"
WEB_IO = "uint8 RGBA NHWC in (canvas getImageData), uint8 RGBA NHWC out, alpha 255"


def _const(name: str, values: list[int], dtype=np.int64) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=dtype), name)


def rgba_graph(frames_graph: onnx.ModelProto) -> onnx.ModelProto:
    """Wrap a `frames` (uint8 BGR NHWC) graph so it takes and returns uint8 RGBA NHWC."""
    web = onnx.ModelProto()
    web.CopyFrom(frames_graph)
    g = web.graph
    if [i.name for i in g.input] != [INPUT] or [o.name for o in g.output] != [OUTPUT]:
        raise ValueError(f"expected rtstyle's '{INPUT}' -> '{OUTPUT}' graph")
    dims = [d.dim_param or d.dim_value for d in g.input[0].type.tensor_type.shape.dim[:3]]
    g.initializer.extend([
        _const("web/rev_start", [-1]), _const("web/rev_end", [-(2**63)]),
        _const("web/rgb_start", [2]), _const("web/axis", [3]), _const("web/step", [-1]),
        _const("web/alpha_pads", [0, 0, 0, 0, 0, 0, 0, 1]),
        numpy_helper.from_array(np.array(255, np.uint8), "web/alpha")])
    # RGBA -> BGR: channels 2, 1, 0 (start at 2, step back); BGR -> RGB: all reversed.
    head = helper.make_node("Slice", [WEB_INPUT, "web/rgb_start", "web/rev_end", "web/axis",
                                      "web/step"], [INPUT], name="web/rgba_to_bgr")
    tail = [helper.make_node("Slice", [OUTPUT, "web/rev_start", "web/rev_end", "web/axis",
                                       "web/step"], ["web/rgb"], name="web/bgr_to_rgb"),
            helper.make_node("Pad", ["web/rgb", "web/alpha_pads", "web/alpha"], [WEB_OUTPUT],
                             name="web/add_alpha", mode="constant")]
    nodes = [head, *g.node, *tail]
    del g.node[:]
    g.node.extend(nodes)
    del g.input[:], g.output[:]
    g.input.append(helper.make_tensor_value_info(WEB_INPUT, TensorProto.UINT8, [*dims, 4]))
    g.output.append(helper.make_tensor_value_info(WEB_OUTPUT, TensorProto.UINT8, [*dims, 4]))
    set_metadata(web, {**(get_metadata(frames_graph) or {}), "io": WEB_IO})
    onnx.checker.check_model(web)
    return web
