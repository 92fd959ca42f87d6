"""The one engine interface: load, warm up, run a batch of frames.

The pipeline, the video writer and the benchmarks drive every backend through it and
never know which one they hold. Frames are uint8 BGR, shape (N, H, W, 3).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from rtstyle.errors import RtstyleError
from rtstyle.limits import MIN_SIDE


def check_frames(frames: np.ndarray) -> None:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise RtstyleError(f"engine input must be uint8 (N, H, W, 3) frames, got "
                           f"{frames.dtype} {frames.shape}")
    if min(frames.shape[1:3]) < MIN_SIDE:
        raise RtstyleError(f"frame size {frames.shape[2]}x{frames.shape[1]} is too small; "
                           f"use at least {MIN_SIDE} px per side")


class Engine(ABC):
    """A loaded model on one backend. Subclasses load in __init__ and implement `run`."""

    backend: str = "?"  # e.g. "torch", "onnxruntime-cpu"; shown in HUDs and reports
    name: str = "?"  # the style or model it runs
    # Whether `run` may be called from several threads at once. Sessions differ, so only
    # engines that say so are (rtstyle.serve.pool overlaps its clients' frames on them).
    concurrent: bool = False

    @abstractmethod
    def run(self, frames: np.ndarray) -> np.ndarray:
        """Stylise a batch of uint8 BGR frames; returns frames of the same shape."""

    def warmup(self, height: int, width: int, runs: int = 2) -> None:
        """Run on random frames so allocation and kernel selection happen before timing."""
        rng = np.random.default_rng(0)
        frames = rng.integers(0, 256, (1, height, width, 3), dtype=np.uint8)
        for _ in range(runs):
            self.run(frames)

    def prefer_throughput(self) -> None:  # noqa: B027 (optional hook)
        """Several threads will share this engine (serve's clients): where the backend can,
        trade some of one frame's latency for more frames a second. Call before `run`."""

    def close(self) -> None:  # noqa: B027 (optional hook; most backends free on GC)
        """Release backend resources (sessions, GPU memory)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
