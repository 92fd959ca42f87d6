"""The style-swap op: replace each 3x3 content feature patch by the most similar style patch.

Similarity is the cosine of the content patch with each style patch, so it is a conv with the
L2-normalised style patches followed by a channel argmax (ties go to the lowest index, as
torch.argmax and ONNX ArgMax both do). The paper then applies a transposed conv of the one-hot
argmax map with the raw patches; that equals gathering the chosen raw patch at each position
and overlap-adding it, which is what `swap` does, at positions x 2304 MACs instead of
n_patches x positions x 2304. Dividing by the overlap count turns the sum into a mean.
Everything here is plain torch ops that export to ONNX with the patches as a graph input.

Matching every content patch with every style patch costs positions x n x 2304 MACs (340
GFLOP a 640x480 frame with a 256 px painting), more than the encoder and decoder together.
`index_style` computes once per painting what the matching needs: the patches deduplicated
by direction, the top `rank` principal directions of the normalised patches (a randomised
SVD) and each patch's coordinates in them. `swap_indexed` then projects each content patch
onto those directions (a conv with `rank` outputs) and ranks the style patches by the
projected dot product: positions x (2304 + n) x rank MACs, about 20x less at rank 64. It
is the exact cosine argmax whenever the centred patches span at most `rank` dimensions;
otherwise an approximate one (measured in docs/swap.md).

Ties: identical directions are merged in `index_style` (the first patch is kept), so the
matching never sees an exact tie and the result does not hang on a kernel's rounding.

The index itself is computed in numpy (index.py), so the light install computes the same
one; `style_patches` and `index_style` here are its torch front doors.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from rtstyle.swap import index
from rtstyle.swap.index import COLOUR_EPS, EPS, RANK


def style_patches(style: torch.Tensor, max_patches: int | None = None) -> torch.Tensor:
    """(1, C, H, W) style features -> (n, C, 3, 3) raw 3x3 patches at stride 1 (as
    index.style_patches); `max_patches` keeps an evenly spaced subset."""
    patches = index.style_patches(style.detach().float().cpu().numpy(), max_patches)
    return torch.from_numpy(patches).to(style.device, style.dtype)


def normalise(patches: torch.Tensor) -> torch.Tensor:
    """Each patch divided by its L2 norm: the conv weights whose outputs rank by cosine."""
    # keepdim (not a view) keeps the kernel's 3x3 shape known to the ONNX exporter
    norms = patches.square().sum(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(EPS)
    return patches / norms


def nearest_patch(content: torch.Tensor, normed: torch.Tensor) -> torch.Tensor:
    """Index of the best style patch at each valid 3x3 position: (N, H-2, W-2), int64."""
    scores = F.conv2d(content.to(normed.dtype), normed)
    return scores.argmax(dim=1)


def patch_tables(patches: torch.Tensor) -> torch.Tensor:
    """(n, C, 3, 3) raw patches -> the paste's lookup table (9 * (n + 1), C).

    Row o * (n + 1) + i holds patch i's C values at offset o = 3 * dy + dx of its 3x3
    window; row o * (n + 1) + n is zeros, what positions outside the frame paste."""
    n, c = patches.shape[:2]
    per_offset = patches.permute(2, 3, 0, 1).reshape(9, n, c)
    zeros = per_offset.new_zeros(9, 1, c)
    return torch.cat([per_offset, zeros], dim=1).reshape(9 * (n + 1), c).contiguous()


def paste(idx: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """Overlap-add the chosen raw patches, mean of the overlaps: (N, C, H, W).

    idx (N, H-2, W-2) indexes the patches of `tables` (see `patch_tables`). Each output
    position sums the 9 patches that cover it, each at its own offset: 9 row lookups of C
    values, at positions x 9 x C reads instead of the paper's positions x n x C*9 MACs
    (a transposed conv of the one-hot argmax map). Row lookups (Gather on axis 0) are
    memory copies on every backend; gathering the C*9 columns of a chosen patch was 4x
    slower in ONNX Runtime. Plain ops, so torch and the exported graph run the same code.
    """
    rows = tables.shape[0] // 9  # n + 1: the last row of each offset's block is zeros
    # a border of two positions that paste the zero row (index rows - 1), so every output
    # position has 9 lookups; shifted so the pad value is 0 and `rows` may vary per graph run
    padded = F.pad(idx - (rows - 1), (2, 2, 2, 2), value=0) + (rows - 1)
    total = None
    for dy in range(3):
        for dx in range(3):
            # positions whose patch covers (y, x) at offset (dy, dx) sit at (y - dy, x - dx)
            window = padded[:, 2 - dy:padded.shape[1] - dy, 2 - dx:padded.shape[2] - dx]
            got = F.embedding(window + (3 * dy + dx) * rows, tables)  # (N, H, W, C)
            total = got if total is None else total + got
    ones = torch.ones_like(idx[:1, None], dtype=tables.dtype)
    count = F.conv_transpose2d(ones, ones.new_ones(1, 1, 3, 3))  # (1, 1, H, W)
    return total.permute(0, 3, 1, 2) / count


def swap(content: torch.Tensor, patches: torch.Tensor,
         normed: torch.Tensor | None = None) -> torch.Tensor:
    """Style-swap content features (N, C, H, W) with raw style patches (n, C, 3, 3) by the
    exact cosine argmax. `normed` may pass precomputed (possibly lower-precision)
    normalised patches. Needs H, W >= 3; returns features of the content's shape."""
    if normed is None:
        normed = normalise(patches)
    idx = nearest_patch(content, normed)  # (N, h-2, w-2)
    return paste(idx, patch_tables(patches.to(content.dtype)))


class StyleIndex(NamedTuple):
    """index.StyleIndex as torch tensors: what the swap model takes besides frames."""

    tables: torch.Tensor
    basis: torch.Tensor
    codes: torch.Tensor


def unique_directions(patches: torch.Tensor) -> torch.Tensor:
    """index.unique_directions on torch tensors."""
    return torch.from_numpy(index.unique_directions(patches.numpy()))


def index_style(patches: torch.Tensor, rank: int = RANK) -> StyleIndex:
    """index.index_style on torch tensors (see there)."""
    return StyleIndex(*(torch.from_numpy(a) for a in index.index_style(patches.numpy(), rank)))


def swap_indexed(content: torch.Tensor, tables: torch.Tensor, basis: torch.Tensor,
                 codes: torch.Tensor) -> torch.Tensor:
    """Style-swap content features (N, C, H, W) with a painting's `StyleIndex` fields."""
    projected = F.conv2d(content.to(basis.dtype), basis).flatten(2)  # (N, k, L)
    scores = projected.transpose(1, 2) @ codes.to(basis.dtype).T  # (N, L, n)
    idx = scores.argmax(dim=-1).reshape(content.shape[0], content.shape[2] - 2,
                                        content.shape[3] - 2)
    return paste(idx, tables.to(content.dtype))


# The swap alone leaves the painting's feature statistics behind: a few style patches win
# most positions, so the decoded frame takes the painting's colours but few of its strokes
# (Gram ratio ~1.0 on unseen paintings, docs/swap.md). Whitening the swapped features and
# colouring them with the painting's covariance (the WCT of Li et al. 2017, applied after
# the swap) brings it to ~0.3. The painting's side is computed once per painting; the
# frame's inverse square root is Newton-Schulz iterations, plain matmuls that export to ONNX.
COLOUR_ITERS = 16  # Newton-Schulz steps: 15 are within 3e-5 of eigh on photo features


class StyleColour(NamedTuple):
    """index.StyleColour as torch tensors: the painting's statistics (see there)."""

    colour: torch.Tensor  # (C, C) square root of the feature covariance
    mean: torch.Tensor  # (C,) mean feature


def _covariance(x: torch.Tensor) -> torch.Tensor:
    """(N, C, L) features -> (N, C, C) covariance plus the COLOUR_EPS ridge."""
    xc = x - x.mean(dim=2, keepdim=True)
    cov = xc @ xc.transpose(1, 2) / x.shape[2]
    eye = torch.eye(cov.shape[1], dtype=cov.dtype, device=cov.device)
    ridge = (cov * eye).sum(dim=(1, 2), keepdim=True) / cov.shape[1] * COLOUR_EPS
    return cov + ridge * eye


def colour_stats(features: torch.Tensor) -> StyleColour:
    """index.colour_stats on torch tensors (eigh in numpy: once per painting)."""
    stats = index.colour_stats(features.detach().float().cpu().numpy())
    return StyleColour(*(torch.from_numpy(a) for a in stats))


def inverse_sqrt(cov: torch.Tensor, iters: int = COLOUR_ITERS) -> torch.Tensor:
    """(N, C, C) symmetric positive definite -> its inverse square root (coupled
    Newton-Schulz; the scaling by the Frobenius norm makes it converge)."""
    eye = torch.eye(cov.shape[1], dtype=cov.dtype, device=cov.device)
    norm = cov.square().sum(dim=(1, 2), keepdim=True).sqrt()
    y, z = cov / norm, eye.expand_as(cov)
    for _ in range(iters):
        t = 1.5 * eye - 0.5 * (z @ y)
        y, z = y @ t, t @ z
    return z / norm.sqrt()


def recolour(features: torch.Tensor, colour: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Whiten each frame's (N, C, H, W) features and colour them with the painting's
    statistics: one (C, C) matrix per frame, applied as a matmul plus a bias. Clamped at 0
    as relu3_1 is: the decoder never saw negative features, and decodes them to blotches."""
    n, c = features.shape[:2]
    x = features.flatten(2)  # all positions: a 320x240 frame has only 4800 for 256 channels
    m = colour @ inverse_sqrt(_covariance(x))  # (N, C, C)
    bias = mean.reshape(1, c, 1) - m @ x.mean(dim=2, keepdim=True)
    return (m @ x + bias).clamp_min(0).reshape(features.shape)
