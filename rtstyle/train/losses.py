"""Perceptual losses (Johnson et al. 2016) measured through a fixed VGG19.

content: mean squared feature distance at one layer (normalised by C*H*W).
style:   sum over layers of the squared Frobenius distance of Gram matrices
         G = F F^T / (C*H*W).
tv:      mean squared difference of neighbouring pixels, image scaled to 0..1.
All terms are averaged over the batch, so they do not depend on batch size.

`PerceptualLoss` divides each content layer's term by the mean square of its target
features and each style layer's by ||G_style||_F^2, so the terms read as relative
errors and one set of weights works whatever the VGG weights' scale (the offline
Keras-converted VGG's activations are ~100x torchvision's).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from rtstyle.errors import RtstyleError
from rtstyle.nets.vgg import LAYERS, VGGFeatures
from rtstyle.train import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS


def gram(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C) Gram matrices F F^T / (C*H*W)."""
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def content_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared feature distance divided by C*H*W, averaged over the batch."""
    return (out - target).square().mean()


def style_loss(out_grams: list[torch.Tensor], style_grams: list[torch.Tensor]) -> torch.Tensor:
    """Sum over layers of ||G_out - G_style||_F^2, averaged over the batch.

    `style_grams` are (1, C, C) or (N, C, C); they broadcast over the batch.
    """
    total = out_grams[0].new_zeros(())
    for g, s in zip(out_grams, style_grams, strict=True):
        total = total + (g - s).square().sum(dim=(1, 2)).mean()
    return total


def tv_loss(rgb255: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of neighbouring pixels, image in 0..1."""
    x = rgb255 / 255.0
    return ((x[..., 1:, :] - x[..., :-1, :]).square().mean()
            + (x[..., :, 1:] - x[..., :, :-1]).square().mean())


def stability_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator,
                   max_shift: int = 2, noise: float = 4.0) -> torch.Tensor:
    """How much the output moves when the input barely does (ReCoNet-style, on shifted crops).

    A video frame is the last one shifted a little plus sensor noise; a net that answers
    with other brush strokes flickers. So the batch `x` (0..255, its output `y = net(x)`)
    is shifted by up to `max_shift` px and noised (sigma `noise` grey levels), and the
    output is compared with `y` shifted the same way, away from the wrapped borders. The
    mean squared difference is divided by the noise's, so it reads as the net's gain on
    a small change: 1 for the identity, and ~100 for an untrained strong style.
    """
    dy, dx = (int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,), generator=gen))
    moved = torch.roll(x, (dy, dx), dims=(2, 3))
    moved = moved + noise * torch.randn(moved.shape, generator=gen)
    diff = net(moved) - torch.roll(y, (dy, dx), dims=(2, 3))
    m = max_shift + 8  # the roll wraps rows and columns: leave them out
    return diff[..., m:-m, m:-m].square().mean() / noise**2


def check_layers(layers: Sequence[str], what: str) -> list[str]:
    if not layers:
        raise RtstyleError(f"give at least one {what} layer, e.g. relu2_2")
    bad = [name for name in layers if not name.startswith("relu") or name not in LAYERS]
    if bad:
        raise RtstyleError(f"{what} layer(s) {bad} unknown; use VGG19 ReLU names like relu2_2")
    return list(layers)


class PerceptualLoss(nn.Module):
    """Content, style and TV terms of a stylised batch against its content batch and one style."""

    def __init__(self, style_rgb255: torch.Tensor, vgg_weights: str | Path = "builtin",
                 content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS,
                 style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS):
        super().__init__()
        self.content_layers = check_layers(content_layers, "content")
        self.style_layers = check_layers(style_layers, "style")
        self.vgg = VGGFeatures(self.content_layers + self.style_layers, vgg_weights)
        with torch.no_grad():
            feats = self.vgg(style_rgb255)
        for i, name in enumerate(self.style_layers):
            self.register_buffer(f"style_gram{i}", gram(feats[name]))

    @property
    def style_grams(self) -> list[torch.Tensor]:
        return [getattr(self, f"style_gram{i}") for i in range(len(self.style_layers))]

    def content_targets(self, content_rgb255: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            feats = self.vgg(content_rgb255)
        return {name: feats[name] for name in self.content_layers}

    def forward(self, out_rgb255: torch.Tensor,
                targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """{'content', 'style', 'tv'} (unweighted) for the stylised batch `out_rgb255`."""
        feats = self.vgg(out_rgb255)
        content = sum(content_loss(feats[n], targets[n]) / targets[n].square().mean()
                      for n in self.content_layers)
        style = sum(style_loss([gram(feats[n])], [s]) / s.square().sum()
                    for n, s in zip(self.style_layers, self.style_grams, strict=True))
        return {"content": content, "style": style, "tv": tv_loss(out_rgb255)}
