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
from rtstyle.errors import RtstyleError
from rtstyle.files import write_bytes_atomic
from rtstyle.images import read_image
from rtstyle.styles.catalogue import find_style
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
    specs = []
    for spec in args.style:  # every name and painting checked before the long run starts
        name, sep, painting = spec.partition("=")
        if not sep or not Path(painting).is_file():
            p.error(f"--style {spec}: give NAME=PAINTING with an existing painting file")
        try:
            find_style(name)
        except RtstyleError as e:
            p.error(f"--style {spec}: {e}")
        specs.append((name, Path(painting)))
    photos = [fit_longer(read_image(f)) for f in args.photos]
    meters: dict[Path, StrengthMeter] = {}
    results = []
    machine = describe_machine(0)
    for name, painting in specs:
        meter = meters.setdefault(painting, StrengthMeter(read_image(painting)))
        row = measure_style(name, painting, photos, args.backend, meter)
        results.append(row)
        print(f"{name:28s} {painting.name:28s} gram {row['gram_mean']:.3f} "
              f"(worst {row['gram_worst']:.3f})  content {row['content_mean']:.3f} "
              f"(worst {row['content_worst']:.3f})", flush=True)
        if args.json:  # after every style: a late failure keeps the rows measured so far
            write_bytes_atomic(args.json, json.dumps({
                "machine": machine, "photos": [f.name for f in args.photos],
                "backend": args.backend, "results": results}, indent=1).encode())


if __name__ == "__main__":
    main()
