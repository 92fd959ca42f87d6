"""Gram and content ratios of styles on unseen photos (rtstyle.train.strength).

    python benchmarks/style_strength.py --photos P1.jpg P2.jpg ... \
        --style udnie=paintings/udnie.jpg --style ml5-udnie=paintings/udnie.jpg ... \
        [--backend onnxruntime] [--json out.json]

Each --style is NAME=PAINTING: a style name (built-in, user or model file) and the painting
it should carry. Every photo is stylised at 512 px on its longer side, as the measure
prescribes, and the mean and worst ratios over the photos are printed (lower is better).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rtstyle.bench.machine import describe_machine
from rtstyle.engines import open_engine
from rtstyle.images import read_image
from rtstyle.train.strength import StrengthMeter, fit_longer, summarise


def measure_style(name: str, painting: Path, photos: list[np.ndarray], backend: str,
                  meter: StrengthMeter | None = None) -> dict:
    meter = meter or StrengthMeter(read_image(painting))
    engine = open_engine(name, backend)
    rows = [meter.measure(p, engine.run(p[None])[0]) for p in photos]  # per photo, kept
    return {"style": name, "painting": painting.name, **summarise(rows),
            "per_photo": [[round(r.gram_ratio, 4), round(r.content_ratio, 4)] for r in rows]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=Path, nargs="+", required=True)
    p.add_argument("--style", action="append", required=True, metavar="NAME=PAINTING")
    p.add_argument("--backend", default="onnxruntime")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    photos = [fit_longer(read_image(f)) for f in args.photos]
    meters: dict[Path, StrengthMeter] = {}
    results = []
    for spec in args.style:
        name, painting = spec.split("=", 1)
        painting = Path(painting)
        meter = meters.setdefault(painting, StrengthMeter(read_image(painting)))
        row = measure_style(name, painting, photos, args.backend, meter)
        results.append(row)
        print(f"{name:28s} {painting.name:28s} gram {row['gram_mean']:.3f} "
              f"(worst {row['gram_worst']:.3f})  content {row['content_mean']:.3f} "
              f"(worst {row['content_worst']:.3f})", flush=True)
    if args.json:
        args.json.write_text(json.dumps({
            "machine": describe_machine(0), "photos": [f.name for f in args.photos],
            "backend": args.backend, "results": results}, indent=1))


if __name__ == "__main__":
    main()
