"""Export a transform net to ONNX: uint8 BGR NHWC frames in and out, dynamic N, H and W.

We use torch's TorchScript-based exporter: on these nets it gives the same operator
graph as the dynamo exporter in 0.4 s instead of 13 s, and it targets opset 17
directly (the dynamo exporter emits opset 18 and fails to down-convert `Pad`).
Instance norm has no running statistics here, so it exports as InstanceNormalization
computed from the input, i.e. in inference mode.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch

from rtstyle import __version__
from rtstyle.errors import RtstyleError
from rtstyle.files import atomic_output
from rtstyle.nets.frames import FrameModel

OPSET = 17
INPUT, OUTPUT = "frames", "styled"
IO_CONVENTION = "uint8 BGR NHWC frames in, uint8 BGR NHWC frames out (OpenCV layout)"


def export_onnx(net: torch.nn.Module, path: Path, meta: dict[str, Any],
                size: tuple[int, int] | None = None) -> Path:
    """Write `net` wrapped in FrameModel to `path`; `size` (h, w) fixes the shape, else dynamic."""
    model = FrameModel(net).eval()
    h, w = size or (64, 96)
    if min(h, w) < 16:
        raise RtstyleError(f"size {w}x{h} is too small; frames need at least 16 px per side")
    example = torch.zeros(1, h, w, 3, dtype=torch.uint8)
    axes = {0: "batch"} if size else {0: "batch", 1: "height", 2: "width"}
    with atomic_output(Path(path)) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(tmp), input_names=[INPUT],
                          output_names=[OUTPUT], opset_version=OPSET, dynamo=False,
                          dynamic_axes={INPUT: axes, OUTPUT: axes})
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto)
        set_metadata(proto, {**meta, "io": IO_CONVENTION, "rtstyle_version": __version__})
        onnx.save(proto, str(tmp))
    return Path(path)


def set_metadata(proto: onnx.ModelProto, meta: dict[str, Any]) -> None:
    """Store rtstyle metadata as JSON under the `rtstyle` key of metadata_props."""
    for prop in list(proto.metadata_props):
        if prop.key == "rtstyle":
            proto.metadata_props.remove(prop)
    proto.metadata_props.add(key="rtstyle", value=json.dumps(meta))


def get_metadata(proto: onnx.ModelProto) -> dict[str, Any]:
    for prop in proto.metadata_props:
        if prop.key == "rtstyle":
            return json.loads(prop.value)
    return {}
