"""The style-swap engine: a painting is the style; each frame goes encoder -> swap -> decoder.

The algorithm (op, index, decoder) lives in rtstyle.swap; this is its engine, on any
registered backend that opens ONNX graph sessions, or on torch.

The heavy parts (the swap graph's session, its encoder part) are loaded once per process
and backend and shared by every painting, so switching style costs only encoding the new
painting (under a second at 256 px on a loaded 2-core CPU). `SwapEngine.set_style` may run
on a worker thread while another thread calls `run`: the style is swapped in with one
assignment.

Everything that depends only on the painting is computed once in `set_style`: its patches,
deduplicated, and their low-rank index (rtstyle.swap.index), which makes the matching ~20x
cheaper than comparing every patch pair, and its feature colour statistics (numpy eigh).
The ONNX graph takes frames and those as inputs, so one graph serves every painting.
With the built-in decoder that graph ships (rtstyle.swap.graph), so style-swap needs no
torch; a decoder or VGG of one's own is exported by the maker side (rtstyle.swap.model,
rtstyle[train]).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from rtstyle.engines import registry
from rtstyle.engines.base import Engine, check_frames
from rtstyle.errors import RtstyleError, require_extra
from rtstyle.images import SCALE_DOWN, check_image_size, read_image
from rtstyle.swap import int8
from rtstyle.swap.graph import BUILTIN_DECODER, SHIPPED_GRAPH, encoder_graph
from rtstyle.swap.index import RANK, StyleColour, StyleIndex, style_feeds, style_inputs

Style = tuple[StyleIndex, StyleColour]  # all the swap graph takes from one painting

# The encoder: 'builtin' (default: the shipped VGG19 slice the shipped decoder inverts),
# 'imagenet' (torchvision download) or a local state dict, for decoders trained on those.
VGG_ENV = "RTSTYLE_VGG_WEIGHTS"
DECODER_ENV = "RTSTYLE_SWAP_DECODER"  # a decoder from `rtstyle train-swap`; default: shipped
# The indexed graph ran 2-3x faster on ONNX Runtime than on torch eager and ~1.3-2x faster
# than on OpenVINO (2-core AMD EPYC, AVX2; docs/swap.md, Figures).
AUTO_BACKEND = "onnxruntime"
PRECISIONS = ("auto", "fp32", "int8", "bf16")
MIN_STYLE_SIDE = 12  # relu3_1 is 1/4 size and a patch needs 3x3 features
FLAT_STD = 2.0  # grey levels: a painting whose channels all vary less is one flat colour


@dataclass(frozen=True)
class Budget:
    """Limits on the swap's cost, positions x (2304 + n_patches) x rank MACs.

    style_size: longer side of the style image in px (patches grow with its square);
    max_patches: keep an evenly spaced subset of the patches; rank: principal directions
    the patches are ranked in (more: closer to the exact match, see docs/swap.md);
    precision: "auto" (int8 where the backend runs graphs and the decoder ships int8
    ranges, else fp32), "fp32", "int8" (the encoder's and decoder's convs, see
    rtstyle.swap.int8), or "bf16" for the matching (torch backend only).
    """

    style_size: int = 256
    max_patches: int | None = None
    precision: str = "auto"
    rank: int = RANK


def vgg_weights() -> str:
    return os.environ.get(VGG_ENV) or "builtin"


def decoder_path() -> Path:
    return Path(os.environ.get(DECODER_ENV, BUILTIN_DECODER))


def load_painting(path: Path, style_size: int) -> np.ndarray:
    """The style image as BGR uint8, downscaled to `style_size` on its longer side; a
    one-line error for a missing, corrupt, truncated, huge, tiny or one-colour image."""

    path = Path(path)
    if not path.is_file():
        raise RtstyleError(f"style image {path} does not exist; give a painting's image file")
    # Only style_size px are used: a painting is never decoded beyond MAX_SIDE a side
    # (JPEGs decode directly at 1/2..1/8 scale), so a huge PNG cannot ask for gigabytes.
    try:
        check_image_size(path, None, "style image", SCALE_DOWN)
        img = read_image(path, style_size, "style image")
    except RtstyleError as e:
        raise RtstyleError(f"bad {e}" if str(e).startswith("style image")
                           else f"bad style image: {e}") from None
    h, w = img.shape[:2]
    scale = style_size / max(h, w)
    if scale < 1.0:
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
    if min(img.shape[:2]) < MIN_STYLE_SIDE:
        raise RtstyleError(f"style image {path} is {img.shape[1]}x{img.shape[0]} px (after "
                           f"the {style_size} px limit), too small for one 3x3 feature patch; "
                           f"use one of at least {MIN_STYLE_SIDE} px per side")
    if float(img.reshape(-1, 3).std(axis=0).max()) < FLAT_STD:
        raise RtstyleError(f"style image {path} is one flat colour, with no strokes or "
                           "texture for style-swap to carry; give a painting")
    return img


def _cache() -> Path:
    from rtstyle.styles.catalogue import cache_dir

    return cache_dir("onnx")


def fp32_graph(decoder_file: Path) -> Path:
    """The swap graph for this decoder and the configured VGG: the shipped one for the
    built-in pair, else the maker's cached export (needs torch: rtstyle[train])."""
    if decoder_file == BUILTIN_DECODER and vgg_weights() == "builtin":
        return SHIPPED_GRAPH
    require_extra("torch", "train", f"style-swap with your own decoder or VGG ({DECODER_ENV} "
                  f"or {VGG_ENV})")
    from rtstyle.swap.model import exported_graph

    return exported_graph(decoder_file, vgg_weights(), _cache())


def int8_graph(fp32: Path, decoder_file: Path) -> Path:
    """The int8 form of `fp32`, made once with the decoder's shipped ranges."""
    ranges = int8.ranges_file(decoder_file)
    digest = hashlib.sha256(fp32.read_bytes() + ranges.read_bytes()).hexdigest()[:16]
    path = _cache() / f"swap-{digest}-int8.onnx"
    if not path.exists():
        int8.quantize(fp32, ranges, path)
    return path


class _Runtime:
    """Everything shared by all paintings on one backend: the swap graph's session and the
    encoder's (or the torch model)."""

    def __init__(self, backend: str, threads: int | None, precision: str,
                 fallback: bool = False):
        """fallback: int8 was `auto`'s pick, so ranges that do not fit this graph mean
        fp32 with a note instead of an error."""
        self.decoder_path = decoder_path()
        self.warm_sizes: set[tuple[int, int]] = set()  # frame sizes already run once
        self.torch = None
        self.backend, self.precision = "torch-cpu", precision
        if backend == "torch":
            require_extra("torch", "train", "--backend torch")
            from rtstyle.swap.model import TorchSwap

            self.torch = TorchSwap(self.decoder_path, vgg_weights(), threads, precision)
            return
        fp32 = fp32_graph(self.decoder_path)
        graph = fp32
        if precision == "int8":
            try:
                graph = int8_graph(fp32, self.decoder_path)
            except int8.Int8Unavailable as e:
                if not fallback:
                    raise
                print(f"rtstyle: no int8 style-swap here ({e.problem}); running fp32",
                      file=sys.stderr)
                self.precision = "fp32"
        chosen = registry.get(backend)
        self.session = chosen.open_session(graph, threads)
        # the painting's features on ONNX Runtime (a base dependency) for every backend,
        # so every backend matches against the same index
        self.encoder = registry.get("onnxruntime").open_session(
            encoder_graph(fp32, _cache()), threads)
        self.backend = {"onnxruntime": "onnxruntime-cpu",
                        "openvino": "openvino-cpu"}.get(chosen.name, chosen.name)
        if self.precision == "int8":
            self.backend += "-int8"

    def encode(self, painting: np.ndarray, budget: Budget) -> Style:
        """The painting's index and colour statistics: all the swap needs from it, once."""
        if self.torch is not None:
            return self.torch.encode(painting, budget.max_patches, budget.rank)
        features = self.encoder.run({"frames": np.ascontiguousarray(painting[None])})
        return style_inputs(features, budget.max_patches, budget.rank)

    def run(self, frames: np.ndarray, style: Style) -> np.ndarray:
        if self.torch is not None:
            return self.torch.run(frames, style)
        return self.session.run({"frames": frames, **style_feeds(style)})


def backends() -> list[str]:
    """What style-swap runs on: torch, and every backend that opens ONNX graph sessions."""
    return ["torch"] + [n for b in registry.backends() if b.open_session
                        for n in (b.name, *b.aliases)]


_RUNTIMES: dict[tuple, _Runtime] = {}
_LOCK = threading.Lock()


def _runtime(backend: str, threads: int | None, precision: str,
             fallback: bool = False) -> _Runtime:
    key = (backend, threads, precision, fallback, vgg_weights(), decoder_path())
    with _LOCK:
        if key not in _RUNTIMES:
            _RUNTIMES[key] = _Runtime(backend, threads, precision, fallback)
        return _RUNTIMES[key]


class SwapEngine(Engine):
    """Style-swap with one painting at a time; `set_style` changes it cheaply."""

    def __init__(self, runtime: _Runtime, painting: Path, budget: Budget,
                 image: np.ndarray | None = None):
        self.runtime, self.budget = runtime, budget
        self.backend = runtime.backend
        self.set_style(painting, image)

    def set_style(self, painting: Path, image: np.ndarray | None = None) -> float:
        """Encode `painting` (or its already loaded `image`) and make it the style; returns
        the seconds it took. Safe to call from a worker thread while another runs frames."""
        t0 = time.perf_counter()
        if image is None:
            image = load_painting(painting, self.budget.style_size)
        style = self.runtime.encode(image, self.budget)
        self._style = (Path(painting).stem, style)
        self.encode_seconds = time.perf_counter() - t0
        return self.encode_seconds

    def warmup(self, height: int, width: int, runs: int = 2) -> None:
        """Skip when the shared runtime has already run this frame size: the nets are warm
        and a new painting only changes the patches, so a style switch need not spend a
        whole extra frame (~1.7 s at 640x480 on 2 CPU cores) before its first real one."""
        if (height, width) in self.runtime.warm_sizes:
            return
        super().warmup(height, width, runs)
        self.runtime.warm_sizes.add((height, width))

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._style[0]

    @property
    def index(self) -> StyleIndex:
        """The current painting's matching index (StyleIndex)."""
        return self._style[1][0]

    @property
    def style_tensors(self) -> tuple[np.ndarray, ...]:
        """The graph's style inputs for the current painting (index, then colour)."""
        return (*self._style[1][0], *self._style[1][1])

    @property
    def n_patches(self) -> int:
        return int(self.index.codes.shape[0])

    def run(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        _, h, w, _ = frames.shape
        pad_h, pad_w = -h % 4, -w % 4
        x = frames
        if pad_h or pad_w:
            x = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
        out = self.runtime.run(np.ascontiguousarray(x), self._style[1])
        return np.ascontiguousarray(out[:, :h, :w])


def open_swap_engine(painting: Path, backend: str = "auto", threads: int | None = None,
                     budget: Budget | None = None) -> SwapEngine:
    """A style-swap engine for `painting` on `backend` (auto, torch, or any backend that
    runs ONNX graphs: onnxruntime, openvino, onnxruntime-cuda)."""
    budget = budget or Budget()
    if backend != "auto" and backend not in backends():
        raise RtstyleError(f"unknown backend '{backend}' for style-swap; choose one of: "
                           + ", ".join(["auto", *backends()]))
    if backend != "auto" and registry.get(backend).cuda and not registry.cuda_visible():
        raise RtstyleError(f"--backend {backend} needs an NVIDIA GPU with CUDA, and none is "
                           "visible here; use --backend onnxruntime or auto")
    if budget.precision not in PRECISIONS:
        raise RtstyleError(f"unknown swap precision '{budget.precision}'; use "
                           + ", ".join(PRECISIONS))
    image = load_painting(painting, budget.style_size)  # a bad one fails before loading nets
    if backend == "auto":
        backend = "torch" if budget.precision == "bf16" else AUTO_BACKEND
    runtime = _runtime(backend, threads, resolve_precision(budget.precision, backend),
                       fallback=budget.precision == "auto")
    budget = replace(budget, precision=runtime.precision)
    return SwapEngine(runtime, Path(painting), budget, image)


def resolve_precision(requested: str, backend: str) -> str:
    """What "auto" means on `backend`, and a one-line error for what cannot run there."""
    ranges = int8.ranges_file(decoder_path()).is_file() and int8.supported()
    # the int8 graph is for CPUs (asymmetric u8, 7-bit weights; TensorRT rejects it)
    cpu_graph = backend != "torch" and not registry.get(backend).cuda
    if requested == "auto":
        return "int8" if cpu_graph and ranges else "fp32"
    if requested == "bf16" and backend != "torch":
        raise RtstyleError("bf16 swap precision runs on --backend torch only")
    if requested == "int8" and not cpu_graph:
        raise RtstyleError("int8 style-swap runs on the CPU graph backends (onnxruntime, "
                           "openvino); use --backend onnxruntime or --swap-precision fp32")
    if requested == "int8" and not int8.supported():
        raise RtstyleError("int8 style-swap needs an onnxruntime whose quantiser takes a "
                           "calibration cache; `pip install -U onnxruntime`, or use "
                           "--swap-precision fp32")
    if requested == "int8" and not ranges:
        raise RtstyleError(f"int8 style-swap needs the decoder's calibration ranges "
                           f"{int8.ranges_file(decoder_path()).name} beside it (make them with "
                           "benchmarks/make_swap_int8_ranges.py); use --swap-precision fp32")
    return requested
