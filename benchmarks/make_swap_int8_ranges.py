"""Make the int8 calibration ranges that ship beside the style-swap decoder.

Runs the decoder's fp32 swap graph on photos (content) with paintings' indexes (style),
round robin, and writes ONNX Runtime's calibration cache (MinMax ranges of every tensor the
int8 graph quantises) to DECODER.int8-ranges.json; see rtstyle/swap/int8.py. The ranges
hold only numbers measured on these images, not the images.

Run:   python benchmarks/make_swap_int8_ranges.py --photos DIR --paintings DIR \
           [--decoder rtstyle/builtin/swap_decoder.safetensors] [--frames 24]
e.g. with the assets: --photos $RTSTYLE_ASSETS/train-photos --paintings $RTSTYLE_ASSETS/paintings
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from rtstyle.engines.swap import DECODER_ENV, Budget, _runtime, fp32_graph
from rtstyle.export.quantize import _fit
from rtstyle.images import IMAGE_SUFFIXES
from rtstyle.swap.graph import BUILTIN_DECODER as BUILTIN
from rtstyle.swap.index import style_feeds
from rtstyle.swap.int8 import calibrate, ranges_file

SIZE = (240, 320)  # (h, w); ranges barely depend on the frame size


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=Path, required=True)
    ap.add_argument("--paintings", type=Path, required=True)
    ap.add_argument("--decoder", type=Path, default=BUILTIN)
    ap.add_argument("--frames", type=int, default=24, help="photos used (evenly spaced)")
    a = ap.parse_args()
    os.environ[DECODER_ENV] = str(a.decoder)
    from rtstyle.engines.swap import load_painting

    runtime = _runtime("onnxruntime", None, "fp32")
    fp32 = fp32_graph(a.decoder)
    indexes = []
    for painting in images(a.paintings):
        style = runtime.encode(load_painting(painting, Budget().style_size), Budget())
        indexes.append(style_feeds(style))
    photos = images(a.photos)
    pick = np.linspace(0, len(photos) - 1, min(a.frames, len(photos))).round().astype(int)
    feeds = ({"frames": _fit(cv2.imread(str(photos[i])), SIZE)[None],
              **indexes[k % len(indexes)]} for k, i in enumerate(sorted(set(pick.tolist()))))
    out = calibrate(fp32, feeds, ranges_file(a.decoder))
    print(f"wrote {out} ({len(pick)} photos x {len(indexes)} paintings, round robin)")


if __name__ == "__main__":
    main()
