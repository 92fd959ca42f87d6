"""--stabilize: less flicker where the scene is still, no smearing where it moves, and the
flicker metric itself (rtstyle.metrics, DESIGN.md "Metrics")."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rtstyle.metrics import flicker, masked_psnr, psnr, static_mask
from rtstyle.video.stabilize import Stabilizer

H = W = 96


def texture(seed: int, h: int = H, w: int = W) -> np.ndarray:
    """Smooth random colour texture (something optical flow can lock on to)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 2.0) * 3 - 250, 0, 255).astype(np.uint8)


def paint(content: np.ndarray) -> np.ndarray:
    """A stand-in stylisation that follows the content exactly (no flicker of its own)."""
    return cv2.applyColorMap(cv2.cvtColor(content, cv2.COLOR_BGR2GRAY), cv2.COLORMAP_JET)


def moving_square(n: int, step: int = 3) -> list[np.ndarray]:
    bg, fg = texture(1), texture(2, 32, 32)
    frames = []
    for t in range(n):
        f = bg.copy()
        x = 10 + step * t
        f[30:62, x:x + 32] = fg
        frames.append(f)
    return frames


def run(stab: Stabilizer, content, styled) -> list[np.ndarray]:
    return [stab(c, s) for c, s in zip(content, styled, strict=True)]


def test_static_scene_flicker_is_cut():
    rng = np.random.default_rng(0)
    base = texture(3)
    content = [np.clip(base + rng.normal(0, 1, base.shape), 0, 255).astype(np.uint8)
               for _ in range(30)]
    styled = [np.clip(paint(base) + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
              for _ in range(30)]
    out = run(Stabilizer(), content, styled)
    assert flicker(out, content) < 0.5 * flicker(styled, content)
    # ... and the result is still the stylisation (its average), not something else
    assert psnr(out[-1], paint(base)) > psnr(styled[-1], paint(base)) + 3


def test_moving_object_is_not_smeared():
    content = moving_square(12)
    styled = [paint(c) for c in content]
    out = run(Stabilizer(), content, styled)
    # A blend that ignores motion drags a ghost of the square behind it.
    naive, prev = [], None
    for s in styled:
        prev = s.astype(np.float32) if prev is None else 0.8 * prev + 0.2 * s
        naive.append(prev.round().astype(np.uint8))
    for t in range(1, len(content)):
        changed = ~static_mask(content[t], content[t - 1])
        assert changed.sum() > 200
        assert psnr(out[t], styled[t]) > 30
        assert masked_psnr(out[t], styled[t], changed) > 25
        assert masked_psnr(naive[t], styled[t], changed) < 20


def test_scene_cut_passes_through():
    content = [texture(4)] * 3 + [texture(5)]
    styled = [paint(c) for c in content]
    out = run(Stabilizer(), content, styled)
    assert psnr(out[-1], styled[-1]) > 35


def test_weight_zero_and_first_frame_are_identity():
    content = moving_square(3)
    styled = [np.full_like(c, 40 * i) for i, c in enumerate(content)]
    out = run(Stabilizer(weight=0.0), content, styled)
    assert all(np.array_equal(o, s) for o, s in zip(out, styled, strict=True))
    assert np.array_equal(Stabilizer()(content[0], styled[0]), styled[0])
    with pytest.raises(ValueError):
        Stabilizer(weight=1.0)


def test_reset_forgets_the_past():
    stab = Stabilizer()
    c = texture(6)
    stab(c, np.zeros_like(c))
    stab.reset()
    assert np.array_equal(stab(c, np.full_like(c, 200)), np.full_like(c, 200))


def test_flicker_metric_counts_only_static_pixels():
    c0 = texture(7) // 2
    c1 = c0.copy()
    c1[:, : W // 2] += 60  # the left half changes, the right is still
    s0 = np.full_like(c0, 100)
    s1 = s0.copy()
    s1[:, : W // 2] = 0  # a change where the content changed: not flicker
    assert flicker([s0, s1], [c0, c1]) == 0
    s1[:, W // 2:] = 110  # a change of 10 where the content was still: flicker 10
    assert flicker([s0, s1], [c0, c1]) == pytest.approx(10)
    assert flicker([c0, c0, c0], [c0, c0, c0]) == 0


def test_static_mask_ignores_noise_below_four_levels():
    c0 = texture(8)
    rng = np.random.default_rng(1)
    noisy = np.clip(c0 + rng.normal(0, 2, c0.shape), 0, 255).astype(np.uint8)
    assert static_mask(noisy, c0).mean() > 0.95
    assert static_mask(np.clip(c0.astype(int) + 10, 0, 255).astype(np.uint8), c0).mean() < 0.1
