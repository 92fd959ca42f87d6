"""Flicker of many styles side by side, with the stabiliser before and after its still-pixel
trust (issue 23: stronger styles must not flicker more than the built-ins they replace).

Each style paints the first FRAMES frames of the clip (longer side MAX_SIZE) in-process on
ONNX Runtime; the frames then go through `Stabilizer` twice: as it was before the
"nothing moved here" trust (`still_weight=0`, flow only) and as it is now. Reported per
style: the flicker (rtstyle.metrics.flicker, grey levels on static pixels) of the plain,
the old-stabiliser and the new-stabiliser frames, and the new frames' PSNR to the plain
ones, whole and where the content changed (issue 4's bars: >= 25 and >= 20 dB). No
encoding: codec noise would blur the difference between nets. benchmarks/flicker.py
runs the real `rtstyle video --stabilize` for one style.

    python benchmarks/flicker_builtins.py udnie-lite starry_night-lite \
        --style old-udnie-lite=/path/to/old/udnie-lite.safetensors --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np

from rtstyle.bench.inputs import default_assets
from rtstyle.bench.machine import describe_machine
from rtstyle.engines import open_engine
from rtstyle.metrics import flicker, masked_psnr, psnr, static_mask
from rtstyle.video.stabilize import Stabilizer


def read_clip(path: Path, frames: int, max_size: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < frames:
        ok, f = cap.read()
        if not ok:
            break
        h, w = f.shape[:2]
        k = max_size / max(h, w)
        out.append(cv2.resize(f, (round(w * k) // 4 * 4, round(h * k) // 4 * 4),
                              interpolation=cv2.INTER_AREA))
    cap.release()
    if len(out) < 2:
        raise SystemExit(f"{path}: fewer than 2 frames decoded")
    return np.stack(out)


def measure(style: str, content: np.ndarray, changed: list[np.ndarray]) -> dict:
    engine = open_engine(style, "onnxruntime")
    plain = np.stack([engine.run(f[None])[0] for f in content])
    row = {"plain": flicker(plain, content)}
    for label, stab in (("old_stabilizer", Stabilizer(still_weight=0.0)),
                        ("stabilized", Stabilizer())):
        out = np.stack([stab(c, s) for c, s in zip(content, plain, strict=True)])
        row[label] = flicker(out, content)
    n = range(1, len(out))
    row["psnr_whole_db"] = float(np.mean([psnr(out[t], plain[t]) for t in n]))
    row["psnr_changed_db"] = float(np.mean([masked_psnr(out[t], plain[t], changed[t - 1])
                                            for t in n]))
    return {k: round(v, 3) for k, v in row.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("styles", nargs="*", help="installed or built-in style names")
    p.add_argument("--style", action="append", default=[], metavar="LABEL=MODEL",
                   help="a model file under a label (e.g. an earlier built-in)")
    p.add_argument("--video", type=Path, default=default_assets() / "videos" / "vtest.avi")
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--max-size", type=int, default=320)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    styles = [(s, s) for s in args.styles] + [tuple(s.split("=", 1)) for s in args.style]
    content = read_clip(args.video, args.frames, args.max_size)
    changed = [~static_mask(content[t], content[t - 1]) for t in range(1, len(content))]
    results = []
    print(f"{'style':34} plain  old-stab  stabilized  PSNR whole/changed dB")
    for label, style in styles:
        row = {"style": label, **measure(style, content, changed)}
        results.append(row)
        print(f"{label:34} {row['plain']:5.3f}  {row['old_stabilizer']:8.3f}  "
              f"{row['stabilized']:10.3f}  {row['psnr_whole_db']:.1f} / "
              f"{row['psnr_changed_db']:.1f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": describe_machine(os.cpu_count() or 1), "video": args.video.name,
            "frames": len(content), "size": f"{content.shape[2]}x{content.shape[1]}",
            "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
