"""`rtstyle webcam`: stylise a camera (or a file, stream or the demo clip) live."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rtstyle.commands._options import (
    REALTIME_STYLE,
    add_region_option,
    add_style_options,
    swap_budget,
)


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
    p.add_argument("--stabilize", action="store_true",
                   help="less flicker: carry brush strokes along the motion (optical flow at "
                        "half size, so a lite net stays real time)")
    p.add_argument("--virtual-camera", nargs="?", const="", default=None, metavar="DEVICE",
                   help="also send the stylised video to a virtual camera (v4l2loopback on "
                        "Linux, OBS Virtual Camera on Windows/macOS) for Zoom, Teams, OBS; "
                        "DEVICE e.g. /dev/video10 (default: the first found)")
    p.add_argument("--reconnect-timeout", type=float, default=10.0, metavar="S",
                   help="give up on a lost camera or stream after S seconds (default 10)")
    p.add_argument("--instant", nargs="?", type=float, const=-1.0, default=None,
                   metavar="SECONDS",
                   help="with --style-image: show style-swap at once, train a real-time net "
                        "for the painting in the background (`rtstyle train --instant`, "
                        "SECONDS of training, default 90) and switch to it when ready; the "
                        "key t does the same for the painting on screen")
    add_style_options(p, default_style=REALTIME_STYLE)
    add_region_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rtstyle.engines.adjust import check_strength
    from rtstyle.errors import RtstyleError
    from rtstyle.files import check_writable, write_bytes_atomic
    from rtstyle.limits import check_count, check_threads, parse_size
    from rtstyle.live.controls import Controls
    from rtstyle.live.menu import build_menu
    from rtstyle.live.session import LiveRun, run_live

    check_strength(args.strength)
    check_threads(args.threads)
    if args.no_display and not (args.record or args.max_frames or args.stats_json
                                or args.virtual_camera):
        raise RtstyleError("--no-display needs --record OUT.mp4, --max-frames N, "
                           "--stats-json PATH or --virtual-camera, or nothing would come out")
    check_count(args.max_frames, "--max-frames", 10**9)
    if args.instant is not None and args.style_image is None:
        raise RtstyleError("--instant trains a net for a painting; give it with --style-image")
    if args.instant is not None and not (args.instant == -1.0 or 0 < args.instant <= 3600):
        raise RtstyleError(f"--instant {args.instant:g} is out of range; give seconds of "
                           "training from 1 to 3600, or none for the default")
    for path in (args.record, args.stats_json):
        if path is not None:
            check_writable(path)
    if args.record is not None:
        from rtstyle.video.encode import container_of

        container_of(args.record)
    if not args.output_dir.is_dir():
        raise RtstyleError(f"--output-dir {args.output_dir} is not a folder; create it first")
    if not args.no_display:
        from rtstyle.sinks.window import check_display

        check_display()
    if args.virtual_camera is not None:
        from rtstyle.sinks.virtual_camera import require_backend

        require_backend()  # say what to install before any model loads

    def make_sinks(source, hud):
        from rtstyle.sinks import VirtualCamera, Window

        sinks = []
        if args.virtual_camera is not None:
            sinks.append(VirtualCamera(args.virtual_camera or None))
        if not args.no_display:
            sinks.append(Window(f"rtstyle - {source.description}", hud=hud))
        return sinks

    run = LiveRun(menu=build_menu(args.style, args.style_image, args.style_dir),
                  source=args.source, demo=args.demo,
                  size=parse_size(args.size, "--size") if args.size else None,
                  backend=args.backend, threads=args.threads, swap=swap_budget(args),
                  precision=args.precision, mix=args.mix, region=args.region,
                  controls=Controls(args.strength, args.preserve_colors, args.mirror),
                  loop=args.loop, max_frames=args.max_frames,
                  reconnect_timeout=args.reconnect_timeout, record_to=args.record,
                  output_dir=args.output_dir, stabilize=args.stabilize, make_sinks=make_sinks,
                  instant=_instant_options(args.instant))
    stats = run_live(run)
    if args.stats_json is not None:
        write_bytes_atomic(args.stats_json, json.dumps(stats, indent=2).encode())
    if stats["error"]:
        raise RtstyleError(stats["error"])
    return 0


def _instant_options(seconds: float | None) -> dict:
    """live.instant.Handover's options: the budget, and whether to start at once."""
    budget = {} if seconds in (None, -1.0) else {"seconds": seconds}
    return {**budget, "start": seconds is not None}
