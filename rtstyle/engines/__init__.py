"""Pick and open an engine for a style on a backend.

`open_engine` is the only way the rest of rtstyle gets an engine, so adding a backend
means adding it here and nowhere else. `auto` takes the fastest one available.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from rtstyle import __version__
from rtstyle.engines.base import Engine
from rtstyle.errors import RtstyleError
from rtstyle.export.tensorrt import ENGINE_SUFFIX
from rtstyle.images import IMAGE_SUFFIXES
from rtstyle.styles import Style, find_style, home

if TYPE_CHECKING:
    from rtstyle.swap.engine import Budget

# `auto` takes the first available, fastest first: tensorrt, onnxruntime-cuda, openvino
# (an optional extra; the fastest CPU engine measured), onnxruntime, torch.
# onnxruntime-trt is left out: it builds its engine inside the first frame (a long stall).
BACKENDS = ["tensorrt", "onnxruntime-trt", "onnxruntime-cuda", "onnxruntime",
            "onnxruntime-cpu", "openvino", "torch"]
GPU_BACKENDS = {"tensorrt": "tensorrt", "onnxruntime-trt": "trt", "onnxruntime-cuda": "cuda"}


def onnx_file(style: Style, precision: str = "fp32") -> Path:
    """The style as an ONNX graph: the file itself, or a cached export of its weights
    (fp32, or fp16 with instance norm kept fp32 for GPU backends)."""
    if style.is_onnx:
        return style.path
    from rtstyle.export.onnx import export_onnx
    from rtstyle.modelfile import load_net

    digest = hashlib.sha256(style.path.read_bytes()).hexdigest()[:16]
    cached = home() / "cache" / "onnx" / f"{style.name}-{digest}-{__version__}-{precision}.onnx"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        if precision == "fp32":
            net, meta = load_net(style.path)
            export_onnx(net, cached, meta)
        else:
            from rtstyle.export.fp16 import convert_file

            convert_file(onnx_file(style), cached)
    return cached


def cuda_visible() -> bool:
    """A CUDA GPU that torch can use (the GPU backends move frames with torch)."""
    try:
        import torch
    except ImportError:  # pragma: no cover (torch is a core dependency)
        return False
    return torch.cuda.is_available()


def available_backends() -> list[str]:
    """Backends usable on this machine, in `auto` order."""
    from rtstyle.engines.onnxruntime_engine import available_providers
    from rtstyle.engines.openvino_engine import openvino_available

    found = ["onnxruntime", "torch"]
    if openvino_available():
        found.insert(0, "openvino")
    if cuda_visible():
        if "CUDAExecutionProvider" in available_providers():
            found.insert(0, "onnxruntime-cuda")
        if importlib.util.find_spec("tensorrt") is not None:
            found.insert(0, "tensorrt")
    return found


def is_painting(spec: str | Path) -> bool:
    """A style given as an image file runs on the style-swap engine, not a transform net."""
    return Path(spec).suffix.lower() in IMAGE_SUFFIXES


def open_engine(style: Style | str | Path, backend: str = "auto",
                threads: int | None = None, swap: Budget | None = None) -> Engine:
    """Load `style` on `backend`: a Style, a catalogue name, a model-file path, or a
    painting (image file), which gives a style-swap engine limited by the `swap` budget."""
    if not isinstance(style, Style) and is_painting(style):
        from rtstyle.swap.engine import open_swap_engine

        return open_swap_engine(Path(style), backend, threads, swap)
    if isinstance(style, (str, Path)):
        style = find_style(str(style))
    if style.path.suffix == ENGINE_SUFFIX:
        return _open_engine_file(style, backend)
    if backend == "auto":
        backend = next(b for b in available_backends() if _suits(style, b))
    if backend in GPU_BACKENDS and not cuda_visible():
        raise RtstyleError(f"--backend {backend} needs an NVIDIA GPU with CUDA, and none is "
                           "visible here; the nearest thing that works is --backend "
                           "onnxruntime (CPU), or auto")
    if backend == "tensorrt":
        from rtstyle.engines.tensorrt_engine import TensorRTEngine

        if _cpu_int8(style):
            raise RtstyleError(f"{style.path.name} is an int8 export for CPUs (asymmetric "
                               "Q/DQ, which TensorRT rejects); make a TensorRT one with "
                               "`rtstyle export --format tensorrt --precision int8`")
        precision = "fp32" if style.is_onnx else "fp16"
        source = onnx_file(style, precision)
        return TensorRTEngine(source.read_bytes(), style.name, home() / "cache" / "tensorrt",
                              precision=style.meta.get("precision", precision))
    if backend == "openvino":
        from rtstyle.engines.openvino_engine import OpenVinoEngine

        return OpenVinoEngine(onnx_file(style), style.name, threads,
                              io=style.meta.get("onnx_io", "frames"),
                              fixed_size=style.meta.get("fixed_size"),
                              cache_dir=home() / "cache" / "openvino")
    if backend == "torch":
        if style.is_onnx:
            raise RtstyleError(f"style '{style.name}' is an ONNX file and cannot run on torch; "
                               "use --backend onnxruntime")
        from rtstyle.engines.torch_engine import TorchEngine
        from rtstyle.modelfile import load_net

        return TorchEngine(load_net(style.path)[0], style.name, threads)
    if backend in ("onnxruntime", "onnxruntime-cpu", "onnxruntime-cuda", "onnxruntime-trt"):
        from rtstyle.engines.onnxruntime_engine import OnnxRuntimeEngine

        device = GPU_BACKENDS.get(backend, "cpu")
        meta = style.meta
        # CUDA gets the fp16 graph of a catalogue style (instance norm kept fp32).
        source = onnx_file(style, "fp16" if device == "cuda" and not style.is_onnx else "fp32")
        return OnnxRuntimeEngine(source, style.name, device, threads,
                                 io=meta.get("onnx_io", "frames"),
                                 fixed_size=meta.get("fixed_size"),
                                 cache_dir=home() / "cache" / "onnxruntime-trt",
                                 profile_hint=meta.get("profile_hint"))
    raise RtstyleError(f"unknown backend '{backend}'; choose auto or one of: "
                       + ", ".join(BACKENDS))


def _suits(style: Style, backend: str) -> bool:
    """Whether `auto` may pick `backend` for this style: ONNX files cannot run on torch,
    and a CPU int8 export is not TensorRT's kind of Q/DQ graph."""
    if backend == "torch":
        return not style.is_onnx
    if backend == "tensorrt":
        return not _cpu_int8(style)
    return True


def _cpu_int8(style: Style) -> bool:
    """An int8 export made for CPUs (asymmetric Q/DQ, which TensorRT rejects)."""
    return style.meta.get("int8", {}).get("target") == "cpu"


def _open_engine_file(style: Style, backend: str) -> Engine:
    """An exported TensorRT engine file: it runs on TensorRT only, and rebuilds itself from
    the ONNX inside it when it was built for another GPU or TensorRT version."""
    if backend not in ("auto", "tensorrt"):
        raise RtstyleError(f"{style.path} is a TensorRT engine and runs only on --backend "
                           "tensorrt; use the .onnx export for other backends")
    from rtstyle.engines.tensorrt_engine import TensorRTEngine
    from rtstyle.export.tensorrt import EngineFile, require_tensorrt

    require_tensorrt()
    engine_file = EngineFile.read(style.path)
    return TensorRTEngine(engine_file.onnx_bytes, style.meta.get("style", style.name),
                          home() / "cache" / "tensorrt", engine_file)
