"""`rtstyle batch`: stylise many videos, and long ones in parallel segments, on Ray."""

from __future__ import annotations

import argparse
from pathlib import Path

from rtstyle.commands._options import add_frame_options, add_style_options, style_spec, swap_budget


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch", help="stylise a video archive on a Ray cluster (needs rtstyle[cluster])",
        description="Stylise video files on Ray: each worker loads the engine once; long "
                    "videos are cut at keyframes into segments stylised in parallel and "
                    "joined without re-encoding, with the audio copied from the source. "
                    "Each INPUT is written as OUTDIR/<name>.mp4, only when complete.")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="video files")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR",
                   help="output folder (created if missing)")
    p.add_argument("--cluster", default="auto", metavar="auto|ADDRESS",
                   help="auto: start a local Ray on this machine (default); ADDRESS: join a "
                        "running cluster (HEAD:6379 on a node, or ray://HEAD:10001)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="engine workers (default: one per GPU, else one per "
                        "--cpus-per-worker CPUs of the cluster)")
    p.add_argument("--cpus-per-worker", type=float, default=1, metavar="N",
                   help="CPUs each worker reserves (also its engine threads; default 1)")
    p.add_argument("--gpus-per-worker", type=float, default=None, metavar="N",
                   help="GPUs each worker reserves (default: 1 if the cluster has GPUs, "
                        "else 0; 0.5 puts two workers on a GPU)")
    p.add_argument("--segment-seconds", type=float, default=30.0, metavar="S",
                   help="cut videos into segments of at least S seconds, at keyframes "
                        "(default 30; 0 keeps each video whole)")
    p.add_argument("--retries", type=int, default=2,
                   help="times a segment lost with a dead worker is run again (default 2)")
    add_frame_options(p, "reduce flicker along the optical flow (restarts at each segment "
                         "boundary; see docs/cluster.md)")
    add_style_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from rtstyle.cluster import require_ray, run_batch
    from rtstyle.engines import registry
    from rtstyle.engines.adjust import check_strength
    from rtstyle.errors import RtstyleError
    from rtstyle.limits import MAX_BATCH, check_positive, check_threads, parse_size

    require_ray()  # before any other check: without Ray nothing here can run
    # Every flag is checked here, before Ray starts: the workers would only fail later,
    # each with the backend's own multi-line error.
    check_strength(args.strength)
    check_threads(args.threads)
    if args.backend != "auto":
        registry.get(args.backend)
    check_positive(args.segment_seconds, "--segment-seconds", zero=True)
    check_positive(args.cpus_per_worker, "--cpus-per-worker", zero=True)
    check_positive(args.gpus_per_worker, "--gpus-per-worker", zero=True)
    if args.max_size is not None and args.max_size < 16:
        raise RtstyleError(f"--max-size {args.max_size} is too small; use at least 16")
    if not 0 <= args.crf <= 51:
        raise RtstyleError(f"--crf {args.crf} is out of range; use 0 (lossless) .. 51 (worst)")
    if not 1 <= args.batch <= MAX_BATCH:
        raise RtstyleError(f"--batch {args.batch} is out of range; use 1 .. {MAX_BATCH}")
    if args.workers is not None and args.workers < 1:
        raise RtstyleError(f"--workers {args.workers} must be at least 1")
    options = {"max_size": args.max_size, "crf": args.crf, "strength": args.strength,
               "keep_colors": args.preserve_colors, "stabilize": args.stabilize,
               "batch": args.batch,
               "size": tuple(parse_size(args.size, "--size")) if args.size else None}
    summary = run_batch(
        args.inputs, args.output, style=style_spec(args), cluster=args.cluster,
        backend=args.backend, threads=args.threads, swap=swap_budget(args),
        workers=args.workers, cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker, segment_seconds=args.segment_seconds,
        retries=args.retries, options=options)
    for line in summary.lines():
        print(line)
    if summary.failed:
        print(f"rtstyle: {len(summary.failed)} of {len(summary.jobs)} videos failed",
              file=sys.stderr)
        return 2
    return 0
