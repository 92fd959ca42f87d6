"""ONNX Runtime backend: CPU, or CUDA when onnxruntime-gpu and a GPU are present."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from rtstyle.engines.base import Engine, check_frames
from rtstyle.errors import RtstyleError

PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
}


def available_providers() -> set[str]:
    return set(ort.get_available_providers())


class OnnxRuntimeEngine(Engine):
    """Runs an ONNX graph. `io` says how it wants frames: "frames" (rtstyle's own exports,
    uint8 BGR NHWC) or "rgb255" (float RGB NCHW in 0..255, e.g. pytorch/examples' exports).
    `fixed_size` (h, w) is set for graphs exported at one size; frames are resized to it."""

    def __init__(self, path: Path, name: str, device: str = "cpu", threads: int | None = None,
                 io: str = "frames", fixed_size: tuple[int, int] | None = None):
        providers = PROVIDERS[device]
        if providers[0] not in available_providers():
            raise RtstyleError(f"{providers[0]} is not available in this onnxruntime; install "
                               "rtstyle[gpu] on a machine with CUDA, or use --backend onnxruntime")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as e:  # ORT raises its own Fail/InvalidGraph types
            raise RtstyleError(f"ONNX Runtime cannot load {path} ({str(e).splitlines()[0]}); "
                               "the file is corrupt or not a model, re-export it") from e
        self.input = self.session.get_inputs()[0].name
        self.io, self.fixed_size = io, fixed_size
        self.backend, self.name = f"onnxruntime-{device}", name

    def run(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        n, h, w, _ = frames.shape
        x = frames
        if self.fixed_size and tuple(self.fixed_size) != (h, w):
            fh, fw = self.fixed_size
            x = np.stack([cv2.resize(f, (fw, fh), interpolation=cv2.INTER_AREA) for f in x])
        if self.io == "rgb255":
            x = x[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
        y = self.session.run(None, {self.input: np.ascontiguousarray(x)})[0]
        if self.io == "rgb255":
            y = np.clip(y, 0, 255).round().astype(np.uint8).transpose(0, 2, 3, 1)[..., ::-1]
        if y.shape[1:3] != (h, w):
            y = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) for f in y])
        return np.ascontiguousarray(y)
