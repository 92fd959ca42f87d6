"""Options shared by the commands that stylise (image, video, webcam), defined once."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_STYLE = "udnie"
REALTIME_STYLE = "starry_night-lite"  # webcam default: a lite net keeps up with a camera


def add_style_options(p: argparse.ArgumentParser, default_style: str = DEFAULT_STYLE) -> None:
    p.add_argument("--style", default=default_style,
                   help="style name from `rtstyle styles list`, or a .safetensors/.onnx file "
                        f"(default: {default_style})")
    p.add_argument("--style-image", type=Path, default=None, metavar="PAINTING",
                   help="style-swap: any painting as the style, no training (overrides --style)")
    p.add_argument("--backend", default="auto",
                   help="auto (fastest available), torch, onnxruntime, onnxruntime-cuda, ...")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the engine")
    p.add_argument("--strength", type=float, default=1.0,
                   help="blend of stylised over original, 0..1 (default 1)")
    p.add_argument("--preserve-colors", action="store_true",
                   help="keep the original colours, taking only luminance from the style")


def style_spec(args: argparse.Namespace) -> str | Path:
    """What to pass to `open_engine`: the painting for style-swap, else the style name/file."""
    return args.style_image if args.style_image is not None else args.style
