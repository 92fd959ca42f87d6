"""How strongly a style carries its painting, and how much of the photo it keeps.

Two ratios, each measured on one photo and its stylised output (docs/styles/README.md):

- **Gram ratio**: the Gram distance from the output to the painting, divided by the
  same distance from the photo. The distance is the sum over VGG19 relu1_1, relu2_1 and
  relu3_1 of ||G_a - G_b||_F^2, with G = F F^T / (C*H*W). Lower means more of the
  painting's style; the published 2016 nets score 0.05-0.12 on unseen photos.
- **Content ratio**: the mean squared relu3_1 distance from the output to the photo,
  divided by the same distance from the painting (resized to the photo). Lower means
  more of the photo is kept; the published nets score 0.4-0.6.

Photos are measured at MEASURE_SIDE px on their longer side, and so is the painting.
The VGG is the shipped slice (conv1_1 -> relu3_1), so the measure runs offline.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from rtstyle.nets.vgg import VGGFeatures

MEASURE_SIDE = 512
GRAM_LAYERS = ("relu1_1", "relu2_1", "relu3_1")
CONTENT_LAYER = "relu3_1"


def fit_longer(bgr: np.ndarray, side: int = MEASURE_SIDE) -> np.ndarray:
    """`bgr` resized so that its longer side is `side` px (area filter when shrinking)."""
    h, w = bgr.shape[:2]
    k = side / max(h, w)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)


def _batch(bgr: np.ndarray) -> torch.Tensor:
    rgb = np.ascontiguousarray(bgr[..., ::-1], dtype=np.float32)
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


def _gram(f: torch.Tensor) -> torch.Tensor:
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return (f @ f.transpose(1, 2) / (c * h * w))[0]


@dataclass(frozen=True)
class Strength:
    gram_ratio: float
    content_ratio: float


class StrengthMeter:
    """Measures outputs against one painting; the painting's Grams are computed once."""

    def __init__(self, painting_bgr: np.ndarray, vgg: VGGFeatures | None = None,
                 side: int = MEASURE_SIDE):
        # `side` other than MEASURE_SIDE measures images made at that size (`rtstyle
        # optimize --size`) without resizing them: bringing a 384 px result up to 512 px
        # blurs away the fine strokes the relu1_1 Gram sees (docs/optimize.md).
        self.side = side
        self.vgg = vgg or VGGFeatures(list(GRAM_LAYERS), "builtin").eval()
        self.painting = fit_longer(painting_bgr, side)
        self.painting_grams = self._grams(self._features(self.painting))

    @torch.no_grad()
    def _features(self, bgr: np.ndarray) -> dict[str, torch.Tensor]:
        return self.vgg(_batch(bgr))

    @staticmethod
    def _grams(feats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        return [_gram(feats[name]) for name in GRAM_LAYERS]

    def _gram_distance(self, feats: dict[str, torch.Tensor]) -> float:
        return float(sum((g - p).square().sum()
                         for g, p in zip(self._grams(feats), self.painting_grams, strict=True)))

    def measure(self, photo_bgr: np.ndarray, output_bgr: np.ndarray) -> Strength:
        """Both ratios for `output_bgr`, the stylisation of `photo_bgr` (same size; both are
        brought to the meter's side, MEASURE_SIDE px by default, together)."""
        if photo_bgr.shape != output_bgr.shape:
            output_bgr = cv2.resize(output_bgr, photo_bgr.shape[1::-1],
                                    interpolation=cv2.INTER_AREA)
        photo, output = fit_longer(photo_bgr, self.side), fit_longer(output_bgr, self.side)
        painting = cv2.resize(self.painting, photo.shape[1::-1], interpolation=cv2.INTER_AREA)
        f_photo, f_out = self._features(photo), self._features(output)
        f_paint = self._features(painting)[CONTENT_LAYER]
        gram = self._gram_distance(f_out) / max(self._gram_distance(f_photo), 1e-12)
        c_out = float((f_out[CONTENT_LAYER] - f_photo[CONTENT_LAYER]).square().mean())
        c_paint = float((f_paint - f_photo[CONTENT_LAYER]).square().mean())
        return Strength(gram, c_out / max(c_paint, 1e-12))


def measure_engine(meter: StrengthMeter, engine, photos: list[np.ndarray]) -> dict[str, float]:
    """`summarise` of `engine` (anything with the engine interface's `run`) over `photos`,
    each stylised at its own size (bring them to MEASURE_SIDE first with `fit_longer`)."""
    return summarise([meter.measure(p, engine.run(p[None])[0]) for p in photos])


def summarise(rows: list[Strength]) -> dict[str, float]:
    """Mean and worst of both ratios over photos (worst = highest)."""
    g = [r.gram_ratio for r in rows]
    c = [r.content_ratio for r in rows]
    return {"gram_mean": float(np.mean(g)), "gram_worst": float(np.max(g)),
            "content_mean": float(np.mean(c)), "content_worst": float(np.max(c))}
