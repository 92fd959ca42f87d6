"""Style-swap on torch (the maker side, rtstyle[train]): the model, and its ONNX export.

`SwapModel` is encoder -> swap -> decoder as one torch module. It runs on `--backend
torch`, and exporting it gives the swap graph every other backend runs: the shipped one
(builtin/swap_graph.onnx, made by benchmarks/make_swap_graph.py) for the built-in decoder,
or a cached export for a decoder or VGG of the user's own (RTSTYLE_SWAP_DECODER,
RTSTYLE_VGG_WEIGHTS).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rtstyle import __version__
from rtstyle.errors import RtstyleError
from rtstyle.nets.frames import frames_to_rgb, rgb_to_frames
from rtstyle.swap import index as swap_index
from rtstyle.swap.decoder import Decoder, encoder_fingerprint, load_decoder
from rtstyle.swap.graph import INDEX_INPUTS
from rtstyle.swap.op import colour_stats, index_style, recolour, swap_indexed

VGG_ENV = "RTSTYLE_VGG_WEIGHTS"
DECODER_ENV = "RTSTYLE_SWAP_DECODER"
GRAPH_FORM = "indexed3"  # bump when the graph's inputs or ops change (cache file name)


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


def load_swap_model(decoder_file: Path, weights: str, precision: str = "fp32") -> SwapModel:
    """The decoder in `decoder_file` with the VGG encoder it inverts (`weights`)."""
    decoder, meta = load_decoder(decoder_file)
    encoder = _matching_encoder(decoder_file, meta, weights)
    return SwapModel(encoder, decoder, "bf16" if precision == "bf16" else "fp32").eval()


class TorchSwap:
    """Style-swap on torch eager: `--backend torch`, and bf16 matching."""

    def __init__(self, decoder_file: Path, weights: str, threads: int | None, precision: str):
        if threads:
            torch.set_num_threads(threads)
        self.model = load_swap_model(decoder_file, weights, precision)

    def encode(self, painting: np.ndarray, max_patches: int | None,
               rank: int) -> tuple[swap_index.StyleIndex, swap_index.StyleColour]:
        with torch.inference_mode():
            rgb = frames_to_rgb(torch.from_numpy(painting[None]))
            features = self.model.encoder(rgb)["relu3_1"].numpy()
        return swap_index.style_inputs(features, max_patches, rank)

    def run(self, frames: np.ndarray,
            style: tuple[swap_index.StyleIndex, swap_index.StyleColour]) -> np.ndarray:
        with torch.inference_mode():
            return self.model(torch.from_numpy(frames),
                              *(torch.from_numpy(a) for a in (*style[0], *style[1]))).numpy()


def _matching_encoder(decoder_file: Path, meta: dict, ours: str) -> nn.Module:
    """The VGG encoder, refused unless it is the one the decoder was trained to invert.

    A decoder inverts one set of VGG weights only: torchvision's and the Oxford VGG19 (the
    shipped decoder's) differ ~100x in activation scale and in every filter, and the other
    one's features decode to noise. So a mismatch is an error, caught before any download.
    """
    from rtstyle.nets.vgg import VGGFeatures

    trained_with = meta.get("config", {}).get("vgg_weights", "imagenet")
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


def exported_graph(decoder_file: Path, weights: str, cache: Path) -> Path:
    """The fp32 swap graph for this decoder and encoder, exported once and kept in `cache`."""
    model = load_swap_model(decoder_file, weights)
    digest = hashlib.sha256(Path(decoder_file).read_bytes())
    digest.update(encoder_fingerprint(model.encoder).encode())
    path = cache / f"swap-{digest.hexdigest()[:16]}-{GRAPH_FORM}-{__version__}.onnx"
    if not path.exists():
        export_swap_onnx(model, path)
    return path


def export_swap_onnx(model: SwapModel, path: Path) -> Path:
    """One graph for every style: inputs `frames` (uint8 N,H,W,3; H, W multiples of 4) and
    a painting's index and colour (`tables`, `basis`, `codes`, `colour`, `mean`, float32),
    output `styled` frames.
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
