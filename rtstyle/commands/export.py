"""`rtstyle export`: a style as an ONNX graph (fp32, fp16, int8) or a TensorRT engine."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a style to ONNX (fp32/fp16/int8) or a TensorRT engine",
        description="Export a style for deployment. The file runs directly with "
                    "`rtstyle image|video|webcam --style FILE`.")
    p.add_argument("--style", required=True, help="style name or model file")
    p.add_argument("--format", default="onnx", choices=["onnx", "tensorrt"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"],
                   help="fp16: GPUs (instance norm kept fp32); int8: VNNI CPUs / TensorRT")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--size", metavar="WxH",
                       help="fix the frame size (TensorRT default: 640x480); "
                            "ONNX default: any size")
    shape.add_argument("--dynamic", metavar="MIN:OPT:MAX",
                       help="TensorRT profile over sizes, e.g. 320x240:640x480:1280x720")
    p.add_argument("-o", "--output", default=None,  # str: a trailing '/' must survive
                   help="output file (default: STYLE-PRECISION.onnx / .engine)")
    p.add_argument("--calibrate", type=Path, nargs="+", default=None, metavar="PATH",
                   help="int8: photos, videos or folders like the ones you will stylise "
                        "(default: frames of the built-in demo clip, which need no files)")
    p.add_argument("--calibration-frames", type=int, default=16, metavar="N",
                   help="int8: how many frames to calibrate on (default 16)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os

    from rtstyle.errors import RtstyleError
    from rtstyle.export.quantize import CALIBRATION_SIZE
    from rtstyle.export.tensorrt import parse_profile
    from rtstyle.limits import check_count, parse_size
    from rtstyle.styles.exports import ExportRequest, export_style

    check_count(args.calibration_frames, "--calibration-frames", 10_000)
    if args.output is not None and args.output.endswith(("/", os.sep)):
        raise RtstyleError(f"-o {args.output} names a folder; give a file name, e.g. "
                           f"{args.output}{args.style}.onnx")
    size = parse_size(args.size, "--size").hw if args.size else None
    fallback = (demo_frames(args.calibration_frames, size or CALIBRATION_SIZE)
                if args.precision == "int8" and not args.calibrate else None)
    req = ExportRequest(
        style=args.style, format=args.format, precision=args.precision,
        size=size,
        profile=parse_profile(args.dynamic) if args.dynamic else None,
        output=Path(args.output) if args.output else None, calibrate=args.calibrate,
        calibration_frames=args.calibration_frames, fallback_frames=fallback,
        fallback_source="built-in demo clip")
    out = export_style(req)
    print(f"wrote {out} ({args.format}, {args.precision})")
    return 0


def demo_frames(count: int, size_hw: tuple[int, int]) -> list[np.ndarray]:
    """`count` frames spread over one pan/zoom cycle of the built-in demo clip: int8
    calibration that needs no files (sky, water, foliage, edges; no faces)."""
    from rtstyle.live.sources.demo import FPS, PERIOD_S, DemoClip

    clip = DemoClip((size_hw[1], size_hw[0]))
    return [clip.frame_at(int(t)) for t in np.linspace(0, FPS * PERIOD_S, count, endpoint=False)]
