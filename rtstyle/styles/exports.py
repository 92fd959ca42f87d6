"""A style as deployable graphs: the cached ONNX graph the engines run, and `rtstyle
export` as a library call (a style in, an ONNX or TensorRT file out).

The conversions themselves live in `rtstyle.export`, which knows nothing of styles.
Every route starts from the style's fp32 ONNX graph (built from the weights by
rtstyle.graphs, without torch, or the style's own graph when it is an ONNX file) and
derives the precision from it: fp16 by type conversion, int8 by calibrated static
quantisation. TensorRT engines are built from that ONNX and carry it, so they can
rebuild themselves on another GPU.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import onnx

from rtstyle import __version__
from rtstyle.errors import RtstyleError
from rtstyle.export.onnx import IO_CONVENTION, get_metadata, load_checked, set_metadata
from rtstyle.export.tensorrt import ENGINE_SUFFIX, Profile
from rtstyle.files import atomic_output, check_writable
from rtstyle.graphs import net_graph
from rtstyle.limits import MIN_SIDE
from rtstyle.styles.catalogue import Style, cache_dir, find_style
from rtstyle.styles.modelfile import load_weights

if TYPE_CHECKING:
    import numpy as np

FORMATS = ("onnx", "tensorrt")
PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_TRT_SIZE = (480, 640)


@dataclass
class ExportRequest:
    style: str
    format: str = "onnx"
    precision: str = "fp32"
    size: tuple[int, int] | None = None  # (h, w): fixed shape
    profile: Profile | None = None  # TensorRT MIN:OPT:MAX (ONNX: recorded as a hint)
    output: Path | None = None
    calibrate: list[Path] | None = None  # int8 calibration photos / videos / folders
    calibration_frames: int = 16
    # int8 without `calibrate`: frames the caller made (the command passes the built-in
    # demo clip's), at `size` or CALIBRATION_SIZE, so int8 works with no files at all.
    fallback_frames: list[np.ndarray] | None = None
    fallback_source: str = "built-in frames"


def onnx_file(style: Style, precision: str = "fp32") -> Path:
    """The style as an ONNX graph: the file itself, or a cached export of its weights
    (fp32, or fp16 with instance norm kept fp32 for GPU backends). The engines run this."""
    if style.is_onnx:
        return style.path
    digest = hashlib.sha256(style.path.read_bytes()).hexdigest()[:16]
    cached = cache_dir("onnx") / f"{style.name}-{digest}-{__version__}-{precision}.onnx"
    if not cached.exists():
        if precision == "fp32":
            with atomic_output(cached) as tmp:
                onnx.save(weights_graph(style.path), str(tmp))
        else:
            from rtstyle.export.fp16 import convert_file

            convert_file(onnx_file(style), cached)
    return cached


def weights_graph(path: Path, size: tuple[int, int] | None = None) -> onnx.ModelProto:
    """A model file as its fp32 ONNX graph (frames in and out), with its metadata;
    `size` (h, w) fixes the frame shape. Built with onnx.helper: no torch."""
    state, meta = load_weights(path)
    graph = net_graph(meta["arch"], meta["options"], lambda name, shape: state[name], size)
    set_metadata(graph, {**meta, "io": IO_CONVENTION, "rtstyle_version": __version__,
                         "precision": "fp32", "fixed_size": list(size) if size else None})
    onnx.checker.check_model(graph)
    return graph


def default_output(style_name: str, fmt: str, precision: str) -> Path:
    return Path(f"{style_name}-{precision}{ENGINE_SUFFIX if fmt == 'tensorrt' else '.onnx'}")


def _fp32_graph(style: Style, size: tuple[int, int] | None) -> onnx.ModelProto:
    if style.is_onnx:
        if style.meta.get("onnx_io", "frames") != "frames":
            raise RtstyleError(f"style '{style.name}' is a foreign ONNX graph (float NCHW "
                               "input); only rtstyle's own graphs can be re-exported")
        done = style.meta.get("precision", "fp32")
        if done != "fp32":
            raise RtstyleError(f"{style.path.name} is already a {done} export; export from "
                               "the style itself or from its fp32 ONNX")
        if size:
            raise RtstyleError(f"style '{style.name}' is an ONNX file, whose shape is fixed "
                               "when it was exported; leave out --size")
        return load_checked(style.path)
    if not size:  # the dynamic-shape fp32 graph: the one the engines export and cache
        return onnx.load(str(onnx_file(style)))
    if min(size) < MIN_SIDE:
        raise RtstyleError(f"size {size[1]}x{size[0]} is too small; frames need at least "
                           f"{MIN_SIDE} px per side")
    return weights_graph(style.path, size)


def _convert(fp32: onnx.ModelProto, req: ExportRequest) -> tuple[onnx.ModelProto, dict]:
    """The graph at the requested precision, and the metadata to add."""
    if req.precision == "fp32":
        return fp32, {}
    if req.precision == "fp16":
        from rtstyle.export.fp16 import to_fp16

        return to_fp16(fp32), {}
    from rtstyle.export.quantize import CALIBRATION_SIZE, calibration_frames, quantize_int8

    if req.calibrate:
        sources = [str(s) for s in req.calibrate]
        frames = calibration_frames(req.calibrate, req.calibration_frames,
                                    req.size or CALIBRATION_SIZE)
    elif req.fallback_frames:
        sources, frames = [req.fallback_source], req.fallback_frames
        print(f"rtstyle: calibrating on the {req.fallback_source}; for the best int8 result "
              "give --calibrate with photos or a video like yours", file=sys.stderr)
    else:
        raise RtstyleError("int8 needs calibration frames; give --calibrate with a folder of "
                           "photos or a video like what you will stylise")
    target = "tensorrt" if req.format == "tensorrt" else "cpu"
    print(f"calibrating int8 on {len(frames)} frames ...", file=sys.stderr)
    q = quantize_int8(fp32, frames, target)
    return q, {"int8": {"target": target, "calibration_frames": len(frames),
                        "calibration_sources": sources}}


def export_style(req: ExportRequest) -> Path:
    """Write the export and return its path. Checks every input before any slow work."""
    if req.format not in FORMATS:
        raise RtstyleError(f"unknown format '{req.format}'; choose onnx or tensorrt")
    if req.precision not in PRECISIONS:
        raise RtstyleError(f"unknown precision '{req.precision}'; choose fp32, fp16 or int8")
    if req.size and req.profile:
        raise RtstyleError("give either --size or --dynamic, not both")
    style = find_style(req.style)
    out = Path(req.output or default_output(style.name, req.format, req.precision))
    check_writable(out)
    if req.format == "tensorrt":
        from rtstyle.export.tensorrt import require_tensorrt

        require_tensorrt()  # fail now, not after calibration
    if req.calibrate:
        from rtstyle.export.quantize import calibration_files

        if req.precision != "int8":
            raise RtstyleError("--calibrate only applies to --precision int8")
        calibration_files(req.calibrate)  # missing paths fail now

    onnx_size = req.size if req.format == "onnx" else None  # TensorRT shapes come from profiles
    fp32 = _fp32_graph(style, onnx_size)
    graph, extra = _convert(fp32, req)
    meta = {**get_metadata(fp32), **extra, "precision": req.precision}
    if req.profile and req.format == "onnx":
        meta["profile_hint"] = req.profile.label()
    set_metadata(graph, meta)
    onnx.checker.check_model(graph)
    if req.format == "onnx":
        with atomic_output(out) as tmp:
            onnx.save(graph, str(tmp))
        return out
    from rtstyle.export.tensorrt import make_engine_file

    profile = req.profile or Profile.fixed(*(req.size or DEFAULT_TRT_SIZE))
    engine = make_engine_file(graph.SerializeToString(), meta, req.precision, profile,
                              cache_dir("tensorrt"))
    engine.write(out)
    return out
