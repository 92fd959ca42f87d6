"""`rtstyle optimize`: optimise one photo against a painting (Gatys; style-swap's loss).

A maker command: it needs torch, imported in `run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    # Defaults (None) come from rtstyle.optimize.Settings, read in `run`: the parser
    # stays free of torch.
    p = sub.add_parser(
        "optimize", help="stylise one photo by optimising its pixels (slow, the reference)",
        description="Optimise the image itself against content, Gram style and TV losses "
                    "on the shipped VGG19 slice (Gatys et al. 2016), or against style-swap's "
                    "loss (--loss swap, Chen & Schmidt 2016).")
    p.add_argument("photo", type=Path, metavar="PHOTO")
    p.add_argument("-o", "--output", type=Path, required=True, help="output image")
    p.add_argument("--style-image", type=Path, required=True, metavar="PAINTING")
    p.add_argument("--loss", choices=("gram", "swap"), default=None,
                   help="gram (Gatys, default) or swap (the style-swap loss)")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), default=None,
                   help="lbfgs (default) or adam")
    p.add_argument("--init", choices=("content", "noise"), default=None,
                   help="start from the photo (default) or noise")
    p.add_argument("--size", type=int, default=None, help="longer side, px (default 384)")
    p.add_argument("--style-size", type=int, default=None,
                   help="longer side of the painting as the loss sees it (default: --size)")
    p.add_argument("--steps", type=int, default=None,
                   help="loss evaluations in all (default 100)")
    p.add_argument("--coarse", type=float, default=None,
                   help="run the first --coarse-steps at this fraction of --size, 4x cheaper "
                        "at 0.5 (default 0.5; 0: none)")
    p.add_argument("--coarse-steps", type=int, default=None, help="(default 40)")
    p.add_argument("--line-search", choices=("none", "strong_wolfe"), default=None,
                   help="L-BFGS's line search (default none: a fixed step wastes no "
                        "evaluations; docs/optimize.md)")
    p.add_argument("--content-weight", type=float, default=None)
    p.add_argument("--style-weight", type=float, default=None)
    p.add_argument("--tv-weight", type=float, default=None)
    p.add_argument("--lr", type=float, default=None, help="Adam's step, in 0..255 pixel units")
    p.add_argument("--preserve-colors", action="store_true", help="keep the photo's colours")
    p.add_argument("--save-partial", action="store_true",
                   help="on Ctrl-C, write the image as far as it got")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict, fields, replace

    from rtstyle.errors import require_extra

    require_extra("torch", "train", "rtstyle optimize")
    import cv2
    import torch
    from tqdm import tqdm

    from rtstyle.engines.adjust import preserve_colors
    from rtstyle.files import check_writable
    from rtstyle.images import check_image_output, read_image, write_image
    from rtstyle.limits import MAX_SIDE, MIN_SIDE, check_count, check_positive, check_threads
    from rtstyle.optimize import Settings, optimise

    SETTINGS = {f.name for f in fields(Settings)}

    given = {k: v for k, v in vars(args).items() if v is not None and k in SETTINGS}
    args = argparse.Namespace(**{**vars(args), **asdict(replace(Settings(), **given))})
    check_count(args.size, "--size", MAX_SIDE, MIN_SIDE)
    if args.style_size:
        check_count(args.style_size, "--style-size", MAX_SIDE, MIN_SIDE)
    check_count(args.steps, "--steps", 100_000)
    check_positive(args.coarse, "--coarse", 0.99, zero=True)
    check_count(args.coarse_steps, "--coarse-steps", 100_000)
    for what in ("content_weight", "style_weight", "tv_weight"):
        check_positive(getattr(args, what), "--" + what.replace("_", "-"), zero=True)
    check_positive(args.lr, "--lr", 255.0)
    check_threads(args.threads)
    check_writable(args.output)
    check_image_output(args.output)
    photo, painting = read_image(args.photo), read_image(args.style_image)
    if args.threads:
        torch.set_num_threads(args.threads)
    s = Settings(**{k: getattr(args, k) for k in SETTINGS})
    print(f"optimising with {s.optimizer}: {s.layers()}")
    keep: dict = {}
    bar = tqdm(total=s.steps, unit="step", dynamic_ncols=True)

    def progress(step: int, loss: float) -> None:
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        bar.update(1)

    def finish(img):
        if args.preserve_colors:
            small = cv2.resize(photo, img.shape[1::-1], interpolation=cv2.INTER_AREA)
            img = preserve_colors(small, img)
        write_image(args.output, img)

    try:
        out = optimise(photo, painting, s, progress, keep)
    except KeyboardInterrupt:
        bar.close()
        if not (args.save_partial and "image" in keep):
            raise
        finish(keep["image"])
        print(f"interrupted after {bar.n} steps; the partial result is in {args.output}")
        return 130
    bar.close()
    finish(out)
    print(f"{args.photo} -> {args.output} ({out.shape[1]}x{out.shape[0]}, {s.steps} steps)")
    return 0
