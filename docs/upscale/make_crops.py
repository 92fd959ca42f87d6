"""Draw docs/upscale/crops.png: a photo shrunk x4 (area), then nearest, bicubic, the
built-in net, and the original, on one crop. Run: python docs/upscale/make_crops.py PHOTO"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from rtstyle.commands.upscale import BUILTIN
from rtstyle.engines import open_engine
from rtstyle.styles.catalogue import find_style
from rtstyle.train.upscaler import bicubic, shrink


def main(photo: str, x: int = 180, y: int = 120, side: int = 160) -> None:
    hr, lr = shrink(cv2.imread(photo), 4)
    net = open_engine(find_style(str(BUILTIN)), "onnxruntime", threads=1).run(lr[None])[0]
    near = cv2.resize(lr, hr.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    tiles = []
    for name, img in [("nearest", near), ("bicubic", bicubic(lr, 4)), ("rtstyle x4", net),
                      ("original", hr)]:
        tile = cv2.resize(img[y:y + side, x:x + side], (2 * side, 2 * side),
                          interpolation=cv2.INTER_NEAREST)
        cv2.putText(tile, name, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
        tiles.append(tile)
    out = Path(__file__).with_name("crops.png")
    cv2.imwrite(str(out), np.concatenate(tiles, axis=1))
    print(out)


if __name__ == "__main__":
    main(sys.argv[1])
