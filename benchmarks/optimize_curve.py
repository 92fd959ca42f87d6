"""Gram and content ratio against seconds for `rtstyle optimize` settings (the curve).

    python benchmarks/optimize_curve.py --painting paintings/udnie.jpg \\
        --photos china.jpg flower.jpg ... --config default: \\
        --config wolfe:line_search=strong_wolfe --every 10 --json out.json

Each --config is NAME:KEY=VALUE,... over rtstyle.optimize.Settings (empty: the defaults).
Every `--every` evaluations the image is copied with the wall time so far; the copies are
measured afterwards (rtstyle.train.strength at the result's own size, the photo and the
painting brought to it; --measure-side 512 measures as for the nets at 512 px), so the
measuring does not count in the seconds. Configs run interleaved per photo. Each --net
(a style name) is run and measured the same way at the first config's size, for the
side-by-side.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch

from rtstyle.bench.machine import describe_machine
from rtstyle.images import read_image
from rtstyle.optimize import Settings, optimise
from rtstyle.train.strength import StrengthMeter, fit_longer, summarise


def parse_config(text: str) -> tuple[str, Settings]:
    name, _, rest = text.partition(":")
    types = {f.name: type(getattr(Settings(), f.name)) for f in fields(Settings)}
    given = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        given[key] = tuple(value.split("+")) if types[key] is tuple else types[key](value)
    return name, replace(Settings(), **given)


def curve(photo: np.ndarray, painting: np.ndarray, s: Settings, every: int) -> list:
    """[(evaluations, seconds, image)] every `every` evaluations and at the end."""
    shots, keep = [], {}
    t0 = time.perf_counter()

    def progress(i: int, loss: float) -> None:
        if i % every == 0 or i == s.steps:
            shots.append((i, time.perf_counter() - t0, keep["image"].copy()))
    optimise(photo, painting, s, progress, keep)
    return shots


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--painting", type=Path, required=True)
    p.add_argument("--photos", type=Path, nargs="+", required=True)
    p.add_argument("--config", action="append", required=True)
    p.add_argument("--every", type=int, default=10)
    p.add_argument("--measure-side", type=int, default=None,
                   help="measure at this side (default: each config's --size)")
    p.add_argument("--net", action="append", default=[], help="a style to measure beside")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path)
    p.add_argument("--save", type=Path, help="folder for the final images")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    painting = read_image(a.painting)
    configs = [parse_config(c) for c in a.config]
    meters: dict[int, StrengthMeter] = {}

    def meter(side: int) -> StrengthMeter:
        return meters.setdefault(side, StrengthMeter(painting, side=side))
    raw: dict[str, list] = {name: [] for name, _ in configs}
    for path in a.photos:
        photo = read_image(path)
        for name, s in configs:
            shots = curve(photo, painting, s, a.every)
            side = a.measure_side or s.size
            ref = fit_longer(photo, side)
            raw[name].append([(i, t, meter(side).measure(ref, img)) for i, t, img in shots])
            i, t, m = raw[name][-1][-1]
            print(f"{path.name:18} {name:14} {i:4d} ev {t:7.1f} s  gram {m.gram_ratio:.3f}"
                  f"  content {m.content_ratio:.3f}", flush=True)
            if a.save:
                import cv2
                a.save.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(a.save / f"{path.stem}-{name}.jpg"), shots[-1][2])
    nets = {}
    side = a.measure_side or configs[0][1].size
    for style in a.net:
        from rtstyle.engines import open_engine

        engine = open_engine(style, "onnxruntime", a.threads)
        rows = []
        for path in a.photos:
            ref = fit_longer(read_image(path), side)
            t0 = time.perf_counter()
            img = engine.run(fit_longer(ref, configs[0][1].size)[None])[0]
            rows.append((time.perf_counter() - t0, meter(side).measure(ref, img)))
            if a.save:
                import cv2
                cv2.imwrite(str(a.save / f"{path.stem}-net-{Path(style).stem}.jpg"), img)
        nets[style] = {"seconds": float(np.mean([t for t, _ in rows])),
                       **summarise([m for _, m in rows]),
                       "per_photo": [[round(m.gram_ratio, 4), round(m.content_ratio, 4)]
                                     for _, m in rows]}
        print(f"net {style}: {nets[style]}")
    out = {"machine": describe_machine(a.threads), "painting": a.painting.name,
           "photos": [q.name for q in a.photos], "measure_side": a.measure_side or "each size",
           "nets": nets, "configs": {}}
    for name, s in configs:
        points = []
        for k in range(min(len(r) for r in raw[name])):
            rows = [r[k] for r in raw[name]]
            points.append({"evaluations": rows[0][0], "per_photo": [
                               [round(m.gram_ratio, 4), round(m.content_ratio, 4)]
                               for _, _, m in rows],
                           "seconds": float(np.mean([t for _, t, _ in rows])),
                           **summarise([m for _, _, m in rows])})
        out["configs"][name] = {"settings": {f.name: getattr(s, f.name) for f in fields(s)},
                                "curve": points}
        last = points[-1]
        print(f"{name:14} {last['seconds']:7.1f} s gram mean {last['gram_mean']:.3f} worst "
              f"{last['gram_worst']:.3f} content mean {last['content_mean']:.3f} worst "
              f"{last['content_worst']:.3f}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
