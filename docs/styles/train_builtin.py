"""Train (or go on training) one built-in style, then ship it into rtstyle/builtin/.

    python docs/styles/train_builtin.py udnie-lite --minutes 12
    python docs/styles/train_builtin.py composition_vii --minutes 30 --threads 2

The recipe is `rtstyle train`'s defaults (docs/styles/README.md says why) with the arch
taken from the name (`-lite` -> lite, else fst). Training runs in WORKDIR/NAME
(default ~/.cache/rtstyle-builtins), checkpointed, so the same command continues where
a killed run stopped and --minutes counts all the training behind the checkpoint. With
no checkpoint it starts from the shipped built-in of that name if there is one (a new
machine goes on from what the repo holds), else from udnie(-lite).

Shipping stores fp16 weights (half the size; loading restores fp32) and adds the
painting's title, artist, year and why it is public domain (docs/styles/paintings.json)
to the model's metadata, where `rtstyle styles list` shows them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from rtstyle.bench.inputs import default_assets
from rtstyle.styles.modelfile import load_net, read_meta, save_model

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = ROOT / "rtstyle" / "builtin"
PAINTINGS = json.loads((Path(__file__).with_name("paintings.json")).read_text())


def painting_of(name: str) -> tuple[str, dict]:
    base = name.removesuffix("-lite")
    if base not in PAINTINGS:
        raise SystemExit(f"{name}: no painting '{base}' in paintings.json; known: "
                         + ", ".join(PAINTINGS))
    return base, PAINTINGS[base]


def train_command(name: str, minutes: float, workdir: Path, threads: int | None,
                  weights: dict[str, float] | None = None, steps: int = 100_000) -> list[str]:
    base, painting = painting_of(name)
    lite = name.endswith("-lite")
    assets = default_assets()
    cmd = [sys.executable, "-m", "rtstyle", "train",
           "--style-image", str(assets / "paintings" / painting["file"]),
           "--data", str(assets / "train-photos"), "-o", name,
           "--arch", "lite" if lite else "fst", "--steps", str(steps),
           "--time-limit", f"{minutes:g}", "--workdir", str(workdir),
           "--licence", licence(painting), "--sample-every", "50", "--checkpoint-every", "10"]
    if threads:
        cmd += ["--threads", str(threads)]
    for term, value in (weights or {}).items():
        cmd += [f"--{term}-weight", f"{value:g}"]
    if (workdir / "checkpoint.safetensors").exists():
        return cmd + ["--resume"]
    shipped = BUILTIN / f"{name}.safetensors"
    start = shipped if shipped.exists() else BUILTIN / ("udnie-lite" if lite else "udnie")
    return cmd + ["--init", str(start.with_suffix(".safetensors"))]


def licence(painting: dict) -> str:
    return ("CC0 (weights trained by rtstyle); the painting is public domain: "
            + painting["public_domain"])


def ship(name: str, model: Path) -> Path:
    """The trained `model` as package data: fp16, with the painting's record."""
    _, painting = painting_of(name)
    net, _ = load_net(model)
    meta = read_meta(model)
    keep = {k: meta[k] for k in ("style", "source", "licence", "made_by") if k in meta}
    keep["made_by"] = {**keep.get("made_by", {}),
                       "stored": "fp16 weights (package data); loading restores fp32"}
    keep["painting"] = painting
    keep["licence"] = licence(painting)
    out = BUILTIN / f"{name}.safetensors"
    save_model(out, net, keep, half=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="built-in name, e.g. composition_vii or composition_vii-lite")
    p.add_argument("--minutes", type=float, default=10,
                   help="training minutes in all (across resumes)")
    p.add_argument("--workdir", type=Path,
                   default=Path.home() / ".cache" / "rtstyle-builtins")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--steps", type=int, default=100_000,
                   help="stop at this many steps in all (a budget that a busy machine does "
                        "not shrink, unlike --minutes)")
    p.add_argument("--content-weight", type=float, default=None,
                   help="override the recipe's content weight (a resumed run may change it: "
                        "raise it where a style loses the photo, content ratio > 0.6)")
    p.add_argument("--style-weight", type=float, default=None,
                   help="override the recipe's style weight")
    p.add_argument("--temporal-weight", type=float, default=None,
                   help="override the recipe's temporal (flicker) weight")
    p.add_argument("--no-ship", action="store_true", help="train only")
    p.add_argument("--ship-only", action="store_true",
                   help="no training: re-ship the shipped model with today's painting record")
    args = p.parse_args()
    workdir = args.workdir / args.name
    if args.ship_only:
        print(f"shipped {ship(args.name, BUILTIN / f'{args.name}.safetensors')}")
        return
    weights = {term: value for term, value in (("content", args.content_weight),
                                               ("style", args.style_weight),
                                               ("temporal", args.temporal_weight))
               if value is not None}
    cmd = train_command(args.name, args.minutes, workdir, args.threads, weights, args.steps)
    print("$", shlex.join(cmd[1:]), flush=True)
    env = {**os.environ, "RTSTYLE_HOME": str(args.workdir / "home")}  # keep the user's catalogue
    rc = subprocess.call(cmd, env=env)
    if rc != 0:
        raise SystemExit(rc)
    if not args.no_ship:
        print(f"shipped {ship(args.name, workdir / f'{args.name}.safetensors')}")


if __name__ == "__main__":
    main()
