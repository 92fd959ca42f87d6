"""`rtstyle webcam`: stylise a camera (or a file, stream or the demo clip) live."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from rtstyle.commands._options import REALTIME_STYLE, add_style_options, swap_budget


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "webcam", help="stylise a camera live, in a window or headless",
        description="Stylise a camera live. A video file or URL can stand in for the camera "
                    "(played at its own frame rate); --demo uses a generated clip. "
                    "Press h in the window for the keys.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--source", default=None,
                     help="camera index (default 0), /dev/videoN, a video file or a URL")
    src.add_argument("--demo", action="store_true",
                     help="run on a built-in generated clip (no camera needed)")
    p.add_argument("--size", default=None, metavar="WxH",
                   help="process frames at this size (cameras are asked for it; "
                        "default: 640x480 for cameras, native for files)")
    p.add_argument("--mirror", action="store_true", help="flip left-right, like a mirror")
    p.add_argument("--record", type=Path, default=None, metavar="OUT.mp4",
                   help="record the stylised video (key r starts/stops more recordings)")
    p.add_argument("--no-display", action="store_true",
                   help="no window (servers, tests): needs --record, --max-frames or "
                        "--stats-json")
    p.add_argument("--max-frames", type=int, default=None, metavar="N",
                   help="stop after N stylised frames")
    p.add_argument("--stats-json", type=Path, default=None, metavar="PATH",
                   help="write frame counts, FPS and latency to this JSON file at the end")
    p.add_argument("--loop", action="store_true", help="restart a file source at its end")
    p.add_argument("--style-dir", type=Path, default=None, metavar="DIR",
                   help="paintings for style-swap; Tab switches to them, n/p cycle")
    p.add_argument("--output-dir", type=Path, default=Path("."), metavar="DIR",
                   help="where screenshots and key-started recordings go (default: .)")
    p.add_argument("--reconnect-timeout", type=float, default=10.0, metavar="S",
                   help="give up on a lost camera or stream after S seconds (default 10)")
    add_style_options(p, default_style=REALTIME_STYLE)
    p.set_defaults(run=run)


def _menu(args: argparse.Namespace):
    """The styles the keys cycle through, starting at the one asked for."""
    from rtstyle.engines import IMAGE_SUFFIXES
    from rtstyle.errors import RtstyleError
    from rtstyle.live.pipeline import StyleMenu
    from rtstyle.styles.catalogue import find_style, list_styles

    nets: list[tuple[str, str | Path]] = [(s.name, s.name) for s in list_styles()
                                          if "error" not in s.meta]
    paintings: list[tuple[str, str | Path]] = []
    if args.style_dir is not None:
        if not args.style_dir.is_dir():
            raise RtstyleError(f"--style-dir {args.style_dir} is not a folder; give a folder "
                               "of painting images")
        paintings = [(p.stem, p) for p in sorted(args.style_dir.iterdir())
                     if p.suffix.lower() in IMAGE_SUFFIXES]
        if not paintings:
            raise RtstyleError(f"--style-dir {args.style_dir} has no images (.jpg, .png, ...)")
    if args.style_image is not None:
        if not args.style_image.is_file():
            raise RtstyleError(f"style image {args.style_image} does not exist")
        paintings = [(args.style_image.stem, args.style_image)] + [
            p for p in paintings if p[1] != args.style_image]
        return StyleMenu(nets, paintings, family="paintings")
    style = find_style(args.style)  # fails early, with a suggestion, on an unknown name
    if style.origin == "file":
        nets.insert(0, (style.name, str(style.path)))
    index = next(i for i, (label, _) in enumerate(nets) if label == style.name)
    return StyleMenu(nets, paintings, family="nets", index=index)


def run(args: argparse.Namespace) -> int:
    import json
    import signal
    import sys

    from rtstyle.engines.adjust import check_strength
    from rtstyle.errors import RtstyleError
    from rtstyle.files import check_writable, write_bytes_atomic
    from rtstyle.limits import parse_size
    from rtstyle.live.sources import open_source

    check_strength(args.strength)
    if args.no_display and not (args.record or args.max_frames or args.stats_json):
        raise RtstyleError("--no-display needs --record OUT.mp4, --max-frames N or "
                           "--stats-json PATH, or nothing would come out")
    if args.max_frames is not None and args.max_frames < 1:
        raise RtstyleError(f"--max-frames {args.max_frames} must be at least 1")
    for path in (args.record, args.stats_json):
        if path is not None:
            check_writable(path)
    if args.record is not None:
        from rtstyle.video.encode import container_of

        container_of(args.record)
    if not args.output_dir.is_dir():
        raise RtstyleError(f"--output-dir {args.output_dir} is not a folder; create it first")
    window = None
    if not args.no_display:
        from rtstyle.sinks.window import check_display

        check_display()
    size = parse_size(args.size, "--size") if args.size else None
    budget = swap_budget(args)

    def log(message: str) -> None:
        print(f"rtstyle: {message}", file=sys.stderr, flush=True)

    from rtstyle.engines import open_engine
    from rtstyle.live.pipeline import Controls, Pipeline

    load = functools.partial(open_engine, backend=args.backend, threads=args.threads,
                             swap=budget, precision=args.precision)

    source = open_source(args.source, size, demo=args.demo)
    try:
        menu = _menu(args)
        if size is None:  # process at the source's own size
            first = source.read()
            if first is None:
                raise RtstyleError(f"{source.description} gave no frames; check it works "
                                   "in another program, or use --demo")
            size = (first.shape[1], first.shape[0])
            if not source.live:
                source.reopen()  # start a file from its first frame again
        label, spec = menu.current()
        log(f"loading {label} on {args.backend} for {size[0]}x{size[1]} from "
            f"{source.description}")
        engine = load(spec)
        engine.warmup(size[1], size[0], runs=1)
    except BaseException:
        source.release()
        raise
    controls = Controls(args.strength, args.preserve_colors, args.mirror)
    # A polite `kill` finishes the recording like Ctrl-C does, instead of cutting it off.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    pipeline = Pipeline(source, menu, engine, load=load, size=size, controls=controls,
                        loop=args.loop,
                        max_frames=args.max_frames, reconnect_timeout=args.reconnect_timeout,
                        record_to=args.record, output_dir=args.output_dir, log=log)
    try:
        if not args.no_display:
            from rtstyle.sinks.window import Window

            window = Window(f"rtstyle - {source.description}")
            log("press h in the window for the keys, q or Esc to quit")
        with pipeline:
            pipeline.run(window)
    except KeyboardInterrupt:
        log("stopped")
    finally:
        if window is not None:
            window.close()
        if not pipeline.capture.is_alive():  # never started, or done: let go of the camera
            source.release()
    stats = pipeline.stats()
    if args.stats_json is not None:
        write_bytes_atomic(args.stats_json, json.dumps(stats, indent=2).encode())
    e2e = stats["fps_end_to_end"] or 0.0
    log(f"{stats['frames_captured']} frames captured, {stats['frames_processed']} "
        f"stylised, {stats['frames_dropped']} dropped; {e2e:.1f} FPS end to end, latency "
        f"p50 {stats['latency_ms_p50'] or 0:.0f} ms")
    if pipeline.error:
        raise RtstyleError(pipeline.error)
    return 0
