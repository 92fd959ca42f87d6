"""Render the contact sheet docs/styles/grid.jpg: one row per built-in painting.

    .venv/bin/python docs/styles/make_grid.py [--photos P1 P2 P3] [-o docs/styles/grid.jpg]

Each row shows the painting, then each photo stylised by the full net and by the -lite
net of that painting (a grey cell where one is not shipped yet). The photos default to
three of ../shared/assets/photos and reference/, none of which is a training photo; they
are stylised at 512 px on the longer side (the strength measure's size), on ONNX Runtime,
as users run them. Paintings come from the assets' paintings/ folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from rtstyle.bench.inputs import default_assets
from rtstyle.engines import open_engine
from rtstyle.images import read_image, write_image
from rtstyle.styles.catalogue import BUILTIN_DIR
from rtstyle.train.strength import fit_longer

HERE = Path(__file__).resolve().parent
PAINTINGS = json.loads((HERE / "paintings.json").read_text())
CELL = 180  # px, width of each cell
LABEL_H = 20


def _label(text: str, width: int) -> np.ndarray:
    bar = np.full((LABEL_H, width, 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def _blank(height: int) -> np.ndarray:
    return np.full((height + LABEL_H, CELL, 3), 255, np.uint8)


def _cell(img: np.ndarray | None, height: int, text: str) -> np.ndarray:
    if img is None:
        body = np.full((height, CELL, 3), 200, np.uint8)
        cv2.putText(body, "not shipped yet", (20, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (90, 90, 90), 1, cv2.LINE_AA)
    else:
        h, w = img.shape[:2]
        k = min(CELL / w, height / h)
        small = cv2.resize(img, (max(1, round(w * k)), max(1, round(h * k))),
                           interpolation=cv2.INTER_AREA)
        body = np.full((height, CELL, 3), 255, np.uint8)
        y, x = (height - small.shape[0]) // 2, (CELL - small.shape[1]) // 2
        body[y:y + small.shape[0], x:x + small.shape[1]] = small
    return np.vstack([_label(text, CELL), body])


def main() -> None:
    assets = default_assets()
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=Path, nargs="+",
                   default=[assets / "photos" / "tubingen.jpg", assets / "photos" / "bike.jpg",
                            assets / "reference" / "stata.jpg"])
    p.add_argument("-o", "--output", type=Path, default=HERE / "grid.jpg")
    args = p.parse_args()
    photos = [fit_longer(read_image(f)) for f in args.photos]
    height = round(CELL * max(ph.shape[0] / ph.shape[1] for ph in photos))
    header = [_blank(height)] + [c for ph, f in zip(photos, args.photos, strict=True)
                                 for c in (_cell(ph, height, f.stem), _blank(height))]
    rows = [np.hstack(header)]
    for base, info in PAINTINGS.items():
        cells = [_cell(read_image(assets / "paintings" / info["file"]), height,
                       f"{info['artist'].split()[-1]}, {info['year']}")]
        engines = {}
        for name in (base, f"{base}-lite"):
            model = BUILTIN_DIR / f"{name}.safetensors"
            engines[name] = open_engine(model, "onnxruntime") if model.exists() else None
        for ph in photos:
            for name, eng in engines.items():
                cells.append(_cell(eng.run(ph[None])[0] if eng else None, height, name))
        rows.append(np.hstack(cells))
    write_image(args.output, np.vstack(rows))
    print(f"wrote {args.output} ({args.output.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
