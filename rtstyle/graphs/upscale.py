"""The `sr` super-resolution net (nets/upscale.py) as an ONNX graph, no torch."""

from __future__ import annotations

import numpy as np

from rtstyle.graphs.builder import Graph
from rtstyle.nets.configs import UpscaleConfig


def sr_body(g: Graph, x: str, cfg: UpscaleConfig) -> str:
    """Float RGB (N, 3, H, W) in 0..255 -> (N, 3, sH, sW), as UpscaleNet.forward: convs at
    the input size predict a residual over the nearest upscale, laid out by DepthToSpace."""
    s, half = cfg.scale, g.const(127.5, np.float32)
    y, cin = g.op("Div", g.op("Sub", x, half), half), 3
    for i in range(cfg.convs):
        y = g.op("Relu", g.conv(y, f"body.{2 * i}", cin, cfg.width, 3, True, pads=[1] * 4))
        cin = cfg.width
    residual = g.op("Mul", g.conv(y, "out", cin, 3 * s * s, 1, True), half)
    # each pixel's RGB repeated s*s times (channel c -> rows c*s*s .. c*s*s + s*s - 1)
    repeated = g.op("Expand", g.op("Unsqueeze", x, g.const([2])), g.const([1, 1, s * s, 1, 1]))
    shape = g.op("Concat", g.const([0, 3 * s * s]), g.hw(x), axis=0)
    base = g.op("Reshape", repeated, shape)
    return g.op("DepthToSpace", g.op("Add", base, residual), blocksize=s, mode="CRD")
