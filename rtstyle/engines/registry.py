"""The one table of backends. Each backend module registers itself here.

A row says what `--backend NAME` means: whether it can run on this machine, how it opens
a transform net, and (when it runs arbitrary ONNX graphs) how it opens a graph session,
which style-swap uses. `auto` takes the available backend with the lowest rank that
suits the style. Adding a backend is one module with one `register` call, plus its name
in `engines/__init__.py`'s import list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rtstyle.errors import RtstyleError, require_extra

if TYPE_CHECKING:
    from rtstyle.engines.base import Engine
    from rtstyle.styles.catalogue import Style


class GraphSession(Protocol):
    """An ONNX graph loaded on a backend: named numpy inputs in, first output out."""

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray: ...


@dataclass(frozen=True)
class Backend:
    name: str  # what --backend takes
    rank: int  # `auto` order: lower is tried first (fastest measured first)
    available: Callable[[], bool]
    # (style, threads, precision) -> engine; precision is one of `precisions`, or None
    # (the backend's own policy; always None for a backend that offers no precisions)
    open_net: Callable[[Style, int | None, str | None], Engine]
    # Why this backend cannot run a style (None: it can); `auto` skips such pairs.
    refuses: Callable[[Style], str | None] = field(default=lambda style: None)
    # Runs any ONNX graph (style-swap's too); None for backends that only run nets.
    open_session: Callable[[Path, int | None], GraphSession] | None = None
    cuda: bool = False  # needs an NVIDIA GPU
    auto: bool = True  # False: never picked by `auto` (e.g. a long first-frame build)
    aliases: tuple[str, ...] = ()
    # --precision values open_net takes; () means it runs its one precision. `rtstyle
    # bench` measures each of them (besides "auto").
    precisions: tuple[str, ...] = ()


_TABLE: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    for name in (backend.name, *backend.aliases):
        if name in _TABLE and _TABLE[name] is not backend:
            raise RuntimeError(f"backend name '{name}' is registered twice")
        _TABLE[name] = backend
    return backend


def register_missing(name: str, rank: int, module: str, extra: str,
                     cuda: bool = False) -> Backend:
    """A row for a backend whose package is not installed: never available, and asking
    for it by name says, in one line, which extra brings it."""
    def open_net(style: Style, threads: int | None, precision: str | None) -> Engine:
        require_extra(module, extra, f"--backend {name}")
        raise RtstyleError(f"--backend {name} failed to load; pip install 'rtstyle[{extra}]'")

    return register(Backend(name, rank, available=lambda: False, open_net=open_net,
                            refuses=lambda style: None, cuda=cuda))


def backends() -> list[Backend]:
    """Every registered backend once, in `auto` order."""
    return sorted({id(b): b for b in _TABLE.values()}.values(), key=lambda b: b.rank)


def names() -> list[str]:
    """Every name `--backend` accepts (aliases included), in `auto` order."""
    return [n for b in backends() for n in (b.name, *b.aliases)]


def get(name: str) -> Backend:
    if name not in _TABLE:
        raise RtstyleError(f"unknown backend '{name}'; choose auto or one of: "
                           + ", ".join(names()))
    return _TABLE[name]


def cuda_visible() -> bool:
    """A CUDA GPU that torch can use (the GPU backends move frames with torch); none
    without torch (the light install)."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def usable(backend: Backend) -> bool:
    return (not backend.cuda or cuda_visible()) and backend.available()


def available() -> list[Backend]:
    """Backends usable on this machine, in `auto` order."""
    return [b for b in backends() if usable(b)]
