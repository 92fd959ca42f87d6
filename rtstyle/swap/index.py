"""What the style-swap graph needs from one painting, computed once, in numpy.

`index_style` dedupes the painting's 3x3 feature patches by direction, finds the top
`rank` principal directions of the normalised patches (a randomised SVD) and each
patch's coordinates in them; the swap graph (op.swap_indexed) takes the result as
inputs. `colour_stats` gives the painting's feature statistics that the graph colours
the swapped features with (op.recolour). In numpy so the light install (no torch) and
every backend compute the same inputs; see op.py for the matching and colouring they serve.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rtstyle.errors import RtstyleError

EPS = 1e-8
RANK = 64  # principal directions used to rank style patches (see docs/swap.md)
FIT_ROWS = 1024  # patches the directions are fitted on
COLOUR_EPS = 1e-3  # ridge, relative to the mean eigenvalue (op.recolour uses the same)


class StyleIndex(NamedTuple):
    """What the matching needs from one painting (arrays of the features' dtype)."""

    tables: np.ndarray  # (9 * (n + 1), C) raw patches per offset, pasted (patch_tables)
    basis: np.ndarray  # (k, C, 3, 3) orthonormal directions, a conv's weights
    codes: np.ndarray  # (n, k) each normalised, centred patch in that basis


def style_patches(style: np.ndarray, max_patches: int | None = None) -> np.ndarray:
    """(1, C, H, W) style features -> (n, C, 3, 3) raw 3x3 patches at stride 1, in the
    order of torch's unfold (row-major positions). `max_patches` keeps an evenly spaced
    subset (a budget on the swap's cost)."""
    if style.shape[0] != 1:
        raise ValueError("style_patches takes the features of one style image")
    c, h, w = style.shape[1:]
    if h < 3 or w < 3:
        raise RtstyleError(f"style features are {w}x{h}, too small for one 3x3 patch; "
                           "use a style image of at least 16x16 px")
    windows = np.lib.stride_tricks.sliding_window_view(style[0], (3, 3), axis=(1, 2))
    patches = windows.transpose(1, 2, 0, 3, 4).reshape(-1, c, 3, 3)
    n = patches.shape[0]
    if max_patches and n > max_patches:
        patches = patches[np.round(np.linspace(0, n - 1, max_patches)).astype(np.int64)]
    return np.ascontiguousarray(patches)


def normalise(patches: np.ndarray) -> np.ndarray:
    """Each patch divided by its L2 norm: the conv weights whose outputs rank by cosine."""
    norms = np.sqrt(np.square(patches).sum(axis=(1, 2, 3), keepdims=True))
    return patches / np.maximum(norms, EPS)


def patch_tables(patches: np.ndarray) -> np.ndarray:
    """(n, C, 3, 3) raw patches -> the paste's lookup table (9 * (n + 1), C).

    Row o * (n + 1) + i holds patch i's C values at offset o = 3 * dy + dx of its 3x3
    window; row o * (n + 1) + n is zeros, what positions outside the frame paste."""
    n, c = patches.shape[:2]
    per_offset = patches.transpose(2, 3, 0, 1).reshape(9, n, c)
    zeros = np.zeros((9, 1, c), patches.dtype)
    return np.ascontiguousarray(np.concatenate([per_offset, zeros], axis=1).reshape(-1, c))


def unique_directions(patches: np.ndarray) -> np.ndarray:
    """The patches with duplicate directions dropped, keeping the first of each: a patch
    and any positive multiple of it tie for every content patch (flat painting areas give
    many). Bitwise-equal normalised patches count as duplicates; with power-of-two
    multiples and zero patches that catches the common cases cheaply."""
    flat = normalise(patches).reshape(patches.shape[0], -1)
    _, first = np.unique(flat, axis=0, return_index=True)
    return patches[np.sort(first)]


def principal_directions(x: np.ndarray, k: int, iters: int = 2, seed: int = 0) -> np.ndarray:
    """(k, D) orthonormal top-k right singular vectors of x (n, D): randomised SVD (Halko et
    al. 2011) with a seeded generator, so one painting always gives the same index."""
    q = min(k + 8, *x.shape)
    probe = np.random.default_rng(seed).standard_normal((x.shape[1], q)).astype(x.dtype)
    y = x.T @ (x @ probe)
    for _ in range(iters):
        y = x.T @ (x @ np.linalg.qr(y)[0])
    basis = np.linalg.qr(y)[0]  # (D, q), spans the top right singular subspace
    _, _, vh = np.linalg.svd(x @ basis, full_matrices=False)
    return vh[:k] @ basis.T


def index_style(patches: np.ndarray, rank: int = RANK) -> StyleIndex:
    """Dedupe `patches` by direction and project their normalised, centred versions on
    their top `rank` principal directions. Centring drops c . mean, the same for every
    style patch, so it does not change the ranking."""
    patches = unique_directions(np.asarray(patches))
    n, c = patches.shape[:2]
    flat = normalise(patches).reshape(n, -1)
    centred = flat - flat.mean(axis=0)
    # fitted on an evenly spaced subset: the directions barely move, the switch gets faster
    basis = principal_directions(centred[::max(1, n // FIT_ROWS)], min(rank, n))
    return StyleIndex(patch_tables(patches),
                      np.ascontiguousarray(basis.reshape(-1, c, 3, 3)),
                      np.ascontiguousarray(centred @ basis.T))


class StyleColour(NamedTuple):
    """The painting's relu3_1 statistics the swapped features are coloured with."""

    colour: np.ndarray  # (C, C) float32 square root of the feature covariance
    mean: np.ndarray  # (C,) float32 mean feature


def colour_stats(features: np.ndarray) -> StyleColour:
    """The painting's StyleColour from its (1, C, H, W) features: the covariance (plus the
    COLOUR_EPS ridge) and its square root by eigh, in float64, once per painting."""
    x = np.asarray(features, np.float64).reshape(features.shape[1], -1)
    mean = x.mean(axis=1)
    xc = x - mean[:, None]
    cov = xc @ xc.T / x.shape[1]
    cov += np.eye(cov.shape[0]) * (np.trace(cov) / cov.shape[0] * COLOUR_EPS)
    values, vectors = np.linalg.eigh(cov)
    root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    return StyleColour(np.ascontiguousarray(root, np.float32), mean.astype(np.float32))


def style_inputs(features: np.ndarray, max_patches: int | None,
                 rank: int) -> tuple[StyleIndex, StyleColour]:
    """All the swap graph takes from a painting's (1, C, H, W) relu3_1 features."""
    return index_style(style_patches(features, max_patches), rank), colour_stats(features)


def style_feeds(style: tuple[StyleIndex, StyleColour]) -> dict[str, np.ndarray]:
    """A painting's inputs to the swap graph, by name (the graph's input names)."""
    return dict(zip(StyleIndex._fields + StyleColour._fields, (*style[0], *style[1]),
                    strict=True))
