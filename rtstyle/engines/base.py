"""The one engine interface: load, warm up, run a batch of frames.

The pipeline, the video writer and the benchmarks drive every backend through it and
never know which one they hold. Frames are uint8 BGR, shape (N, H, W, 3).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import cv2
import numpy as np

from rtstyle.errors import RtstyleError

MIN_SIDE = 16  # the nets downsample 4x and pad; smaller frames have no valid output


def check_frames(frames: np.ndarray) -> None:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise RtstyleError(f"engine input must be uint8 (N, H, W, 3) frames, got "
                           f"{frames.dtype} {frames.shape}")
    if min(frames.shape[1:3]) < MIN_SIDE:
        raise RtstyleError(f"frame size {frames.shape[2]}x{frames.shape[1]} is too small; "
                           f"use at least {MIN_SIDE} px per side")


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


def graph_output(y: np.ndarray, io: str, shape: tuple[int, ...]) -> np.ndarray:
    """The graph's output as uint8 BGR frames of `shape` (resized back if needed)."""
    h, w = shape[1:3]
    if io == "rgb255":
        y = np.clip(y, 0, 255).round().astype(np.uint8).transpose(0, 2, 3, 1)[..., ::-1]
    if y.shape[1:3] != (h, w):
        y = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) for f in y])
    return np.ascontiguousarray(y)


class Engine(ABC):
    """A loaded model on one backend. Subclasses load in __init__ and implement `run`."""

    backend: str = "?"  # e.g. "torch", "onnxruntime-cpu"; shown in HUDs and reports
    name: str = "?"  # the style or model it runs

    @abstractmethod
    def run(self, frames: np.ndarray) -> np.ndarray:
        """Stylise a batch of uint8 BGR frames; returns frames of the same shape."""

    def warmup(self, height: int, width: int, runs: int = 2) -> None:
        """Run on random frames so allocation and kernel selection happen before timing."""
        rng = np.random.default_rng(0)
        frames = rng.integers(0, 256, (1, height, width, 3), dtype=np.uint8)
        for _ in range(runs):
            self.run(frames)

    def close(self) -> None:  # noqa: B027 (optional hook; most backends free on GC)
        """Release backend resources (sessions, GPU memory)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
