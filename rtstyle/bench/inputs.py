"""Frames to time engines on: real photos cropped to each size, or random noise without them.

Never zeros: some kernels take shortcuts on zeros or constant input, and a net's
output on a blank frame says nothing about whether two engines agree.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from rtstyle.errors import RtstyleError

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def default_assets() -> Path:
    """$RTSTYLE_ASSETS, else ../shared/assets next to a source checkout."""
    env = os.environ.get("RTSTYLE_ASSETS")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "assets"


def find_photos(folder: Path | None) -> list[Path]:
    """Photo files in `folder` (sorted), or none when it is absent."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)


def cover(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale `img` to cover height x width, then crop the centre: no bars, no distortion."""
    h, w = img.shape[:2]
    scale = max(height / h, width / w)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    big = cv2.resize(img, size, interpolation=interp)
    y, x = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
    return big[y:y + height, x:x + width]


class BenchInputs:
    """A few distinct frames at any size: the photos when given, else seeded noise."""

    def __init__(self, photos: list[Path], count: int = 3, seed: int = 0):
        self.images = []
        for p in photos[:count]:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise RtstyleError(f"cannot decode bench photo {p}; remove it or pass --photos")
            self.images.append(img)
        self.count, self.seed = count, seed
        self.description = (f"{len(self.images)} photos from {photos[0].parent}: "
                            + ", ".join(p.name for p in photos[:count])
                            if self.images else f"{count} frames of uniform random noise "
                            f"(seed {seed}; no photos found)")

    def frames(self, height: int, width: int) -> np.ndarray:
        """(count, height, width, 3) uint8 BGR frames, checked not to be flat."""
        if self.images:
            frames = np.stack([cover(img, height, width) for img in self.images])
        else:
            rng = np.random.default_rng(self.seed)
            frames = rng.integers(0, 256, (self.count, height, width, 3), dtype=np.uint8)
        for f in frames:
            if f.std() < 2.0:
                raise RtstyleError("a bench input frame is (nearly) constant; timing on flat "
                                   "frames is not honest - pass --photos with real photos")
        return frames
