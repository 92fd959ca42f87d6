"""Render docs/styles/grid.png: photos (rows) x built-in styles (columns), labelled.

    .venv/bin/python docs/styles/make_grid.py [--photos DIR] [-o docs/styles/grid.png]

Photos default to ../shared/assets/photos (none of them is a training photo). Each
photo is stylised at 480 px wide, as a webcam frame would be, then shown at CELL px.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from rtstyle.engines import open_engine
from rtstyle.images import read_image, write_image
from rtstyle.styles.catalogue import list_styles

ROOT = Path(__file__).resolve().parents[2]
CELL = 168  # px, width of each cell
RUN_WIDTH = 480


def _label(img: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((22, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, img])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "assets" / "photos")
    p.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("grid.png"))
    args = p.parse_args()
    styles = [s for s in list_styles() if s.origin == "built-in" and s.meta.get("arch")]
    photos = sorted(args.photos.glob("*.jpg"))
    engines = [open_engine(s, "onnxruntime") for s in styles]
    rows = []
    for path in photos:
        img = read_image(path)
        h, w = img.shape[:2]
        img = cv2.resize(img, (RUN_WIDTH, round(h * RUN_WIDTH / w)), interpolation=cv2.INTER_AREA)
        cells = [img] + [e.run(img[None])[0] for e in engines]
        size = (CELL, round(img.shape[0] * CELL / RUN_WIDTH))
        rows.append(np.hstack([cv2.resize(c, size, interpolation=cv2.INTER_AREA) for c in cells]))
    sheet = np.vstack(rows)
    header = np.hstack([_label(np.zeros((0, CELL, 3), np.uint8), name)
                        for name in ["photo"] + [s.name for s in styles]])
    write_image(args.output, np.vstack([header, sheet]))
    print(f"wrote {args.output} ({args.output.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
