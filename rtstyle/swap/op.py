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
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from rtstyle.errors import RtstyleError

EPS = 1e-8
RANK = 64  # principal directions used to rank style patches (see docs/swap.md)
FIT_ROWS = 1024  # patches the directions are fitted on


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


def paste(idx: torch.Tensor, columns: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Overlap-add the chosen raw patches, mean of the overlaps: (N, C, H, W).

    idx (N, H-2, W-2) indexes `columns` (C*9, n), the raw patches as a conv weight's
    columns. Equal to conv_transpose2d(one_hot, raw_patches) / conv_transpose2d(one_hot,
    ones), at positions x C*9 instead of positions x n x C*9 MACs. Torch overlap-adds with
    `fold`; ONNX's Col2Im needs a static size, so the exported graph uses the equivalent
    grouped transposed conv with a 0/1 kernel, which keeps frame sizes dynamic.
    """
    n_frames, h, w = idx.shape
    chosen = columns[:, idx.reshape(-1)]  # (C*9, N*L)
    chosen = chosen.reshape(columns.shape[0], n_frames, -1).transpose(0, 1)
    if torch.onnx.is_in_onnx_export():
        c = int(columns.shape[0]) // 9  # the channels: a constant of the graph
        eye = torch.eye(9, dtype=columns.dtype).reshape(9, 1, 3, 3).repeat(c, 1, 1, 1)
        total = F.conv_transpose2d(chosen.reshape(n_frames, c * 9, h, w), eye, groups=c)
    else:
        total = F.fold(chosen, size, 3)
    ones = torch.ones_like(idx[:1, None], dtype=columns.dtype)
    return total / F.conv_transpose2d(ones, ones.new_ones(1, 1, 3, 3))


def swap(content: torch.Tensor, patches: torch.Tensor,
         normed: torch.Tensor | None = None) -> torch.Tensor:
    """Style-swap content features (N, C, H, W) with raw style patches (n, C, 3, 3) by the
    exact cosine argmax. `normed` may pass precomputed (possibly lower-precision)
    normalised patches. Needs H, W >= 3; returns features of the content's shape."""
    if normed is None:
        normed = normalise(patches)
    idx = nearest_patch(content, normed)  # (N, h-2, w-2)
    columns = patches.reshape(patches.shape[0], -1).T.to(content.dtype)
    return paste(idx, columns, content.shape[2:])


class StyleIndex(NamedTuple):
    """What the matching needs from one painting, computed once by `index_style`."""

    columns: torch.Tensor  # (C*9, n) raw patches as columns, pasted into the output
    basis: torch.Tensor  # (k, C, 3, 3) orthonormal directions, a conv's weights
    codes: torch.Tensor  # (n, k) each normalised, centred patch in that basis


def unique_directions(patches: torch.Tensor) -> torch.Tensor:
    """The patches with duplicate directions dropped, keeping the first of each: a patch
    and any positive multiple of it tie for every content patch (flat painting areas give
    many). Bitwise-equal normalised patches count as duplicates; with power-of-two
    multiples and zero patches that catches the common cases cheaply."""
    flat = normalise(patches).reshape(patches.shape[0], -1)
    _, inverse = torch.unique(flat, dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), patches.shape[0], dtype=torch.long)
    first = first.scatter_reduce(0, inverse, torch.arange(patches.shape[0]), "amin")
    return patches[first.sort().values]


def principal_directions(x: torch.Tensor, k: int, iters: int = 2, seed: int = 0) -> torch.Tensor:
    """(k, D) orthonormal top-k right singular vectors of x (n, D): randomised SVD (Halko et
    al. 2011) with a seeded generator, so one painting always gives the same index."""
    g = torch.Generator().manual_seed(seed)
    q = min(k + 8, *x.shape)
    y = x.T @ (x @ torch.randn(x.shape[1], q, generator=g, dtype=x.dtype))
    for _ in range(iters):
        y = torch.linalg.qr(y).Q
        y = x.T @ (x @ y)
    basis = torch.linalg.qr(y).Q  # (D, q), spans the top right singular subspace
    _, _, vh = torch.linalg.svd(x @ basis, full_matrices=False)
    return vh[:k] @ basis.T


def index_style(patches: torch.Tensor, rank: int = RANK) -> StyleIndex:
    """Dedupe `patches` by direction and project their normalised, centred versions on
    their top `rank` principal directions. Centring drops c . mean, the same for every
    style patch, so it does not change the ranking."""
    patches = unique_directions(patches)
    n, c = patches.shape[:2]
    flat = normalise(patches).reshape(n, -1)
    centred = flat - flat.mean(dim=0)
    # fitted on an evenly spaced subset: the directions barely move, the switch gets faster
    basis = principal_directions(centred[::max(1, n // FIT_ROWS)], min(rank, n))
    return StyleIndex(patches.reshape(n, -1).T.contiguous(),
                      basis.reshape(-1, c, 3, 3).contiguous(),
                      (centred @ basis.T).contiguous())


def swap_indexed(content: torch.Tensor, columns: torch.Tensor, basis: torch.Tensor,
                 codes: torch.Tensor) -> torch.Tensor:
    """Style-swap content features (N, C, H, W) with a painting's `StyleIndex` fields."""
    projected = F.conv2d(content.to(basis.dtype), basis).flatten(2)  # (N, k, L)
    scores = projected.transpose(1, 2) @ codes.to(basis.dtype).T  # (N, L, n)
    idx = scores.argmax(dim=-1).reshape(content.shape[0], content.shape[2] - 2,
                                        content.shape[3] - 2)
    return paste(idx, columns.to(content.dtype), content.shape[2:])
