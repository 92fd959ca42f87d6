"""`rtstyle upscale`: super-resolution of images and videos with the built-in sr net."""

from __future__ import annotations

import argparse
from pathlib import Path

# The upscaler trained by rtstyle (docs/upscale.md), package data beside the styles.
BUILTIN = Path(__file__).resolve().parents[1] / "builtin" / "upscale-x4.safetensors"
SCALES = (4,)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "upscale", help="upscale an image or video x4 with the built-in super-resolution net",
        description="Upscale an image or a video (audio and frame count kept) with a net "
                    "trained with a VGG feature loss (Johnson et al. 2016).")
    p.add_argument("input", type=Path, metavar="INPUT", help="image or video file")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file")
    p.add_argument("--scale", type=int, default=4, help="4 (the built-in net's)")
    p.add_argument("--model", type=Path, default=BUILTIN,
                   help="an sr model file (.safetensors, or its .onnx or TensorRT .engine export)")
    p.add_argument("--backend", default="auto", help="auto, onnxruntime, openvino, torch, ...")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the engine")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "int8", "fp16"],
                   help="as for `rtstyle image` (openvino's precision policy)")
    p.add_argument("--crf", type=int, default=18, help="video quality, 0..51 (default 18)")
    # The default is `rtstyle video`'s (video/encode.py DEFAULT_PRESET, superfast: files
    # within 2 % of veryfast at 62 % of its encoding time), which matters at 1280x960.
    p.add_argument("--preset", default=None, metavar="NAME",
                   help="x264 preset for videos (default superfast, as rtstyle video)")
    p.add_argument("--batch", type=int, default=2, help="video frames per inference call")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rtstyle.engines import open_engine
    from rtstyle.errors import RtstyleError
    from rtstyle.files import check_writable
    from rtstyle.images import IMAGE_SUFFIXES, check_image_output, read_image, write_image
    from rtstyle.limits import check_batch, check_size, check_threads
    from rtstyle.styles.catalogue import find_style

    if args.scale not in SCALES:
        raise RtstyleError(f"--scale {args.scale} is not offered; the built-in net upscales "
                           f"x{SCALES[0]} (use --scale 4)")
    check_threads(args.threads)
    check_batch(args.batch)
    if args.input.resolve() == args.output.resolve():
        raise RtstyleError(f"output {args.output} would overwrite its input; choose another name")
    check_writable(args.output)
    style = find_style(str(args.model))
    if style.meta.get("arch") != "sr" or style.meta["options"].get("scale") != args.scale:
        raise RtstyleError(f"{args.model} is not an x{args.scale} upscaler (its arch is "
                           f"{str(style.meta.get('arch'))[:20]!r}); give an sr model file")
    if args.input.suffix.lower() in IMAGE_SUFFIXES:
        check_image_output(args.output)
        img = read_image(args.input)
        check_size(img.shape[1] * args.scale, img.shape[0] * args.scale, "the upscaled image")
        engine = open_engine(style, args.backend, args.threads, precision=args.precision)
        write_image(args.output, engine.run(img[None])[0])
        h, w = img.shape[:2]
        print(f"{args.input} ({w}x{h}) -> {args.output} ({w * args.scale}x{h * args.scale}, "
              f"{engine.backend})")
        return 0
    return _video(args, style)


def _video(args: argparse.Namespace, style) -> int:
    """A video through `rtstyle video`'s pipeline: audio, timing and frame count kept."""
    from rtstyle.engines import open_engine
    from rtstyle.limits import check_size
    from rtstyle.video.encode import DEFAULT_PRESET, check_preset, container_of
    from rtstyle.video.probe import probe_video
    from rtstyle.video.stylise import stylise_video

    container_of(args.output)
    preset = check_preset(args.preset or DEFAULT_PRESET)
    info = probe_video(args.input)
    check_size(info.width * args.scale, info.height * args.scale, "the upscaled video")
    engine = open_engine(style, args.backend, args.threads, precision=args.precision)
    result = stylise_video(engine, args.input, args.output, crf=args.crf, batch=args.batch,
                           info=info, preset=preset, out_scale=args.scale)
    print(f"{result.summary()} ({engine.backend})")
    return 0
