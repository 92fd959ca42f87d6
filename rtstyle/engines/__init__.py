"""Pick and open an engine for a style on a backend.

`open_engine` is the only way the rest of rtstyle gets an engine. Backends live in the
registry (`registry.py`); each backend module below registers itself when imported.
A painting (an image file) opens a style-swap engine; anything else is a transform net.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

# Importing a backend module registers it; this list is the only place that names them.
from rtstyle.engines import (  # noqa: F401
    onnxruntime_engine,
    openvino_engine,
    registry,
    tensorrt_engine,
)

try:  # the torch backends come with rtstyle[train]; the light install runs without them
    from rtstyle.engines import torch_cuda_engine, torch_engine  # noqa: F401
except ModuleNotFoundError as e:
    if e.name != "torch":
        raise
    registry.register_missing("torch", 90, "torch", "train")
    registry.register_missing("torch-cuda", 18, "torch", "train", cuda=True)
from rtstyle.engines.base import Engine
from rtstyle.engines.blend import blend_parts, open_blend
from rtstyle.errors import RtstyleError
from rtstyle.images import IMAGE_SUFFIXES
from rtstyle.styles.catalogue import Style, find_style

if TYPE_CHECKING:
    import numpy as np

    from rtstyle.engines.swap import Budget

__all__ = ["Engine", "available_backends", "is_painting", "open_engine", "paint_image"]


def available_backends() -> list[str]:
    """Backends `auto` may pick on this machine, in `auto` order."""
    return [b.name for b in registry.available() if b.auto]


def is_painting(spec: str | Path) -> bool:
    """A style given as an image file runs on the style-swap engine, not a transform net."""
    return Path(spec).suffix.lower() in IMAGE_SUFFIXES


def open_engine(style: Style | str | Path, backend: str = "auto",
                threads: int | None = None, swap: Budget | None = None,
                precision: str | None = None, mix: float = 0.5) -> Engine:
    """Load `style` on `backend`: a Style, a catalogue name, a model-file path, or a
    painting (image file), which gives a style-swap engine limited by the `swap` budget.
    `precision` (None or "auto": the backend's policy) is checked against the backend's
    `precisions`; `auto` then only considers backends that offer it. "a+b" opens both and
    blends their outputs, `mix` of b (engines/blend.py)."""
    if not isinstance(style, Style) and (parts := blend_parts(style)):
        return open_blend(parts, mix, lambda one: open_engine(one, backend, threads, swap,
                                                              precision))
    forced = precision not in (None, "auto")
    if not isinstance(style, Style) and is_painting(style):
        from rtstyle.engines.swap import open_swap_engine

        return open_swap_engine(Path(style), backend, threads, swap)
    if isinstance(style, (str, Path)):
        style = find_style(str(style))
    if backend == "auto":
        suits = [b for b in registry.backends() if b.auto and b.refuses(style) is None
                 and (not forced or precision in b.precisions)]
        if not suits:
            raise RtstyleError(f"no backend runs --precision {precision} for this style; "
                               "leave out --precision, or choose one that a backend offers")
        # None usable here: the first that would suit says what it needs (a GPU, a package).
        chosen = next((b for b in suits if registry.usable(b)), suits[0])
    else:
        chosen = registry.get(backend)
    if chosen.cuda and not registry.cuda_visible():
        raise RtstyleError(f"--backend {chosen.name} needs an NVIDIA GPU with CUDA, and none "
                           "is visible here; the nearest thing that works is --backend "
                           "onnxruntime (CPU), or auto")
    reason = chosen.refuses(style)
    if reason:
        raise RtstyleError(reason)
    if forced and precision not in chosen.precisions:
        offered = ", ".join(chosen.precisions) or "its own precision only"
        raise RtstyleError(f"--backend {chosen.name} does not take --precision {precision}; "
                           f"it offers: {offered}")
    return chosen.open_net(style, threads, precision if chosen.precisions else None)


def paint_image(style: Style | str | Path, image: np.ndarray) -> np.ndarray:
    """One BGR image painted by `style` on the default backend, as `rtstyle image` does."""
    from rtstyle.engines.adjust import stylise

    with open_engine(style) as engine:
        return stylise(engine, image[None])[0]
