"""RegionEngine: any engine, applied only where the person mask (or its inverse) says."""

from __future__ import annotations

import cv2
import numpy as np

from rtstyle.engines.base import Engine, check_frames
from rtstyle.errors import RtstyleError
from rtstyle.region.segmenter import Segmenter

REGIONS = ("person", "background")


def check_region(region: str | None) -> str | None:
    if region is not None and region not in REGIONS:
        raise RtstyleError(f"--region {region!r} is unknown; use person or background")
    return region


class RegionEngine(Engine):
    """Stylised where the mask is 1, the original where it is 0, a blend at the edges."""

    def __init__(self, inner: Engine, region: str, segmenter: Segmenter):
        self.inner, self.region, self.segmenter = inner, check_region(region), segmenter
        self.name = f"{inner.name} ({region} only)"
        self.backend = inner.backend

    def weights(self, frame: np.ndarray) -> np.ndarray:
        """Per-pixel share of the stylised frame, float32 (H, W) in 0..1."""
        person = self.segmenter.mask(frame)
        return person if self.region == "person" else 1.0 - person

    def run(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        styled = self.inner.run(frames)
        out = np.empty_like(styled)
        for i, (orig, paint) in enumerate(zip(frames, styled, strict=True)):
            w = self.weights(orig)
            out[i] = cv2.blendLinear(paint, orig, w, 1.0 - w)
        return out

    def close(self) -> None:
        self.inner.close()


def with_region(engine: Engine, region: str | None, threads: int | None = None,
                segmenter: Segmenter | None = None) -> Engine:
    """`engine` itself when `region` is None, else wrapped to stylise only that region.
    Pass one `segmenter` to share its loaded model between engines (live style switches)."""
    if check_region(region) is None:
        return engine
    return RegionEngine(engine, region, segmenter.fork() if segmenter else Segmenter(threads))
