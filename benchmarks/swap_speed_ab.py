"""Style-swap speed of one rtstyle tree, at the default budget (auto backend, auto
precision): median ms per frame after warm-up at 320x240 and 640x480. Only the engine
API, so it runs against older trees too; interleave trees in one run to compare:

    for t in /tmp/before . /tmp/before .; do
        PYTHONPATH=$t python benchmarks/swap_speed_ab.py PHOTO PAINTING [RUNS]; done
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import cv2

import rtstyle
from rtstyle.engines.swap import open_swap_engine


def main() -> None:
    photo, painting = cv2.imread(sys.argv[1]), sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    engine = open_swap_engine(painting, "auto", 2)
    row = {"tree": rtstyle.__file__, "backend": engine.backend}
    for w, h in ((320, 240), (640, 480)):
        frame = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)[None]
        engine.run(frame)
        ms = []
        for _ in range(runs):
            t0 = time.perf_counter()
            engine.run(frame)
            ms.append(1000 * (time.perf_counter() - t0))
        row[f"{w}x{h}"] = {"ms_median": round(statistics.median(ms), 1),
                           "fps": round(1000 / statistics.median(ms), 2)}
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
