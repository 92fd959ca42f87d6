"""Strength of `rtstyle train --instant` on paintings no built-in was trained on.

    RTSTYLE_HOME=/tmp/x python benchmarks/instant_strength.py OUT.json [--seeds 1 2 3]
        [--inits average udnie-lite] [--seconds 90] [--steps N] [--threads 2]
    python benchmarks/instant_strength.py OUT.json --measure NAME=PAINTING ...

--measure only measures styles already trained (e.g. by a timed `rtstyle train
--instant` run) against their paintings.

For each procedural painting (benchmarks/make_held_out_paintings.py, by seed) and each
init, it measures the init itself (0 s), then trains an instant net and measures that:
Gram and content ratios (rtstyle.train.strength) on the asset photos tubingen,
golden_gate, bike and the reference stata, none of them in train-photos. Training runs
in-process, so the seconds are training time; time the CLI for the wall-clock figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_held_out_paintings import painting  # noqa: E402

from rtstyle.files import write_bytes_atomic  # noqa: E402
from rtstyle.nets.frames import FrameModel  # noqa: E402
from rtstyle.styles.catalogue import BUILTIN_DIR, find_style  # noqa: E402
from rtstyle.styles.modelfile import load_net  # noqa: E402
from rtstyle.train.instant import average_init, train_instant  # noqa: E402
from rtstyle.train.strength import StrengthMeter, fit_longer, measure_engine  # noqa: E402

ASSETS = Path(os.environ.get("RTSTYLE_ASSETS", "../shared/assets"))
PHOTOS = ["photos/tubingen.jpg", "photos/golden_gate.jpg", "photos/bike.jpg",
          "reference/stata.jpg"]


class NetEngine:
    """The engine interface's `run` over a torch net (frames in, frames out)."""

    def __init__(self, path: Path):
        self.model = FrameModel(load_net(path)[0]).eval()

    @torch.no_grad()
    def run(self, frames):
        return self.model(torch.from_numpy(frames)).numpy()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--inits", nargs="+", default=["average", "udnie-lite"])
    ap.add_argument("--seconds", type=float, default=90.0)
    ap.add_argument("--steps", type=int, default=10**6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lrs", type=float, nargs="+", default=[2e-3])
    ap.add_argument("--measure", nargs="+", default=None, metavar="NAME=PAINTING")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    photos = [fit_longer(cv2.imread(str(ASSETS / p))) for p in PHOTOS]
    if args.measure:
        rows = []
        for item in args.measure:
            name, art = item.split("=", 1)
            meter = StrengthMeter(cv2.imread(art))
            style = find_style(name)
            rows.append({"style": name, "painting": Path(art).name,
                         "steps": style.meta["made_by"]["steps"],
                         "strength": measure_engine(meter, NetEngine(style.path), photos)})
            print(json.dumps(rows[-1]), flush=True)
        write_bytes_atomic(args.out, json.dumps({"photos": PHOTOS, "rows": rows},
                                                indent=1).encode())
        return
    tmp = Path(tempfile.mkdtemp())
    rows = []
    for seed in args.seeds:
        art = tmp / f"procedural_{seed}.png"
        cv2.imwrite(str(art), painting(seed))
        meter = StrengthMeter(cv2.imread(str(art)))
        for init, lr in [(i, lr) for i in args.inits for lr in args.lrs]:
            start = average_init(tmp / "avg.safetensors") if init == "average" \
                else BUILTIN_DIR / f"{init}.safetensors"
            before = measure_engine(meter, NetEngine(start), photos)
            t0 = time.monotonic()
            name = f"instant-{seed}-{init}-{lr:g}"
            result = train_instant(art, ASSETS / "train-photos", name, args.seconds,
                                   bar=False, init=str(start), steps=args.steps, lr=lr)
            seconds = time.monotonic() - t0
            after = measure_engine(meter, NetEngine(find_style(name).path), photos)
            row = {"painting": art.name, "init": init, "lr": lr, "steps": result.steps,
                   "train_s": round(seconds, 1), "init_strength": before, "after": after}
            print(json.dumps(row), flush=True)
            rows.append(row)
    write_bytes_atomic(args.out, json.dumps({
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": os.getloadavg(), "threads": args.threads, "photos": PHOTOS,
        "rows": rows}, indent=1).encode())


if __name__ == "__main__":
    main()
