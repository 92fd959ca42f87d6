"""`rtstyle bench`: engine speed by model, size and precision, plus pipeline throughput."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from unittest.mock import patch

VGG_ENV = "RTSTYLE_VGG_WEIGHTS"  # read by rtstyle.engines.swap


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", help="benchmark engines, sizes and pipelines on this machine",
        description="Time every available engine on the full, lite and style-swap models at "
                    "several frame sizes, after checking each engine's output against torch "
                    "eager. Prints a table; --json keeps the full record, --plots draws PNGs. "
                    "Defaults finish in a few minutes on a 2-core CPU by skipping cases "
                    "predicted to be slow; --sweep runs them all.")
    p.add_argument("--json", type=Path, default=None, metavar="OUT.json",
                   help="write the full results, machine description included")
    p.add_argument("--plots", type=Path, default=None, metavar="DIR",
                   help="write fps_by_size.png and latency.png here (needs matplotlib)")
    p.add_argument("--models", default="full,lite,swap", metavar="LIST",
                   help="comma-separated: full, lite, swap, sr (the x4 upscaler; sizes are its "
                        "input's) (default: full, lite, swap, all that exist)")
    p.add_argument("--engines", default=None, metavar="LIST",
                   help="comma-separated engine names (default: every one this install has; "
                        "torch always runs as the reference)")
    p.add_argument("--sizes", default="256x256,640x480,1280x720,1920x1080", metavar="LIST",
                   help="comma-separated WIDTHxHEIGHT list (default: "
                        "256x256,640x480,1280x720,1920x1080)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), metavar="N",
                   help="CPU threads for every engine and the peak matmul (default: all CPUs)")
    p.add_argument("--runs", type=int, default=20, metavar="N",
                   help="timed runs per case, at most (default 20)")
    p.add_argument("--min-runs", type=int, default=3, metavar="N",
                   help="timed runs per case, at least (default 3)")
    p.add_argument("--warmup", type=int, default=2, metavar="N",
                   help="untimed runs before timing, the first one checked (default 2)")
    p.add_argument("--max-seconds", type=float, default=5.0, metavar="S",
                   help="stop timing a case after S seconds once --min-runs are done, and "
                        "skip cases predicted to need more, except at --pipeline-size "
                        "and the headline cases, full 640x480 and lite 1280x720 (default 5)")
    p.add_argument("--sweep", action="store_true",
                   help="run every case, even those predicted to exceed --max-seconds")
    p.add_argument("--style", default=None,
                   help="the full net's style (default udnie; random weights if absent); "
                        "a style given here must load")
    p.add_argument("--style-image", type=Path, default=None, metavar="PAINTING",
                   help="style-swap painting (default: udnie.jpg from the assets, if present)")
    p.add_argument("--vgg-weights", default=None, metavar="PATH",
                   help="style-swap encoder weights (default: $RTSTYLE_VGG_WEIGHTS, else the "
                        "shipped VGG19 slice)")
    p.add_argument("--photos", type=Path, default=None, metavar="DIR",
                   help="input photos (default: the assets' photos; random noise without them)")
    p.add_argument("--calibrate", type=Path, default=None, metavar="DIR",
                   help="int8 calibration photos (default: the assets' train-photos, else "
                        "--photos); kept apart from the photos timed and checked")
    p.add_argument("--flicker-video", type=Path, default=None, metavar="VIDEO",
                   help="static-camera video for the flicker figures (default: the assets' "
                        "vtest.avi, if present)")
    p.add_argument("--pipeline-size", default="640x480", metavar="WxH",
                   help="frame size of the pipeline runs; must be one of --sizes "
                        "(default 640x480)")
    p.add_argument("--no-pipelines", action="store_true",
                   help="engines only: skip the webcam and video pipeline runs")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from rtstyle.bench.engines import Settings
    from rtstyle.bench.inputs import default_assets
    from rtstyle.bench.report import matplotlib_missing, plot, text_table
    from rtstyle.bench.suite import BenchConfig, run_bench
    from rtstyle.errors import RtstyleError
    from rtstyle.files import check_writable, write_bytes_atomic
    from rtstyle.limits import check_positive, parse_size
    from rtstyle.styles.catalogue import find_style

    if args.warmup < 1 or args.min_runs < 1 or args.runs < args.min_runs:
        raise RtstyleError("need --warmup >= 1 and 1 <= --min-runs <= --runs")
    if args.threads is None or args.threads < 1:
        raise RtstyleError("--threads must be at least 1")
    check_positive(args.max_seconds, "--max-seconds")
    if args.style is not None:
        find_style(args.style)  # a style the user named must load, not become random weights
    if args.json:
        check_writable(args.json)
    no_plots = matplotlib_missing() if args.plots else None
    if no_plots:
        print(f"rtstyle bench: {no_plots}", file=sys.stderr)
    assets = default_assets()
    painting = args.style_image or assets / "paintings" / "udnie.jpg"
    cfg = BenchConfig(
        threads=args.threads, models=_split(args.models),
        engines=_split(args.engines) if args.engines else None, sizes=_split(args.sizes),
        style=args.style or "udnie",
        painting=painting if painting.exists() or args.style_image else None,
        photos=args.photos or assets / "photos", pipelines=not args.no_pipelines,
        flicker_video=args.flicker_video or assets / "videos" / "vtest.avi",
        pipeline_size=args.pipeline_size,
        calibration=[_calibration(args, assets)],
        settings=Settings(threads=args.threads, warmup=args.warmup, runs=args.runs,
                          min_runs=args.min_runs, max_seconds=args.max_seconds,
                          sweep=args.sweep, keep=frozenset({parse_size(args.pipeline_size).hw})))
    if args.photos and not args.photos.is_dir():
        raise RtstyleError(f"--photos {args.photos} is not a folder of photos")
    # The swap engine runs its shipped graph unless told of other weights; --vgg-weights
    # says so through its documented setting, for this run only (bench may run in-process).
    # (patch.dict puts the environment back as it was, whatever happens inside)
    with patch.dict(os.environ, {VGG_ENV: str(args.vgg_weights)} if args.vgg_weights else {}):
        report = run_bench(cfg, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(text_table(report))
    if args.json:
        import json

        write_bytes_atomic(args.json, (json.dumps(report, indent=1) + "\n").encode())
        print(f"results: {args.json}")
    if args.plots and not no_plots:
        for path in plot(report, args.plots):
            print(f"plot: {path}")
    return 0


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _calibration(args: argparse.Namespace, assets: Path) -> Path:
    if args.calibrate:
        return args.calibrate
    train = assets / "train-photos"
    return train if train.is_dir() else args.photos or assets / "photos"
