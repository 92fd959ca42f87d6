"""Engines that run an ONNX graph through a backend's session (ONNX Runtime, OpenVINO).

The graph may want frames as rtstyle's exports do (uint8 BGR NHWC) or as float RGB NCHW in
0..255 (`rgb255`, e.g. pytorch/examples' exports), and may be fixed to one size; these
helpers convert both ways, so every backend treats foreign graphs alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from rtstyle.engines.base import Engine, check_frames
from rtstyle.engines.registry import GraphSession

if TYPE_CHECKING:
    from rtstyle.styles.catalogue import Style


def graph_input(frames: np.ndarray, io: str, fixed_size: tuple[int, int] | None) -> np.ndarray:
    """Frames as the graph wants them: resized to a fixed-size graph, float NCHW for rgb255."""
    n, h, w, _ = frames.shape
    x = frames
    if fixed_size and tuple(fixed_size) != (h, w):
        fh, fw = fixed_size
        x = np.stack([cv2.resize(f, (fw, fh), interpolation=cv2.INTER_AREA) for f in x])
    if io == "rgb255":
        x = x[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
    return np.ascontiguousarray(x)


def output_scale(meta: dict) -> int:
    """How many times larger than its input a net's output is: the super-resolution
    net's `scale`, 1 for the transform nets."""
    return int(meta.get("options", {}).get("scale", 1)) if meta.get("arch") == "sr" else 1


def graph_output(y: np.ndarray, io: str, shape: tuple[int, ...], scale: int = 1) -> np.ndarray:
    """The graph's output as uint8 BGR frames of `shape` times `scale` (resized if needed)."""
    h, w = shape[1] * scale, shape[2] * scale
    if io == "rgb255":
        y = np.clip(y, 0, 255).round().astype(np.uint8).transpose(0, 2, 3, 1)[..., ::-1]
    if y.shape[1:3] != (h, w):
        y = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) for f in y])
    return np.ascontiguousarray(y)


class GraphEngine(Engine):
    """A transform net's ONNX graph on any backend that opens graph sessions."""

    def __init__(self, session: GraphSession, input_name: str, name: str, backend: str,
                 io: str = "frames", fixed_size: tuple[int, int] | None = None,
                 scale: int = 1):
        self.session, self.input, self.scale = session, input_name, scale
        self.name, self.backend = name, backend
        self.io, self.fixed_size = io, fixed_size

    def run(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        x = graph_input(frames, self.io, self.fixed_size)
        return graph_output(self.session.run({self.input: x}), self.io, frames.shape,
                            self.scale)

    @property
    def concurrent(self) -> bool:  # type: ignore[override]
        return getattr(self.session, "concurrent", False)

    def prefer_throughput(self) -> None:
        tune = getattr(self.session, "prefer_throughput", None)
        if tune is not None:
            tune()

    def close(self) -> None:
        close = getattr(self.session, "close", None)
        if close is not None:
            close()


def refuses_engine_file(style: Style) -> str | None:
    """ONNX backends run .onnx graphs and model files, not TensorRT engine files."""
    if style.is_engine_file:
        return (f"{style.path} is a TensorRT engine and runs only on --backend tensorrt; "
                "use the .onnx export for other backends")
    return None
