"""Pick and open an engine for a style on a backend.

`open_engine` is the only way the rest of rtstyle gets an engine, so adding a backend
means adding it here and nowhere else. `auto` takes the fastest one available.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rtstyle import __version__
from rtstyle.engines.base import Engine
from rtstyle.errors import RtstyleError
from rtstyle.styles import Style, find_style, home

# In `auto` order: fastest first.
BACKENDS = ["onnxruntime-cuda", "onnxruntime", "torch"]


def onnx_file(style: Style) -> Path:
    """The style as an ONNX graph: the file itself, or a cached export of its weights."""
    if style.is_onnx:
        return style.path
    from rtstyle.export.onnx import export_onnx
    from rtstyle.modelfile import load_net

    digest = hashlib.sha256(style.path.read_bytes()).hexdigest()[:16]
    cached = home() / "cache" / "onnx" / f"{style.name}-{digest}-{__version__}.onnx"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        net, meta = load_net(style.path)
        export_onnx(net, cached, meta)
    return cached


def available_backends() -> list[str]:
    from rtstyle.engines.onnxruntime_engine import available_providers

    found = ["onnxruntime", "torch"]
    if "CUDAExecutionProvider" in available_providers():
        found.insert(0, "onnxruntime-cuda")
    return found


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def is_painting(spec: str | Path) -> bool:
    """A style given as an image file runs on the style-swap engine, not a transform net."""
    return Path(spec).suffix.lower() in IMAGE_SUFFIXES


def open_engine(style: Style | str | Path, backend: str = "auto",
                threads: int | None = None) -> Engine:
    """Load `style` on `backend`: a Style, a catalogue name, a model-file path, or a
    painting (image file), which gives a style-swap engine."""
    if not isinstance(style, Style) and is_painting(style):
        from rtstyle.swap.engine import open_swap_engine

        return open_swap_engine(Path(style), backend, threads)
    if isinstance(style, (str, Path)):
        style = find_style(str(style))
    if backend == "auto":
        backend = available_backends()[0]
    if backend == "torch":
        if style.is_onnx:
            raise RtstyleError(f"style '{style.name}' is an ONNX file and cannot run on torch; "
                               "use --backend onnxruntime")
        from rtstyle.engines.torch_engine import TorchEngine
        from rtstyle.modelfile import load_net

        return TorchEngine(load_net(style.path)[0], style.name, threads)
    if backend in ("onnxruntime", "onnxruntime-cpu", "onnxruntime-cuda"):
        from rtstyle.engines.onnxruntime_engine import OnnxRuntimeEngine

        device = "cuda" if backend == "onnxruntime-cuda" else "cpu"
        meta = style.meta
        return OnnxRuntimeEngine(onnx_file(style), style.name, device, threads,
                                 io=meta.get("onnx_io", "frames"),
                                 fixed_size=meta.get("fixed_size"))
    raise RtstyleError(f"unknown backend '{backend}'; choose auto or one of: "
                       + ", ".join(BACKENDS))
