"""The inverse net f: relu3_1 features back to an RGB image, trained once for all styles.

A light mirror of VGG19 up to relu3_1 (reflection-padded 3x3 convs, nearest x2 upsampling),
narrower than VGG so decoding costs less than encoding. It predicts the ImageNet-normalised
image the encoder expects and maps it back to RGB 0..255, which keeps its raw outputs near
unit scale while training; likewise its input is divided by `feature_scale` (the RMS of
the encoder's relu3_1 on photos, ~400 for the offline VGG19), without which the first convs
see inputs in the thousands and training crawls. Saved as safetensors with the training
record in the metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import nn

from rtstyle.errors import RtstyleError
from rtstyle.files import write_bytes_atomic
from rtstyle.nets.vgg import MEAN, STD
from rtstyle.swap.graph import BUILTIN_DECODER

FORMAT = "rtstyle-swap-decoder"
META_KEY = "rtstyle"
BUILTIN = BUILTIN_DECODER  # the shipped decoder
FEATURES = 256  # relu3_1 channels


def _conv(cin: int, cout: int, relu: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
    return layers + [nn.ReLU()] if relu else layers


class Decoder(nn.Module):
    """(N, 256, h, w) relu3_1 features -> (N, 3, 4h, 4w) RGB in 0..255 (unclamped)."""

    def __init__(self, widths: tuple[int, int, int] = (128, 64, 32), feature_scale: float = 1.0):
        super().__init__()
        w1, w2, w3 = widths
        self.widths, self.feature_scale = tuple(widths), float(feature_scale)
        self.body = nn.Sequential(
            *_conv(FEATURES, w1), nn.Upsample(scale_factor=2, mode="nearest"),
            *_conv(w1, w2), *_conv(w2, w2), nn.Upsample(scale_factor=2, mode="nearest"),
            *_conv(w2, w3), *_conv(w3, 3, relu=False))
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1) * 255.0,
                             persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1) * 255.0,
                             persistent=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.body(features / self.feature_scale) * self.std + self.mean


def encoder_fingerprint(encoder: nn.Module) -> str:
    """A short hash of the encoder's weights: a decoder only inverts the encoder it was
    trained with, so the engine compares this with the one in the decoder's record."""
    digest = hashlib.sha256()
    for name, tensor in sorted(encoder.state_dict().items()):
        if name.startswith("body."):
            digest.update(name.encode() + tensor.float().numpy().tobytes())
    return digest.hexdigest()[:16]


def save_decoder(path: Path, net: Decoder, record: dict[str, Any]) -> None:
    """Write the weights and `record` (how it was trained) atomically."""
    meta = {"format": FORMAT, "widths": list(net.widths), "feature_scale": net.feature_scale,
            **record}
    tensors = {k: v.detach().float().contiguous().cpu() for k, v in net.state_dict().items()}
    write_bytes_atomic(Path(path), save(tensors, metadata={META_KEY: json.dumps(meta)}))


def load_decoder(path: Path = BUILTIN) -> tuple[Decoder, dict[str, Any]]:
    """The decoder in `path` (default: the shipped one) and its metadata."""
    path = Path(path)
    if not path.is_file():
        raise RtstyleError(f"style-swap decoder {path} not found; train one with "
                           "`rtstyle train-swap` or reinstall rtstyle")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get(META_KEY, "{}"))
            state = {k: f.get_tensor(k).float() for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise RtstyleError(f"style-swap decoder {path} is corrupt or truncated ({e}); "
                           "re-train it with `rtstyle train-swap`") from e
    if meta.get("format") != FORMAT:
        raise RtstyleError(f"{path} is not a style-swap decoder; train one with "
                           "`rtstyle train-swap`")
    net = Decoder(tuple(meta["widths"]), meta.get("feature_scale", 1.0))
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise RtstyleError(f"style-swap decoder {path} does not match its recorded widths; "
                           "re-train it") from e
    return net.eval(), meta
