"""`rtstyle train-swap`: train the style-swap decoder (once, for all styles)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-swap", help="train the style-swap decoder (inverse net), once for all styles",
        description="Train the inverse net that turns style-swapped VGG relu3_1 features "
                    "back into images. One decoder serves every painting.")
    p.add_argument("--photos", type=Path, required=True, help="folder of content photos")
    p.add_argument("--paintings", type=Path, required=True, help="folder of style images")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="decoder file to write (.safetensors, with its training record)")
    p.add_argument("--steps", type=int, default=1000, help="optimiser steps (default 1000)")
    p.add_argument("--size", type=int, default=96, help="crop size in px (default 96)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--tv-weight", type=float, default=0.5,
                   help="weight of the total-variation term (default 0.5)")
    p.add_argument("--pixel-weight", type=float, default=3.0,
                   help="weight of the pixel loss on unswapped samples, pins colours "
                        "(default 3; 0 gives the paper's objective)")
    p.add_argument("--vgg-weights", default="builtin", metavar="builtin|imagenet|PATH",
                   help="encoder: 'builtin' (shipped VGG19 to relu3_1, the one the shipped "
                        "decoder inverts), 'imagenet' (torchvision download) or a local VGG19 "
                        "features state dict")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="checkpoint file (default: OUTPUT with .ckpt)")
    p.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--init", type=Path, default=None, metavar="DECODER",
                   help="start from this decoder's weights, e.g. the shipped one "
                        "(its loss and step counts restart)")
    p.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                   help="stop (and save) after this many minutes of training")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rtstyle.errors import RtstyleError, require_extra

    require_extra("torch", "train", "rtstyle train-swap")
    import torch

    from rtstyle.files import check_writable
    from rtstyle.swap.train import TrainConfig, train

    if args.steps < 1 or args.checkpoint_every < 1:
        raise RtstyleError("--steps and --checkpoint-every must be at least 1")
    check_writable(args.output)
    if args.threads:
        torch.set_num_threads(args.threads)
    record = train(TrainConfig(
        photos=args.photos, paintings=args.paintings, output=args.output, steps=args.steps,
        size=args.size, lr=args.lr, tv_weight=args.tv_weight,
        pixel_weight=args.pixel_weight, vgg_weights=args.vgg_weights,
        checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
        resume=args.resume, init=args.init, time_limit_min=args.time_limit, seed=args.seed))
    print(f"wrote {args.output} after {record['steps']} steps "
          f"(feature loss {record['final_feature_loss']:.4f})")
    return 0
