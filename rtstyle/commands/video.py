"""`rtstyle video`: stylise video files, keeping their audio and timing."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from rtstyle.commands._options import (
    add_frame_options,
    add_region_option,
    add_style_options,
    style_spec,
    swap_budget,
)

# Inputs taken from a folder (by extension); outputs there are written as <stem>.mp4.
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv",
                  ".flv", ".ts", ".mts", ".3gp", ".ogv"}


def parse_time(text: str) -> float:
    """Seconds, or [HH:]MM:SS[.frac]."""
    try:
        value = 0.0
        for part in text.split(":"):
            value = value * 60 + float(part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a time; use seconds or "
                                         "[HH:]MM:SS") from None
    if value < 0 or len(text.split(":")) > 3:
        raise argparse.ArgumentTypeError(f"'{text}' is not a time; use seconds or [HH:]MM:SS")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "video", help="stylise a video file (or a folder of them), keeping the audio",
        description="Stylise a video. Audio, frame count and timing are kept; the output "
                    "appears only when complete. A folder INPUT writes OUTPUT/<name>.mp4.")
    p.add_argument("input", type=Path, metavar="INPUT", help="video file or folder")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output file (.mp4 H.264 by default; .mkv, .mov, .avi, .webm "
                        "follow the extension), or a folder")
    add_frame_options(p, "reduce flicker by blending with the previous frame along the "
                         "optical flow")
    p.add_argument("--start", type=parse_time, default=None, metavar="T",
                   help="start time (seconds or [HH:]MM:SS)")
    p.add_argument("--end", type=parse_time, default=None, metavar="T", help="end time")
    p.add_argument("--preset", default=None, metavar="NAME",
                   help="x264 speed/size trade: ultrafast, superfast (default), veryfast, "
                        "faster, fast, medium, slow, slower, veryslow; slower presets give "
                        "smaller files at the same --crf (docs/video.md)")
    p.add_argument("--encoder", default="libx264", choices=("libx264", "nvenc", "auto"),
                   help="H.264 encoder: libx264 (CPU, default), nvenc (NVIDIA GPU's "
                        "h264_nvenc) or auto (nvenc where it opens, else libx264)")
    add_style_options(p)
    add_region_option(p)
    p.set_defaults(run=run)


def _jobs(src: Path, dst: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one file, or every video in a folder into an output folder."""
    from rtstyle.errors import RtstyleError

    if not src.exists():
        raise RtstyleError(f"input {src} does not exist")
    if not src.is_dir():
        if dst.is_dir():
            dst = dst / f"{src.stem}.mp4"
        if dst.exists() and dst.resolve() == src.resolve():
            raise RtstyleError(f"output {dst} is the input; choose another output name")
        return [(src, dst)]
    videos = sorted(p for p in src.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES
                    and p.is_file() and not p.name.startswith("."))
    if not videos:
        raise RtstyleError(f"folder {src} holds no video files ("
                           + ", ".join(sorted(VIDEO_SUFFIXES)) + ")")
    if dst.exists() and not dst.is_dir():
        raise RtstyleError(f"{dst} is a file; a folder INPUT needs an output folder")
    if dst.resolve() == src.resolve():
        raise RtstyleError(f"output folder {dst} is the input folder; choose another")
    names = [f"{p.stem}.mp4" for p in videos]
    if len(set(names)) < len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise RtstyleError(f"two inputs in {src} would both be written as {dup}; rename one")
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RtstyleError(f"cannot create output folder {dst} ({e.strerror})") from e
    return [(p, dst / n) for p, n in zip(videos, names, strict=True)]


def _stylise(engine: object, src: Path, dst: Path, **kw: object) -> object:
    """stylise_video, or for a .gif output: stylise to a near-lossless MP4 in a temporary
    folder, then re-encode it as a palette-optimised GIF (video/gif.py)."""
    import dataclasses
    import tempfile

    from rtstyle.video.gif import is_gif, video_to_gif
    from rtstyle.video.stylise import stylise_video

    if not is_gif(dst):
        return stylise_video(engine, src, dst, **kw)
    with tempfile.TemporaryDirectory(prefix="rtstyle-gif-") as tmp:
        result = stylise_video(engine, src, Path(tmp) / "clip.mp4", **{**kw, "crf": 12})
        video_to_gif(Path(tmp) / "clip.mp4", dst)
    return dataclasses.replace(result, dst=dst)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from rtstyle.engines import open_engine
    from rtstyle.engines.adjust import check_strength
    from rtstyle.errors import RtstyleError
    from rtstyle.files import check_writable
    from rtstyle.limits import check_batch, check_threads, parse_size
    from rtstyle.region import with_region
    from rtstyle.video.encode import DEFAULT_PRESET, check_preset, container_of
    from rtstyle.video.gif import is_gif
    from rtstyle.video.probe import probe_video
    from rtstyle.video.stylise import VideoInterrupted

    # `kill` (SIGTERM) stops like Ctrl-C: the unfinished file is removed, exit 130.
    signal.signal(signal.SIGTERM, _interrupt)
    check_strength(args.strength)
    check_threads(args.threads)
    check_batch(args.batch)
    size = parse_size(args.size, "--size") if args.size else None
    if args.max_size is not None and args.max_size < 16:
        raise RtstyleError(f"--max-size {args.max_size} is too small; use at least 16")
    preset = check_preset(args.preset or DEFAULT_PRESET)
    jobs = _jobs(args.input, args.output)
    for _, dst in jobs:  # output problems fail before the model loads
        if not is_gif(dst):
            container_of(dst)
        check_writable(dst)
    # One input: read it first too, so a bad file fails in a moment, not after loading.
    info = probe_video(jobs[0][0], args.start, args.end) if len(jobs) == 1 else None
    engine = open_engine(style_spec(args), args.backend, args.threads, swap_budget(args),
                         precision=args.precision, mix=args.mix)
    engine = with_region(engine, args.region, args.threads)
    failed = 0
    for src, dst in jobs:
        try:
            result = _stylise(
                engine, src, dst, max_size=args.max_size, size=size, start=args.start,
                end=args.end, crf=args.crf, strength=args.strength,
                keep_colors=args.preserve_colors, stabilize=args.stabilize, batch=args.batch,
                info=info, preset=preset, encoder=args.encoder)
        except VideoInterrupted as e:
            print(f"rtstyle: {e}", file=sys.stderr)
            # Everything is cleaned up (ffmpeg stopped, no file left). Leave at once: the
            # engines' native thread pools, torn down by a normal interpreter exit this soon
            # after a Ctrl-C, sometimes abort the process ("terminate called ...", exit 134).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        except RtstyleError as e:
            if len(jobs) == 1:
                raise
            print(f"rtstyle: error: {e}", file=sys.stderr)  # go on with the other videos
            failed += 1
            continue
        print(f"{result.summary()} ({engine.name}, {engine.backend})")
    if failed:
        print(f"rtstyle: {failed} of {len(jobs)} videos failed", file=sys.stderr)
        return 2
    return 0
