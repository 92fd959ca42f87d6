"""The swap op against a brute-force nearest-patch reference, ties included, and its ONNX graph."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from rtstyle.errors import RtstyleError
from rtstyle.swap.op import style_patches, swap


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


def test_ties_go_to_the_lowest_index():
    """A patch and its double have the same cosine to everything: the first one must win,
    in the fast op exactly as in the reference."""
    g = torch.Generator().manual_seed(1)
    content = torch.randn(2, 4, 6, 6, generator=g, dtype=torch.float64)
    base = torch.randn(5, 4, 3, 3, generator=g, dtype=torch.float64)
    plain = swap(content, base)
    first_small = torch.cat([base, 2 * base])
    first_big = torch.cat([2 * base, base])
    assert torch.equal(swap(content, first_small), plain)
    assert torch.equal(swap(content, first_big), 2 * plain)
    for patches in (first_small, first_big):
        assert torch.allclose(swap(content, patches), reference_swap(content, patches),
                              rtol=0, atol=1e-12)


def test_swap_of_style_with_itself_is_identity():
    """Every patch of the style is its own best match, so the style comes back unchanged."""
    g = torch.Generator().manual_seed(2)
    style = torch.rand(1, 16, 7, 9, generator=g, dtype=torch.float64) + 0.1
    assert torch.allclose(swap(style, style_patches(style)), style, atol=1e-12)


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


def test_onnx_graph_with_patches_as_input_matches_torch(tmp_path):
    """One exported graph serves any number of style patches and any content size."""
    path = tmp_path / "swap.onnx"
    torch.onnx.export(_Swap(), (torch.rand(1, 8, 6, 7), torch.rand(5, 8, 3, 3)), str(path),
                      input_names=["content", "patches"], output_names=["out"],
                      opset_version=17, dynamo=False,
                      dynamic_axes={"content": {0: "n", 2: "h", 3: "w"}, "patches": {0: "k"},
                                    "out": {0: "n", 2: "h", 3: "w"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(3)
    for shape, k in [((2, 8, 9, 5), 30), ((1, 8, 3, 3), 1), ((1, 8, 12, 14), 200)]:
        content = torch.rand(shape, generator=g)
        patches = torch.rand(k, 8, 3, 3, generator=g)
        got = session.run(None, {"content": content.numpy(), "patches": patches.numpy()})[0]
        np.testing.assert_allclose(got, swap(content, patches).numpy(), rtol=1e-5, atol=1e-5)
