"""Compare styles on the photos `rtstyle train` held out, with the loss network it trains on.

    python -m rtstyle.train.evaluate --style-image udnie.jpg --data train-photos \
        --vgg-weights vgg19_features_relu3_4.safetensors udnie udnie-lite ml5-udnie

prints one JSON line per style (and one for the unstylised photos): the mean relative
content, style and TV terms over the held-out photos, whole, shorter side --size px.
The same split as training (--holdout N, evenly spaced over the sorted folder), so no
style is scored on photos it was trained on; or --photos DIR, a folder of other photos.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import nn

from rtstyle.styles.catalogue import find_style
from rtstyle.styles.modelfile import load_net
from rtstyle.train import (
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_STYLE_LAYERS,
    DEFAULT_STYLE_SIZE,
    DEFAULT_WEIGHTS,
)
from rtstyle.train.data import image_files, load_scaled, split_holdout
from rtstyle.train.losses import PerceptualLoss
from rtstyle.train.trainer import TERMS, held_out_losses, read_style_image


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m rtstyle.train.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("styles", nargs="+", help="style names or rtstyle .safetensors files")
    p.add_argument("--style-image", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--holdout", type=int, default=4)
    p.add_argument("--photos", type=Path, default=None,
                   help="score on every photo of this folder instead of the held-out ones")
    p.add_argument("--size", type=int, default=256, help="photos' shorter side (default 256)")
    p.add_argument("--style-size", type=int, default=DEFAULT_STYLE_SIZE)
    p.add_argument("--vgg-weights", default="builtin")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    held = (image_files(args.photos) if args.photos else
            split_holdout(image_files(args.data), args.holdout)[1])
    photos = [load_scaled(f, args.size) for f in held]
    loss = PerceptualLoss(read_style_image(args.style_image, args.style_size), args.vgg_weights,
                          DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS)
    rows: list[tuple[str, nn.Module]] = [("unstylised photo", nn.Identity())]
    rows += [(name, load_net(find_style(name).path)[0]) for name in args.styles]
    print(json.dumps({"photos": [f.name for f in held], "size": args.size,
                      "painting": args.style_image.name}))
    for name, net in rows:
        terms = held_out_losses(net.eval(), loss, photos, DEFAULT_WEIGHTS)
        print(json.dumps({"model": name, **{k: round(terms[k], 4) for k in TERMS}}))


if __name__ == "__main__":
    main()
