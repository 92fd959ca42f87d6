"""The built-in demo clip: a slow pan and zoom over a landscape painted in code.

It lets `rtstyle webcam --demo` run the whole pipeline on a machine without a camera or a
video file, and ships no asset: the picture is drawn from a fixed seed on first use.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from rtstyle.live.sources.base import Source

FPS = 30.0
PERIOD_S = 24.0  # one full pan/zoom cycle


def landscape(width: int, height: int, seed: int = 7) -> np.ndarray:
    """A BGR picture with sky, sun, clouds, mountain ridges, a lake, trees and a house:
    enough edges, textures and colours for a style to show."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height)[:, None, None]
    top, horizon = np.array([150, 80, 30.0]), np.array([120, 180, 250.0])  # BGR
    img = (top * (1 - y) + horizon * y) * np.ones((1, width, 1))
    cv2.circle(img, (int(width * 0.72), int(height * 0.28)), int(height * 0.08),
               (150, 230, 255), -1, cv2.LINE_AA)
    clouds = np.zeros((height, width), np.float32)
    for _ in range(14):
        c = (int(rng.uniform(0, width)), int(rng.uniform(0.05, 0.35) * height))
        axes = (int(rng.uniform(0.05, 0.15) * width), int(rng.uniform(0.02, 0.05) * height))
        cv2.ellipse(clouds, c, axes, 0, 0, 360, 1.0, -1)
    clouds = cv2.GaussianBlur(clouds, (0, 0), height * 0.02)[..., None]
    img = img * (1 - 0.7 * clouds) + 245 * 0.7 * clouds
    x = np.arange(width)
    ridges = [(0.45, (120, 110, 110)), (0.55, (80, 100, 70)), (0.63, (40, 80, 40))]
    for base, colour in ridges:
        phase = rng.uniform(0, 2 * math.pi, 3)
        ridge = base * height + sum(
            height * a * np.sin(2 * math.pi * f * x / width + p)
            for a, f, p in zip((0.06, 0.025, 0.01), (1.3, 3.7, 11.0), phase, strict=True))
        pts = np.concatenate([np.stack([x, ridge], 1), [[width - 1, height], [0, height]]])
        cv2.fillPoly(img, [pts.astype(np.int32)], colour, cv2.LINE_AA)
    lake_top = int(0.72 * height)
    lake = img[lake_top - (height - lake_top):lake_top][::-1] * 0.6 + np.array([90, 60, 20.0])
    img[lake_top:] = lake[: height - lake_top]
    for _ in range(25):  # trees on the near shore
        tx, ty = int(rng.uniform(0, width)), int(rng.uniform(0.62, 0.72) * height)
        s = int(rng.uniform(0.03, 0.07) * height)
        tri = np.array([[tx, ty - 2 * s], [tx - s // 2, ty], [tx + s // 2, ty]], np.int32)
        cv2.fillPoly(img, [tri], (30, int(rng.uniform(70, 120)), 20), cv2.LINE_AA)
    hx, hy, hs = int(0.3 * width), int(0.7 * height), int(0.06 * height)
    cv2.rectangle(img, (hx, hy - hs), (hx + int(1.4 * hs), hy), (60, 90, 200), -1)
    roof = np.array([[hx - hs // 4, hy - hs], [hx + int(0.7 * hs), hy - 2 * hs],
                     [hx + int(1.65 * hs), hy - hs]], np.int32)
    cv2.fillPoly(img, [roof], (40, 40, 120), cv2.LINE_AA)
    img += rng.normal(0, 6, img.shape)  # grain, so flat areas have texture to stylise
    return np.clip(img, 0, 255).astype(np.uint8)


class DemoClip(Source):
    """An endless generated clip at 30 fps: frame t is a pan/zoom view of `landscape`."""

    description = "built-in demo clip"
    fps = FPS
    live = False

    def __init__(self, size: tuple[int, int]):
        self.size = size
        w, h = size
        self.picture = landscape(2 * w, 2 * h)
        self.t = -1  # the grabbed frame

    def frame_at(self, t: int) -> np.ndarray:
        w, h = self.size
        phase = 2 * math.pi * t / (FPS * PERIOD_S)
        a = 0.8 - 0.2 * math.cos(phase)  # output px per picture px: the view is w/a wide
        # Pan the view's centre as far as the picture allows at this zoom.
        cx = w + 0.95 * (w - w / (2 * a)) * math.sin(phase)
        cy = h + 0.95 * (h - h / (2 * a)) * math.sin(2 * phase)
        m = np.array([[a, 0, w / 2 - a * cx], [0, a, h / 2 - a * cy]])
        return cv2.warpAffine(self.picture, m, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)

    def grab(self) -> bool:
        self.t += 1
        return True

    def retrieve(self) -> np.ndarray:
        return self.frame_at(self.t)

    def reopen(self) -> bool:
        self.t = -1
        return True
