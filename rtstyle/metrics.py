"""Quality metrics used by tests, benchmarks and issue notes (see DESIGN.md, "Metrics")."""

from __future__ import annotations

import cv2
import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 images of the same shape."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


# Content differences below this many grey levels (after a light blur) count as "static".
STATIC_LEVELS = 4.0


def static_mask(content: np.ndarray, prev_content: np.ndarray) -> np.ndarray:
    """Pixels whose content did not change between two frames: |C_t - C_{t-1}| < 4 grey
    levels after a 5x5 Gaussian blur (sigma 1), which keeps sensor noise from counting."""
    def grey(img: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
        return cv2.GaussianBlur(g.astype(np.float32), (5, 5), 1.0)

    return np.abs(grey(content) - grey(prev_content)) < STATIC_LEVELS


def flicker(frames, content) -> float:
    """Temporal flicker of a video (DESIGN.md, "Metrics"): the mean |S_t - S_{t-1}| in
    grey levels (0..255, averaged over channels) over the pixels whose content stayed
    static between t-1 and t, pooled over all pairs of consecutive frames.

    `frames` are the video to judge (S) and `content` the unstylised frames (C), both
    iterables of same-size uint8 BGR images; flicker(content, content) is the figure
    for the unstylised video itself."""
    total, count = 0.0, 0
    prev_s = prev_c = None
    for s, c in zip(frames, content, strict=True):
        if prev_s is not None:
            mask = static_mask(c, prev_c)
            d = np.abs(s.astype(np.int16) - prev_s.astype(np.int16))
            d = d.mean(axis=2) if d.ndim == 3 else d
            total += float(d[mask].sum())
            count += int(mask.sum())
        prev_s, prev_c = s, c
    return total / count if count else 0.0


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """PSNR in dB between uint8 images over the pixels where `mask` (HxW) is true."""
    d = (a.astype(np.float64) - b.astype(np.float64))[mask]
    mse = float(np.mean(d**2)) if d.size else 0.0
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
