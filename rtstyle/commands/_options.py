"""Options shared by the commands that stylise (image, video, webcam), defined once."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rtstyle.errors import RtstyleError

if TYPE_CHECKING:
    from rtstyle.engines.swap import Budget

DEFAULT_STYLE = "udnie"
REALTIME_STYLE = "udnie-lite"  # webcam default: a lite net keeps up with a camera


def add_style_options(p: argparse.ArgumentParser, default_style: str = DEFAULT_STYLE) -> None:
    p.add_argument("--style", default=default_style,
                   help="style name from `rtstyle styles list`, or a .safetensors/.onnx file "
                        f"(default: {default_style}); a+b blends two styles")
    p.add_argument("--mix", type=float, default=0.5,
                   help="with --style a+b: the share of b, 0..1 (default 0.5)")
    p.add_argument("--style-image", type=Path, default=None, metavar="PAINTING",
                   help="style-swap: any painting as the style, no training (overrides --style)")
    p.add_argument("--backend", default="auto",
                   help="auto (fastest available), torch, onnxruntime, onnxruntime-cuda, ...")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the engine")
    p.add_argument("--precision", default="auto",
                   choices=["auto", "fp32", "bf16", "int8", "fp16"],
                   help="auto (default): the fastest precision this CPU/GPU runs natively "
                        "that stays within 35 dB of fp32; or force one (openvino: fp32, "
                        "bf16, int8 for an int8 export; torch-cuda: fp16, fp32)")
    p.add_argument("--strength", type=float, default=1.0,
                   help="blend of stylised over original, 0..1 (default 1)")
    p.add_argument("--preserve-colors", action="store_true",
                   help="keep the original colours, taking only luminance from the style")
    swap = p.add_argument_group("style-swap budget (--style-image; the swap costs "
                                "patches x positions x 2304 multiply-adds)")
    swap.add_argument("--style-size", type=int, default=256, metavar="PX",
                      help="longer side of the painting in px; patches grow with its "
                           "square, strokes shrink with it (default 256)")
    swap.add_argument("--swap-patches", type=int, default=None, metavar="N",
                      help="keep at most N evenly spaced style patches (default: all)")
    swap.add_argument("--swap-precision", choices=["auto", "fp32", "int8", "bf16"],
                      default="auto",
                      help="auto (default): int8 encoder and decoder convs on onnxruntime "
                           "and openvino, fp32 on torch; bf16: the matching, torch only")


def add_region_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", choices=["person", "background"], default=None,
                   help="stylise only the person or only the background, with soft edges "
                        '(MediaPipe selfie mask on OpenVINO: pip install "rtstyle[region]"; '
                        "the model is fetched from PyPI once)")


def swap_budget(args: argparse.Namespace) -> Budget:
    """The style-swap budget from the command line, checked before any net loads."""
    from rtstyle.engines.swap import Budget

    if args.style_size < 16:
        raise RtstyleError(f"--style-size {args.style_size} is too small; use at least 16 px")
    if args.swap_patches is not None and args.swap_patches < 1:
        raise RtstyleError(f"--swap-patches {args.swap_patches} must be at least 1")
    return Budget(args.style_size, args.swap_patches, args.swap_precision)


def style_spec(args: argparse.Namespace) -> str | Path:
    """What to pass to `open_engine`: the painting for style-swap, else the style name/file."""
    return args.style_image if args.style_image is not None else args.style


def add_frame_options(p: argparse.ArgumentParser, stabilize_help: str) -> None:
    """Output size, quality, stabilisation and batching: shared by `video` and `batch`,
    which both stylise files through rtstyle.video.stylise_video."""
    size = p.add_mutually_exclusive_group()
    size.add_argument("--max-size", type=int, default=None, metavar="N",
                      help="downscale so the longer side is at most N px")
    size.add_argument("--size", default=None, metavar="WxH",
                      help="output size (sides rounded to even, as H.264 needs)")
    p.add_argument("--crf", type=int, default=18,
                   help="quality: 0 lossless .. 51 worst (default 18, visually lossless)")
    p.add_argument("--stabilize", action="store_true", help=stabilize_help)
    p.add_argument("--batch", type=int, default=4, help="frames per inference call (default 4)")
