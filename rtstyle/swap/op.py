"""The style-swap op: replace each 3x3 content feature patch by the most similar style patch.

Similarity is the cosine of the content patch with each style patch, so it is a conv with the
L2-normalised style patches followed by a channel argmax (ties go to the lowest index, as
torch.argmax and ONNX ArgMax both do). The paper then applies a transposed conv of the one-hot
argmax map with the raw patches; that equals gathering the chosen raw patch at each position
and overlap-adding it, which is what `swap` does, at positions x 2304 MACs instead of
n_patches x positions x 2304. Dividing by the overlap count turns the sum into a mean.
Everything here is plain torch ops that export to ONNX with the patches as a graph input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rtstyle.errors import RtstyleError

EPS = 1e-8


def style_patches(style: torch.Tensor, max_patches: int | None = None) -> torch.Tensor:
    """(1, C, H, W) style features -> (n, C, 3, 3) raw 3x3 patches at stride 1.

    `max_patches` keeps an evenly spaced subset (a budget on the swap's cost).
    """
    if style.shape[0] != 1:
        raise ValueError("style_patches takes the features of one style image")
    c, h, w = style.shape[1:]
    if h < 3 or w < 3:
        raise RtstyleError(f"style features are {w}x{h}, too small for one 3x3 patch; "
                           "use a style image of at least 16x16 px")
    cols = F.unfold(style, 3)[0]  # (C*9, n), channel-major like a conv weight
    patches = cols.T.reshape(-1, c, 3, 3)
    n = patches.shape[0]
    if max_patches and n > max_patches:
        keep = torch.linspace(0, n - 1, max_patches).round().long()
        patches = patches[keep]
    return patches.contiguous()


def normalise(patches: torch.Tensor) -> torch.Tensor:
    """Each patch divided by its L2 norm: the conv weights whose outputs rank by cosine."""
    # keepdim (not a view) keeps the kernel's 3x3 shape known to the ONNX exporter
    norms = patches.square().sum(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(EPS)
    return patches / norms


def nearest_patch(content: torch.Tensor, normed: torch.Tensor) -> torch.Tensor:
    """Index of the best style patch at each valid 3x3 position: (N, H-2, W-2), int64."""
    scores = F.conv2d(content.to(normed.dtype), normed)
    return scores.argmax(dim=1)


def overlap_add(chosen: torch.Tensor) -> torch.Tensor:
    """(N, h, w, C, 3, 3) patches at each position -> mean of the overlaps, (N, C, h+2, w+2).

    Equal to conv_transpose2d(one_hot, raw_patches) / conv_transpose2d(one_hot, ones).
    """
    total = 0
    for ky in range(3):
        for kx in range(3):
            piece = chosen[..., ky, kx].permute(0, 3, 1, 2)
            total = total + F.pad(piece, (kx, 2 - kx, ky, 2 - ky))
    ones = torch.ones_like(chosen[:1, :, :, :1, 0, 0]).permute(0, 3, 1, 2)
    count = F.conv_transpose2d(ones, ones.new_ones(1, 1, 3, 3))
    return total / count


def swap(content: torch.Tensor, patches: torch.Tensor,
         normed: torch.Tensor | None = None) -> torch.Tensor:
    """Style-swap content features (N, C, H, W) with raw style patches (n, C, 3, 3).

    `normed` may pass precomputed (possibly lower-precision) normalised patches.
    Needs H, W >= 3; returns features of the content's shape.
    """
    c = content.shape[1]
    if normed is None:
        normed = normalise(patches)
    idx = nearest_patch(content, normed)  # (N, h-2, w-2)
    chosen = patches.reshape(patches.shape[0], -1)[idx]  # (N, h-2, w-2, C*9)
    chosen = chosen.reshape(idx.shape + (c, 3, 3)).to(content.dtype)
    return overlap_add(chosen)
