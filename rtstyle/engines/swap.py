"""The style-swap engine: a painting is the style; each frame goes encoder -> swap -> decoder.

The algorithm (op, decoder) lives in rtstyle.swap; this is its engine, on torch or on any
registered backend that opens ONNX graph sessions.

The heavy parts (VGG encoder, decoder, the graph session) are loaded once per process
and backend and shared by every painting, so switching style costs only encoding the new
painting (under a second at 256 px on a loaded 2-core CPU). `SwapEngine.set_style` may run
on a worker thread while another thread calls `run`: the style is swapped in with one
assignment.

Everything that depends only on the painting is computed once in `set_style`: its patches,
deduplicated, and their low-rank index (rtstyle.swap.op.index_style), which makes the
matching ~20x cheaper than comparing every patch pair. The ONNX graph takes frames and the
index as inputs, so one exported graph serves every painting.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from rtstyle import __version__
from rtstyle.engines import registry
from rtstyle.engines.base import Engine, check_frames
from rtstyle.errors import RtstyleError
from rtstyle.images import SCALE_DOWN, check_image_size, read_image
from rtstyle.nets.frames import frames_to_rgb, rgb_to_frames
from rtstyle.swap import int8
from rtstyle.swap.decoder import BUILTIN, Decoder, encoder_fingerprint, load_decoder
from rtstyle.swap.op import (
    RANK,
    StyleColour,
    StyleIndex,
    colour_stats,
    index_style,
    recolour,
    style_patches,
    swap_indexed,
)

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
# the swap graph's inputs after `frames`: the painting's index and colour statistics
INDEX_INPUTS = StyleIndex._fields + StyleColour._fields
GRAPH_FORM = "indexed3"  # bump when the graph's inputs or ops change (cache file name)


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


class SwapModel(nn.Module):
    """uint8 BGR frames (N, H, W, 3), H and W multiples of 4, plus a painting's index
    (tables (9 (n + 1), 256), basis (k, 256, 3, 3), codes (n, k); see StyleIndex) and its
    colour statistics (colour (256, 256), mean (256,); see StyleColour) -> stylised uint8
    BGR frames of the same shape."""

    def __init__(self, encoder: nn.Module, decoder: Decoder, precision: str = "fp32"):
        super().__init__()
        self.encoder, self.decoder, self.precision = encoder, decoder, precision

    def forward(self, frames: torch.Tensor, tables: torch.Tensor, basis: torch.Tensor,
                codes: torch.Tensor, colour: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        content = self.encoder(frames_to_rgb(frames))["relu3_1"]
        if self.precision == "bf16":
            basis, codes = basis.bfloat16(), codes.bfloat16()
        swapped = recolour(swap_indexed(content, tables, basis, codes), colour, mean)
        return rgb_to_frames(self.decoder(swapped))


def vgg_weights() -> str:
    return os.environ.get(VGG_ENV) or "builtin"


def decoder_path() -> Path:
    return Path(os.environ.get(DECODER_ENV, BUILTIN))


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


class _Runtime:
    """Everything shared by all paintings on one backend: encoder, decoder, session."""

    def __init__(self, backend: str, threads: int | None, precision: str,
                 fallback: bool = False):
        """fallback: int8 was `auto`'s pick, so ranges that do not fit this export (made
        by another torch's exporter) mean fp32 with a note instead of an error."""
        if threads:
            torch.set_num_threads(threads)
        self.decoder_path = decoder_path()
        decoder, meta = load_decoder(self.decoder_path)
        self.encoder = _matching_encoder(self.decoder_path, meta)
        # int8 is a property of the exported graph; the torch model stays fp32 (or bf16)
        self.model = SwapModel(self.encoder, decoder,
                               "bf16" if precision == "bf16" else "fp32").eval()
        self.warm_sizes: set[tuple[int, int]] = set()  # frame sizes already run once
        self.session = None
        self.backend = "torch-cpu"
        if backend != "torch":
            chosen = registry.get(backend)
            try:
                graph = _swap_graph(self.model, self.decoder_path,
                                    use_int8=precision == "int8")
            except int8.Int8Unavailable as e:
                if not fallback:
                    raise
                print(f"rtstyle: no int8 style-swap here ({e.problem}); running fp32",
                      file=sys.stderr)
                precision = "fp32"
                graph = _swap_graph(self.model, self.decoder_path)
            self.session = chosen.open_session(graph, threads)
            self.backend = {"onnxruntime": "onnxruntime-cpu",
                            "openvino": "openvino-cpu"}.get(chosen.name, chosen.name)
            if precision == "int8":
                self.backend += "-int8"
        self.precision = precision

    def encode(self, painting: np.ndarray, budget: Budget) -> tuple[StyleIndex, StyleColour]:
        """The painting's index and colour statistics: all the swap needs from it, once."""
        with torch.inference_mode():
            features = self.encoder(frames_to_rgb(torch.from_numpy(painting[None])))["relu3_1"]
            index = index_style(style_patches(features, budget.max_patches), budget.rank)
            return index, colour_stats(features)

    def run(self, frames: np.ndarray, style: tuple[StyleIndex, StyleColour]) -> np.ndarray:
        if self.session is not None:
            return self.session.run({"frames": frames, **style_feeds(*style)})
        with torch.inference_mode():
            return self.model(torch.from_numpy(frames), *style[0], *style[1]).numpy()


def style_feeds(index: StyleIndex, colour: StyleColour) -> dict[str, np.ndarray]:
    """A painting's inputs to the swap graph, by name."""
    return {name: t.numpy() for name, t in zip(INDEX_INPUTS, (*index, *colour), strict=True)}


def _matching_encoder(decoder_file: Path, meta: dict) -> nn.Module:
    """The VGG encoder, refused unless it is the one the decoder was trained to invert.

    A decoder inverts one set of VGG weights only: torchvision's and the Oxford VGG19 (the
    shipped decoder's) differ ~100x in activation scale and in every filter, and the other
    one's features decode to noise. So a mismatch is an error, caught before any download.
    """
    from rtstyle.nets.vgg import VGGFeatures

    trained_with = meta.get("config", {}).get("vgg_weights", "imagenet")
    ours = vgg_weights()
    fix = (f"set {VGG_ENV} to that file, or train a decoder for yours with "
           f"`rtstyle train-swap --vgg-weights {ours}` and set {DECODER_ENV} to it")
    if ours == "imagenet" and trained_with != "imagenet":
        raise RtstyleError(f"the style-swap decoder {decoder_file.name} inverts the VGG19 "
                           f"weights in {Path(trained_with).name}, not torchvision's; {fix}")
    encoder = VGGFeatures(["relu3_1"], ours)
    expected = meta.get("vgg_fingerprint")
    if expected and expected != encoder_fingerprint(encoder):
        raise RtstyleError(f"the style-swap decoder {decoder_file.name} inverts the VGG19 "
                           f"weights in {Path(trained_with).name} (fingerprint {expected}), "
                           f"not those in {ours}; {fix}")
    return encoder


def backends() -> list[str]:
    """What style-swap runs on: torch, and every backend that opens ONNX graph sessions."""
    return ["torch"] + [n for b in registry.backends() if b.open_session
                        for n in (b.name, *b.aliases)]


def _swap_graph(model: SwapModel, decoder_file: Path, use_int8: bool = False) -> Path:
    """The swap graph for this decoder and encoder, exported once and cached; with `use_int8`,
    its int8 form made with the decoder's shipped ranges."""
    from rtstyle.styles.catalogue import cache_dir

    digest = hashlib.sha256(decoder_file.read_bytes())
    digest.update(encoder_fingerprint(model.encoder).encode())
    ranges = int8.ranges_file(decoder_file)
    if use_int8:
        digest.update(ranges.read_bytes())
    name = f"swap-{digest.hexdigest()[:16]}-{GRAPH_FORM}-{__version__}"
    path = cache_dir("onnx") / f"{name}{'-int8' if use_int8 else ''}.onnx"
    if not path.exists():
        if use_int8:
            int8.quantize(_swap_graph(model, decoder_file), ranges, path)
        else:
            export_swap_onnx(model, path)
    return path


def export_swap_onnx(model: SwapModel, path: Path) -> Path:
    """One graph for every style: inputs `frames` (uint8 N,H,W,3; H, W multiples of 4) and
    a painting's index (`tables`, `basis`, `codes`, float32), output `styled` frames.
    Written atomically."""
    from rtstyle.export.onnx import OPSET, TORCH_EXPORT_LOCK
    from rtstyle.files import atomic_output

    if model.precision != "fp32":
        raise RtstyleError("the ONNX swap graph is fp32 only; bf16 runs on --backend torch")
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = torch.zeros(1, 64, 96, 3, dtype=torch.uint8)
    example = (*index_style(torch.rand(20, 256, 3, 3), rank=8),
               *colour_stats(torch.rand(1, 256, 8, 8)))
    axes = {0: "batch", 1: "height", 2: "width"}
    with atomic_output(path) as tmp, warnings.catch_warnings(), TORCH_EXPORT_LOCK:
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (frames, *example), str(tmp),
                          input_names=["frames", *INDEX_INPUTS], output_names=["styled"],
                          opset_version=OPSET, dynamo=False,
                          dynamic_axes={"frames": axes, "tables": {0: "rows"}, "basis": {0: "k"},
                                        "codes": {0: "n", 1: "k"}, "styled": axes})
    return path


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
    def style_tensors(self) -> tuple:
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
