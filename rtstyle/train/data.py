"""Training photos: a held-out split, loaded once, and augmented crops drawn from them.

Augmentation is a random resized crop (a square of 35-100% of the shorter side,
anywhere in the photo, resized to the training size) and a random horizontal flip.
Photos are kept in memory at twice the training size, so a step costs no decoding.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from rtstyle.errors import RtstyleError
from rtstyle.images import read_image
from rtstyle.nets.frames import frames_to_rgb

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
MIN_CROP = 0.35  # smallest crop side, as a fraction of the photo's shorter side


def image_files(folder: Path, what: str = "--data") -> list[Path]:
    """The images in `folder`, sorted; `what` names the option in errors."""
    if not Path(folder).is_dir():
        raise RtstyleError(f"{what} {folder} does not exist or is not a folder; "
                           "give a folder of images")
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise RtstyleError(f"{what} {folder} holds no images (.jpg, .png, .bmp, .webp)")
    return files


def split_holdout(files: list[Path], holdout: int) -> tuple[list[Path], list[Path]]:
    """(train, held_out): `holdout` photos spread evenly over the sorted list, never trained on."""
    if holdout < 0 or holdout >= len(files):
        raise RtstyleError(f"--holdout {holdout} leaves no training photos out of {len(files)}; "
                           "use fewer held-out photos or add photos")
    picked = set(np.linspace(0, len(files) - 1, holdout + 2)[1:-1].round().astype(int)) \
        if holdout else set()
    held = [f for i, f in enumerate(files) if i in picked]
    return [f for i, f in enumerate(files) if i not in picked], held


def to_rgb255(bgr: np.ndarray) -> torch.Tensor:
    """uint8 BGR (H, W, 3) -> float RGB (3, H, W) in 0..255."""
    return frames_to_rgb(torch.from_numpy(bgr)[None])[0]


def load_scaled(path: Path, shorter: int) -> torch.Tensor:
    """A photo as float RGB with its shorter side at most `shorter` px (never upscaled below)."""
    bgr = read_image(path)
    h, w = bgr.shape[:2]
    k = shorter / min(h, w)
    if k < 1.0:
        bgr = cv2.resize(bgr, (max(1, round(w * k)), max(1, round(h * k))),
                         interpolation=cv2.INTER_AREA)
    return to_rgb255(bgr)


class CropSampler:
    """Random resized, randomly flipped square crops of in-memory photos, seeded."""

    def __init__(self, files: list[Path], size: int, seed: int = 0):
        self.size = size
        self.photos = [load_scaled(p, 2 * size) for p in files]
        self.gen = torch.Generator().manual_seed(seed)

    def _int(self, low: int, high: int) -> int:
        return int(torch.randint(low, high + 1, (1,), generator=self.gen))

    def crop(self) -> torch.Tensor:
        im = self.photos[self._int(0, len(self.photos) - 1)]
        h, w = im.shape[1:]
        side = self._int(max(1, round(MIN_CROP * min(h, w))), min(h, w))
        y, x = self._int(0, h - side), self._int(0, w - side)
        c = im[None, :, y:y + side, x:x + side]
        c = F.interpolate(c, size=(self.size, self.size), mode="bilinear", align_corners=False,
                          antialias=side > self.size)[0].clamp(0, 255)
        return c.flip(2) if self._int(0, 1) else c

    def batch(self, n: int) -> torch.Tensor:
        return torch.stack([self.crop() for _ in range(n)])
