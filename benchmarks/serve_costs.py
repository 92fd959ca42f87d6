"""Where one server-side WebRTC client's frame time goes at 640x480 (issue 27), measured
stage by stage in one process, interleaved A B A B so load drift hits every stage alike:

  decode   the browser's yuv420p frame -> BGR array (VideoFrame.to_ndarray, as peer.py)
  stylise  the lite net (udnie-lite, backend auto, batch 1 and batch 4 per frame)
  wrap     BGR array -> yuv420p VideoFrame (VideoFrame.from_ndarray + reformat)
  vp8      aiortc's VP8 encoder (what Chromium negotiates first today)
  h264     aiortc's H.264 encoder (libx264), the alternative

Usage: OMP_NUM_THREADS=1 nice python benchmarks/serve_costs.py [--rounds 3] [--frames 20]
Prints one JSON object: ms per frame for each stage (median over rounds), and the
machine (date, load, CPU flags).
"""

from __future__ import annotations

import argparse
import fractions
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("RTSTYLE_ASSETS", ROOT.parent / "shared" / "assets"))
W, H = 640, 480


def machine() -> dict:
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo")
                  if line.startswith("flags")), [])
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_avg": os.getloadavg(), "cores": os.cpu_count(),
            "simd": [f for f in flags if f.startswith(("avx", "fma", "amx"))]}


def timed(fn, frames: int) -> float:
    t0 = time.perf_counter()
    for i in range(frames):
        fn(i)
    return (time.perf_counter() - t0) / frames * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=20)
    a = ap.parse_args()
    from aiortc.codecs.h264 import H264Encoder
    from aiortc.codecs.vpx import Vp8Encoder
    from av import VideoFrame

    from rtstyle.engines import open_engine

    photo = cv2.imread(str(ASSETS / "photos" / "tubingen.jpg"))
    bgr = cv2.resize(photo, (W, H), interpolation=cv2.INTER_AREA) if photo is not None \
        else np.random.default_rng(0).integers(0, 255, (H, W, 3), np.uint8)
    incoming = VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
    engine = open_engine("udnie-lite")
    engine.warmup(H, W, runs=2)
    batch4 = np.stack([bgr] * 4)
    vp8, h264 = Vp8Encoder(), H264Encoder()

    def wrap(i):
        f = VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
        f.pts, f.time_base = i * 3000, fractions.Fraction(1, 90000)
        return f

    stages = {
        "decode": lambda i: incoming.to_ndarray(format="bgr24"),
        "stylise_batch1": lambda i: engine.run(bgr[None]),
        "stylise_batch4_per_frame": None,  # measured per batch below, divided by 4
        "wrap": wrap,
        "vp8": lambda i: vp8.encode(wrap(i)),
        "h264": lambda i: h264.encode(wrap(i)),
    }
    got: dict[str, list[float]] = {k: [] for k in stages}
    for _ in range(a.rounds):
        for name, fn in stages.items():
            if fn is None:
                got[name].append(timed(lambda i: engine.run(batch4), a.frames // 4) / 4)
            else:
                got[name].append(timed(fn, a.frames))
    ms = {k: round(float(np.median(v)), 1) for k, v in got.items()}
    ms["wrap_in_codecs"] = "vp8 and h264 include wrap"
    print(json.dumps({"ms_per_frame": ms, "engine": engine.backend, "machine": machine(),
                      "command": "OMP_NUM_THREADS=1 nice python benchmarks/serve_costs.py "
                                 f"--rounds {a.rounds} --frames {a.frames}"}, indent=1))


if __name__ == "__main__":
    main()
