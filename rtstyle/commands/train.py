"""`rtstyle train`: train a transform net for one painting (perceptual losses)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rtstyle.nets import ARCHITECTURES, style_arches
from rtstyle.train import (
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_STYLE_LAYERS,
    DEFAULT_STYLE_SIZE,
    DEFAULT_WEIGHTS,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a fast style-transfer net for one painting",
        description="Train a transform net on a folder of photos so that it paints them like "
                    "PAINTING (Johnson et al. 2016). The result is registered as a user style.")
    p.add_argument("--style-image", type=Path, required=True, metavar="PAINTING")
    p.add_argument("--data", type=Path, required=True, metavar="DIR",
                   help="folder of training photos (a few are held out for samples/evaluation)")
    p.add_argument("-o", "--output", required=True, metavar="NAME", help="style name to register")
    p.add_argument("--arch", default="fst", choices=style_arches(),
                   help="; ".join(f"{n}: {ARCHITECTURES[n].help}" for n in style_arches()))
    p.add_argument("--size", type=int, default=256, help="training crop size in px (default 256)")
    p.add_argument("--batch", type=int, default=4, help="crops per step (default 4)")
    p.add_argument("--steps", type=int, default=2000, help="total optimiser steps (default 2000)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate (default per --arch: " + ", ".join(
                       f"{n} {ARCHITECTURES[n].lr:g}" for n in style_arches()) + ")")
    for term, value in DEFAULT_WEIGHTS.items():
        p.add_argument(f"--{term}-weight", type=float, default=value,
                       help=f"weight of the {term} loss term (default {value:g})")
    content = ",".join(DEFAULT_CONTENT_LAYERS)
    p.add_argument("--content-layers", default=content,
                   help=f"comma-separated VGG19 layers (default {content})")
    p.add_argument("--style-layers", default=",".join(DEFAULT_STYLE_LAYERS),
                   help=f"comma-separated VGG19 layers (default {','.join(DEFAULT_STYLE_LAYERS)}; "
                        "with the full VGG19, e.g. relu1_2,relu2_2,relu3_4,relu4_2)")
    p.add_argument("--style-size", type=int, default=DEFAULT_STYLE_SIZE,
                   help="painting's longer side in px for the style targets; larger gives "
                        f"larger brush strokes (default {DEFAULT_STYLE_SIZE})")
    p.add_argument("--vgg-weights", default="builtin", metavar="builtin|imagenet|PATH",
                   help="loss network: 'builtin' (shipped VGG19 to relu3_1, offline; enough for "
                        "the default layers), 'imagenet' (torchvision download) or a local "
                        "VGG19 features state dict (.safetensors or .pth)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="samples, checkpoint and model (default $RTSTYLE_HOME/training/NAME)")
    p.add_argument("--resume", action="store_true", help="continue from the workdir's checkpoint")
    p.add_argument("--sample-every", type=int, default=100, help="steps between sample sheets")
    p.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints")
    p.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                   help="stop after this many minutes of training (in all, across resumes) "
                        "and write the model as it is")
    p.add_argument("--init", default="auto", metavar="auto|none|MODEL",
                   help="start from a trained model of the same --arch: auto (default) picks "
                        "the nearest built-in (the one named after the painting's file, else "
                        f"{', '.join(a.init for a in ARCHITECTURES.values() if a.init)} per "
                        "arch); none trains from "
                        "scratch; or a style name or .safetensors path. Fine-tuning needs far "
                        "fewer steps")
    p.add_argument("--holdout", type=int, default=4, help="photos held out of training (default 4)")
    p.add_argument("--licence", default=None, help="licence recorded in the model file")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--instant", action="store_true",
                   help="a lite net in about two minutes on a CPU: starts from the mean of the "
                        "built-in lite nets and trains 90 s at 160 px (--time-limit and "
                        "--steps shorten it; the other training options are ignored; see "
                        "docs/styles/instant.md)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rtstyle.errors import RtstyleError, require_extra

    require_extra("torch", "train", "rtstyle train")
    import torch

    from rtstyle.files import ensure_dir
    from rtstyle.styles.catalogue import check_catalogue_writable, home
    from rtstyle.train.trainer import TrainConfig, train

    _check_args(args)  # every option, and where the result goes, before any slow work
    check_catalogue_writable(args.output)
    if args.instant:
        return run_instant(args)
    ensure_dir(args.workdir or home() / "training" / args.output, "training folder")
    if not args.style_image.is_file():
        raise RtstyleError(f"--style-image {args.style_image} does not exist; give a painting")
    if args.threads:
        torch.set_num_threads(args.threads)
    init = resolve_init(args.init, args.arch, args.style_image)
    layers = {k: [x.strip() for x in getattr(args, k).split(",") if x.strip()]
              for k in ("content_layers", "style_layers")}
    extra = {"licence": args.licence} if args.licence else {}
    cfg = TrainConfig(
        style_image=args.style_image, data=args.data, name=args.output,
        workdir=args.workdir or home() / "training" / args.output, arch=args.arch,
        size=args.size, batch=args.batch, steps=args.steps,
        lr=args.lr or ARCHITECTURES[args.arch].lr,
        content_weight=args.content_weight, style_weight=args.style_weight,
        tv_weight=args.tv_weight, temporal_weight=args.temporal_weight,
        style_size=args.style_size, vgg_weights=args.vgg_weights,
        holdout=args.holdout, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, resume=args.resume, seed=args.seed,
        time_limit_min=args.time_limit, init=init,
        **layers, **extra)
    result = train(cfg)
    if result.interrupted:
        print(f"stopped at step {result.steps}; checkpoint saved in {cfg.workdir}. "
              "Run the same command with --resume to continue.")
        return 130
    losses = result.record["final_losses"]
    print(f"trained '{cfg.name}' for {result.steps} steps in {result.record['time_s']} s "
          f"(content {losses['content']:.4g}, style {losses['style']:.4g}, tv {losses['tv']:.4g}); "
          f"model {result.model}, registered as user style '{cfg.name}'")
    return 0


MIN_PAINTING_SIDE = 64  # below this a painting has no strokes to learn at 512 px


def check_painting(path: Path) -> None:
    """One line for a missing, corrupt, truncated, huge, tiny or one-colour painting (the
    same checks as style-swap), before any slow work."""
    from rtstyle.engines.swap import load_painting
    from rtstyle.errors import RtstyleError

    img = load_painting(Path(path), 1024)
    if min(img.shape[:2]) < MIN_PAINTING_SIDE:
        raise RtstyleError(f"painting {path} is {img.shape[1]}x{img.shape[0]} px, too small to "
                           f"learn strokes from; use one of at least {MIN_PAINTING_SIDE} px a side")


def run_instant(args: argparse.Namespace) -> int:
    """`--instant`: rtstyle.train.instant, then one result line."""
    import torch

    from rtstyle.train.instant import INSTANT_SECONDS, train_instant

    check_painting(args.style_image)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    seconds = 60 * args.time_limit if args.time_limit else INSTANT_SECONDS
    t0 = time.monotonic()
    result = train_instant(args.style_image, args.data, args.output, seconds, steps=args.steps,
                           **({"lr": args.lr} if args.lr else {}))
    if result.interrupted:
        print(f"stopped at step {result.steps}; no style written. Run it again to train "
              f"'{args.output}' (an instant run does not resume).")
        return 130
    print(f"trained '{args.output}' (instant, lite) for {result.steps} steps in "
          f"{time.monotonic() - t0:.0f} s; registered as user style '{args.output}'")
    return 0


def resolve_init(init: str, arch: str, painting: Path) -> Path | None:
    """The model file training starts from. `auto`: the built-in net of this arch named
    after the painting's file (starry_night.jpg -> starry_night / starry_night-lite), else
    the arch's `init` (nets.ARCHITECTURES); a cheap rule that needs no painting the package
    does not ship."""
    import sys

    from rtstyle.styles.catalogue import BUILTIN_DIR, find_style
    from rtstyle.styles.modelfile import read_meta

    if init == "none":
        return None
    if init != "auto":
        return find_style(init).path
    registered = ARCHITECTURES[arch]
    for name in (painting.stem + registered.suffix, registered.init):
        path = BUILTIN_DIR / f"{name}.safetensors"
        if name and path.is_file() and read_meta(path).get("arch") == arch:
            print(f"rtstyle: starting from built-in '{name}' (--init auto); --init none "
                  "trains from scratch", file=sys.stderr)
            return path
    return None


def _check_args(args: argparse.Namespace) -> None:
    """Bounds on every number and the style name, so nothing fails after training."""
    from rtstyle.limits import (
        MAX_SIDE,
        MAX_TRAIN_SIDE,
        check_batch,
        check_count,
        check_positive,
        check_threads,
    )
    from rtstyle.styles.catalogue import check_name

    check_name(args.output)
    check_threads(args.threads)
    check_count(args.size, "--size", MAX_TRAIN_SIDE, 32)
    check_batch(args.batch)
    check_count(args.steps, "--steps", 10**9)
    check_count(args.style_size, "--style-size", MAX_SIDE, 16)
    check_count(args.sample_every, "--sample-every", 10**9)
    check_count(args.checkpoint_every, "--checkpoint-every", 10**9)
    check_count(args.holdout, "--holdout", 10**6, 0)
    check_positive(args.lr, "--lr", high=10.0)
    check_positive(args.time_limit, "--time-limit")
    for term in DEFAULT_WEIGHTS:
        check_positive(getattr(args, f"{term}_weight"), f"--{term}-weight", zero=True)
