"""Paintings no style-swap decoder was trained on: procedural brush-stroke canvases.

    python benchmarks/make_held_out_paintings.py OUT_DIR [--count 3] [--size 512]

The asset paintings run out fast when some train the decoder and the rest must be held
out, so these add styles that exist nowhere else: each is a seeded palette of a few colours
and a few thousand strokes (lines of one width and direction field per painting) on a
toned ground. Seeded, so the same files come back on any machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from rtstyle.files import write_bytes_atomic


def painting(seed: int, size: int = 512) -> np.ndarray:
    """One procedural painting, BGR uint8, size x (3/4 size)."""
    rng = np.random.default_rng(seed)
    h, w = size * 3 // 4, size
    palette = rng.integers(0, 256, (int(rng.integers(3, 7)), 3))
    img = np.empty((h, w, 3), np.uint8)
    img[:] = palette[0]
    width = int(rng.integers(2, 9))
    swirl = rng.uniform(0.5, 4.0)
    for _ in range(int(rng.integers(1500, 4000))):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        angle = np.sin(x / w * swirl * np.pi) * np.pi + np.cos(y / h * swirl * np.pi)
        length = rng.uniform(4, 12) * width
        dx, dy = np.cos(angle) * length, np.sin(angle) * length
        colour = palette[int(rng.integers(len(palette)))] + rng.integers(-20, 21, 3)
        cv2.line(img, (int(x), int(y)), (int(x + dx), int(y + dy)),
                 np.clip(colour, 0, 255).tolist(), width, cv2.LINE_AA)
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--size", type=int, default=512)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    for seed in range(a.count):
        ok, buf = cv2.imencode(".png", painting(seed, a.size))
        write_bytes_atomic(a.out / f"procedural_{seed}.png", buf.tobytes())
    print(f"wrote {a.count} paintings to {a.out}")


if __name__ == "__main__":
    main()
