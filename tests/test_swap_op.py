"""The swap op against a brute-force nearest-patch reference, ties included, its projected
(indexed) form, and their ONNX graphs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from rtstyle.errors import RtstyleError
from rtstyle.swap.op import (
    colour_stats,
    index_style,
    inverse_sqrt,
    patch_tables,
    recolour,
    style_patches,
    swap,
    swap_indexed,
    unique_directions,
)


def reference_swap(content: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
    """Loop over every 3x3 content position, pick the first style patch of highest cosine
    similarity, paste its raw values, average where pastes overlap."""
    n, c, h, w = content.shape
    flat = patches.reshape(patches.shape[0], -1)
    unit = flat / flat.norm(dim=1, keepdim=True)
    out = torch.zeros_like(content)
    count = torch.zeros_like(content)
    for b in range(n):
        for y in range(h - 2):
            for x in range(w - 2):
                scores = [float(u @ content[b, :, y:y + 3, x:x + 3].reshape(-1)) for u in unit]
                best = scores.index(max(scores))  # first of the tied maxima
                out[b, :, y:y + 3, x:x + 3] += patches[best]
                count[b, :, y:y + 3, x:x + 3] += 1
    return out / count


@pytest.mark.parametrize("shape", [(1, 4, 5, 6), (2, 3, 7, 4), (1, 8, 3, 3)])
def test_swap_equals_brute_force(shape):
    g = torch.Generator().manual_seed(sum(shape))
    content = torch.randn(shape, generator=g, dtype=torch.float64)
    style = torch.randn(1, shape[1], 6, 5, generator=g, dtype=torch.float64)
    patches = style_patches(style)
    assert patches.shape == (4 * 3, shape[1], 3, 3)
    expected = reference_swap(content, patches)
    assert torch.allclose(swap(content, patches), expected, rtol=0, atol=1e-12)
    # 12 patches span at most 11 centred directions: the rank-64 projection is exact
    assert torch.allclose(swap_indexed(content, *index_style(patches)), expected,
                          rtol=0, atol=1e-12)


def test_ties_go_to_the_first_patch():
    """A patch and its double (or any zero patches) tie for every content patch. Which of
    two bitwise-near scores an argmax picks hangs on the CPU's conv kernel, so the tie is
    settled before matching: index_style keeps the first patch of each direction, and the
    result equals the reference's first-of-the-maxima to a tolerance on any CPU."""
    g = torch.Generator().manual_seed(1)
    content = torch.randn(2, 4, 6, 6, generator=g, dtype=torch.float64)
    base = torch.randn(5, 4, 3, 3, generator=g, dtype=torch.float64)
    first_small = torch.cat([base, 2 * base])
    first_big = torch.cat([2 * base, base])
    small, big = index_style(first_small), index_style(first_big)
    assert torch.equal(small.tables, patch_tables(base))
    assert torch.equal(big.tables, patch_tables(2 * base))
    zero = torch.zeros(1, 4, 3, 3, dtype=torch.float64)
    assert torch.equal(unique_directions(torch.cat([zero, base, zero, 4 * base[:2]])),
                       torch.cat([zero, base]))
    plain = reference_swap(content, base)
    assert torch.allclose(swap_indexed(content, *small), plain, rtol=0, atol=1e-9)
    assert torch.allclose(swap_indexed(content, *big), 2 * plain, rtol=0, atol=1e-9)
    for patches, index in ((first_small, small), (first_big, big)):
        assert torch.allclose(swap_indexed(content, *index), reference_swap(content, patches),
                              rtol=0, atol=1e-9)


def test_low_rank_index_ranks_nearly_as_well_as_the_exact_match():
    """Beyond `rank` directions the projected argmax is approximate: the exact cosine of the
    patch it picks stays within a few percent of the best one's."""
    g = torch.Generator().manual_seed(4)
    low = torch.rand(1, 32, 24, 24, generator=g) @ torch.rand(24, 24, generator=g)
    style = torch.relu(low + 0.2 * torch.randn(1, 32, 24, 24, generator=g))
    content = torch.relu(torch.randn(1, 32, 20, 20, generator=g) + 0.5)
    patches = style_patches(style)
    index = index_style(patches, rank=16)
    assert index.basis.shape == (16, 32, 3, 3) and index.codes.shape == (patches.shape[0], 16)
    unit = patches.reshape(patches.shape[0], -1)
    unit = unit / unit.norm(dim=1, keepdim=True)
    cols = torch.nn.functional.unfold(content, 3)[0].T  # (positions, 288)
    exact = cols @ unit.T
    best = exact.max(dim=1).values
    assert swap_indexed(content, *index).shape == content.shape
    projected = (cols @ index.basis.reshape(16, -1).T) @ index.codes.T
    picked = exact.gather(1, projected.argmax(dim=1, keepdim=True))[:, 0]
    assert float(((best - picked) / best).mean()) < 0.05


def test_swap_of_style_with_itself_is_identity():
    """Every patch of the style is its own best match, so the style comes back unchanged."""
    g = torch.Generator().manual_seed(2)
    style = torch.rand(1, 16, 7, 9, generator=g, dtype=torch.float64) + 0.1
    assert torch.allclose(swap(style, style_patches(style)), style, atol=1e-12)
    assert torch.allclose(swap_indexed(style, *index_style(style_patches(style))), style,
                          atol=1e-12)


def test_max_patches_keeps_an_evenly_spaced_subset():
    style = torch.arange(2 * 6 * 6, dtype=torch.float32).reshape(1, 2, 6, 6)
    full = style_patches(style)
    sub = style_patches(style, max_patches=5)
    assert sub.shape[0] == 5
    assert torch.equal(sub[0], full[0]) and torch.equal(sub[-1], full[-1])
    assert style_patches(style, max_patches=100).shape[0] == full.shape[0] == 16


def test_style_too_small_for_a_patch():
    with pytest.raises(RtstyleError, match="too small for one 3x3 patch"):
        style_patches(torch.zeros(1, 4, 2, 9))


class _Swap(nn.Module):
    def forward(self, content: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
        return swap(content, patches)


class _SwapIndexed(nn.Module):
    def forward(self, content, tables, basis, codes):
        return swap_indexed(content, tables, basis, codes)


def test_onnx_graph_with_patches_as_input_matches_torch(tmp_path):
    """One exported graph serves any number of style patches and any content size."""
    path = tmp_path / "swap.onnx"
    torch.onnx.export(_Swap(), (torch.rand(1, 8, 6, 7), torch.rand(5, 8, 3, 3)), str(path),
                      input_names=["content", "patches"], output_names=["out"],
                      opset_version=18, dynamo=False,
                      dynamic_axes={"content": {0: "n", 2: "h", 3: "w"}, "patches": {0: "k"},
                                    "out": {0: "n", 2: "h", 3: "w"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(3)
    for shape, k in [((2, 8, 9, 5), 30), ((1, 8, 3, 3), 1), ((1, 8, 12, 14), 200)]:
        content = torch.rand(shape, generator=g)
        patches = torch.rand(k, 8, 3, 3, generator=g)
        got = session.run(None, {"content": content.numpy(), "patches": patches.numpy()})[0]
        np.testing.assert_allclose(got, swap(content, patches).numpy(), rtol=1e-5, atol=1e-5)


def test_onnx_graph_of_the_indexed_swap_matches_torch(tmp_path):
    """The engine's form: the painting's index (tables, basis, codes) as graph inputs."""
    path = tmp_path / "swap-indexed.onnx"
    g = torch.Generator().manual_seed(5)
    example = index_style(torch.rand(30, 8, 3, 3, generator=g), rank=4)
    torch.onnx.export(_SwapIndexed(), (torch.rand(1, 8, 6, 7), *example), str(path),
                      input_names=["content", "tables", "basis", "codes"],
                      output_names=["out"], opset_version=18, dynamo=False,
                      dynamic_axes={"content": {0: "n", 2: "h", 3: "w"},
                                    "tables": {0: "k"}, "basis": {0: "r"},
                                    "codes": {0: "k", 1: "r"}, "out": {0: "n", 2: "h", 3: "w"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape, k, rank in [((2, 8, 9, 5), 40, 6), ((1, 8, 3, 3), 1, 64), ((1, 8, 12, 14), 200, 16)]:
        content = torch.rand(shape, generator=g)
        index = index_style(torch.rand(k, 8, 3, 3, generator=g), rank)
        feeds = dict(zip(["tables", "basis", "codes"], [t.numpy() for t in index], strict=True))
        got = session.run(None, {"content": content.numpy(), **feeds})[0]
        np.testing.assert_allclose(got, swap_indexed(content, *index).numpy(), rtol=1e-5,
                                   atol=1e-5)


def test_newton_schulz_inverse_sqrt_matches_eigh():
    """The graph's inverse square root (matmuls only) against the eigendecomposition, on a
    covariance spread over four decades as relu3_1's are."""
    g = torch.Generator().manual_seed(0)
    q = torch.linalg.qr(torch.randn(32, 32, generator=g, dtype=torch.float64)).Q
    cov = q @ torch.diag(torch.logspace(0, 4, 32, dtype=torch.float64)) @ q.T
    values, vectors = torch.linalg.eigh(cov)
    expected = vectors @ torch.diag(values.rsqrt()) @ vectors.T
    got = inverse_sqrt(cov[None].float())[0].double()
    assert torch.linalg.matrix_norm(got - expected) / torch.linalg.matrix_norm(expected) < 1e-3


def test_recolour_gives_the_paintings_statistics():
    """Recoloured features take the painting's mean and covariance, whatever the frame's
    were (positive features, so the clamp at 0 barely bites)."""
    g = torch.Generator().manual_seed(1)
    mix = torch.rand(16, 16, generator=g)
    style = (mix @ torch.rand(1, 16, 80 * 80, generator=g) * 3 + 5).reshape(1, 16, 80, 80)
    frame = (mix.T @ torch.rand(2, 16, 80 * 80, generator=g) + 1).reshape(2, 16, 80, 80)
    want = colour_stats(style)
    out = recolour(frame, *want)
    for got in out.split(1):
        stats = colour_stats(got)
        cov = stats.colour @ stats.colour
        assert torch.allclose(stats.mean, want.mean, rtol=0.02)
        assert (cov - want.colour @ want.colour).norm() / cov.norm() < 0.05
