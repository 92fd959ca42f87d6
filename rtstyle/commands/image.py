"""`rtstyle image`: stylise still images."""

from __future__ import annotations

import argparse
from pathlib import Path

from rtstyle.commands._options import (
    add_region_option,
    add_style_options,
    style_spec,
    swap_budget,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("image", help="stylise one or more images",
                       description="Stylise images. Several inputs go to an output folder.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output file, or folder when there are several inputs")
    p.add_argument("--max-size", type=int, default=None,
                   help="downscale so the longer side is at most N px")
    add_style_options(p)
    add_region_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rtstyle.engines import open_engine
    from rtstyle.engines.adjust import check_strength, stylise
    from rtstyle.errors import RtstyleError
    from rtstyle.files import check_writable
    from rtstyle.images import (
        check_image_output,
        check_image_size,
        fit_max_size,
        read_image,
        write_image,
    )
    from rtstyle.limits import MAX_SIDE, MIN_SIDE, check_count, check_threads
    from rtstyle.region import with_region

    check_strength(args.strength)
    check_threads(args.threads)
    check_count(args.max_size, "--max-size", MAX_SIDE, MIN_SIDE)
    for path in args.inputs:  # fail before any work on an input that is missing or too big
        check_image_size(path, args.max_size)
    if len(args.inputs) > 1 or args.output.is_dir():
        if args.output.exists() and not args.output.is_dir():
            raise RtstyleError(f"{args.output} is a file; several inputs need an output folder")
        try:
            args.output.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RtstyleError(f"cannot create output folder {args.output} ({e.strerror})") from e
        targets = [args.output / p.name for p in args.inputs]
    else:
        targets = [args.output]
    for src, dst in zip(args.inputs, targets, strict=True):
        if src.resolve() == dst.resolve():
            raise RtstyleError(f"output {dst} would overwrite its input; choose another name")
        check_writable(dst)
        check_image_output(dst)

    engine = open_engine(style_spec(args), args.backend, args.threads, swap_budget(args),
                         precision=args.precision, mix=args.mix)
    engine = with_region(engine, args.region, args.threads)
    for src, dst in zip(args.inputs, targets, strict=True):
        img = fit_max_size(read_image(src, args.max_size), args.max_size)
        write_image(dst, stylise(engine, img[None], args.strength, args.preserve_colors)[0])
        print(f"{src} -> {dst} ({engine.name}, {engine.backend})")
    return 0
