"""Every net as an ONNX graph built from its weights with `onnx.helper`: no torch.

This is how a style runs on the light install (`pip install rtstyle`): the model file's
weights (numpy, via safetensors) go straight into a hand-written graph of its
architecture, which every graph backend runs. tests/test_graphs.py holds each builder to
the torch export of the same net. The builders also say which tensors (names and shapes)
a model file of an architecture must hold, so files are checked without torch too.
"""

from __future__ import annotations

from typing import Any

import onnx

from rtstyle.graphs.builder import Graph, Params, frames_model, shape_recorder
from rtstyle.nets import ARCHITECTURES, make_config, resolve


def net_graph(arch: str, options: dict[str, Any], params: Params,
              size: tuple[int, int] | None = None) -> onnx.ModelProto:
    """The net `arch` with `options` between uint8 BGR frames, weights from `params`;
    `size` (h, w) fixes the frame shape (else dynamic)."""
    cfg = make_config(arch, **options)
    body = resolve(ARCHITECTURES[arch].graph)
    return frames_model(Graph(params), lambda g, x: body(g, x, cfg), size,
                        getattr(cfg, "scale", 1))


def net_shapes(arch: str, options: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes a model file of `arch` with `options` holds."""
    params, seen = shape_recorder()
    net_graph(arch, options, params)
    return seen
