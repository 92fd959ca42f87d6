"""`rtstyle optimize`: the optimisation lowers the style loss and keeps the content, on
tiny synthetic pictures; bad input fails in one line."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from rtstyle.optimize import CONTENT_LAYERS, STYLE_LAYERS, Settings, _rgb, objective, optimise
from rtstyle.train.losses import PerceptualLoss
from tests.conftest import cli


def _photo() -> np.ndarray:
    y, x = np.mgrid[0:48, 0:64]
    img = np.stack([x * 4, y * 5, 255 - x * 3], axis=-1).astype(np.uint8)
    cv2.rectangle(img, (20, 12), (44, 36), (30, 30, 220), -1)
    return img


def _painting() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    return cv2.resize(img, (96, 96), interpolation=cv2.INTER_NEAREST)  # coloured blocks


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _assert_styled(out, photo, painting) -> None:
    """`out` has most of the painting's style loss gone and keeps the photo better than
    the painting itself does."""
    losses = PerceptualLoss(_rgb(painting), "builtin", CONTENT_LAYERS, STYLE_LAYERS)
    targets = losses.content_targets(_rgb(photo))
    with torch.no_grad():
        before, after = losses(_rgb(photo), targets), losses(_rgb(out), targets)
        blocks = losses(_rgb(cv2.resize(painting, (64, 48))), targets)
    assert float(after["style"]) < 0.3 * float(before["style"])
    assert float(after["content"]) < 0.8 * float(blocks["content"])


def test_gram_optimisation_lowers_style_and_keeps_content():
    photo, painting = _photo(), _painting()
    s = Settings(size=64, style_size=96, steps=30, coarse=0)
    out = optimise(photo, painting, s)
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    _assert_styled(out, photo, painting)


def test_coarse_stage_then_full_size_lowers_style_and_keeps_content():
    photo, painting = _photo(), _painting()
    s = Settings(size=64, style_size=96, steps=30, coarse=0.75, coarse_steps=15)
    seen = []
    out = optimise(photo, painting, s, lambda i, loss: seen.append(i))
    assert out.shape == (48, 64, 3) and seen == list(range(1, 31))  # one count over stages
    _assert_styled(out, photo, painting)


@pytest.mark.parametrize("line_search", ["none", "strong_wolfe"])
def test_lbfgs_with_and_without_line_search_lowers_the_loss(line_search):
    photo, painting = _photo(), _painting()
    s = Settings(size=64, style_size=96, steps=12, line_search=line_search)
    loss_of = objective(_rgb(photo), _rgb(painting), s)
    out = optimise(photo, painting, s)
    with torch.no_grad():
        assert float(loss_of(_rgb(out))) < 0.5 * float(loss_of(_rgb(photo)))


def test_swap_loss_goes_down():
    photo, painting = _photo(), _painting()
    s = Settings(size=64, style_size=96, steps=20, loss="swap")
    loss_of = objective(_rgb(photo), _rgb(painting), s)
    out = optimise(photo, painting, s)
    with torch.no_grad():
        assert float(loss_of(_rgb(out))) < 0.7 * float(loss_of(_rgb(photo)))


def test_command_writes_the_result(tmp_path):
    cv2.imwrite(str(tmp_path / "photo.png"), _photo())
    cv2.imwrite(str(tmp_path / "painting.png"), _painting())
    r = cli("optimize", str(tmp_path / "photo.png"), "-o", str(tmp_path / "out.png"),
            "--style-image", str(tmp_path / "painting.png"), "--size", "64", "--steps", "5",
            "--threads", "1", "--optimizer", "adam", "--preserve-colors")
    assert r.returncode == 0, r.stderr
    assert "relu3_1" in r.stdout  # it says which layers it uses
    assert cv2.imread(str(tmp_path / "out.png")).shape == (48, 64, 3)


@pytest.mark.parametrize("bad", [["--size", "5"], ["--steps", "0"], ["--style-weight", "-1"],
                                 ["--style-image", "missing.png"], ["-o", "out.xyz"], []])
def test_bad_input_one_line(tmp_path, bad):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), _photo())
    cv2.imwrite(str(tmp_path / "painting.png"), _painting())
    if not bad:  # the photo is not an image
        photo.write_text("hello")
    bad = [str(tmp_path / b) if b.endswith((".png", ".xyz")) else b for b in bad]
    r = cli("optimize", str(photo), "-o", str(tmp_path / "out.png"), "--steps", "3",
            "--style-image", str(tmp_path / "painting.png"), *bad)  # the last one counts
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "out.png").exists()


def test_strength_meter_measures_a_result_at_its_own_size():
    from rtstyle.train.strength import StrengthMeter

    photo, painting = _photo(), _painting()
    meter = StrengthMeter(painting, side=64)
    assert max(meter.painting.shape[:2]) == 64  # the painting is brought to the result's size
    same = meter.measure(photo, photo)
    assert same.gram_ratio == pytest.approx(1.0) and same.content_ratio == pytest.approx(0.0)
    out = optimise(photo, painting, Settings(size=64, steps=20, coarse=0))
    assert meter.measure(photo, out).gram_ratio < 0.5


@pytest.mark.parametrize("line_search", ["none", "strong_wolfe"])
def test_lbfgs_moves_however_small_the_loss_per_pixel(line_search):
    """The loss is a mean, so a big image gives each pixel a tiny gradient; L-BFGS must
    still take full steps (at 384 px it used to sit on its first, -g/|g|_1, for good)."""
    from rtstyle.optimize import _run

    target = torch.rand(1, 3, 48, 64) * 255.0
    start = torch.full_like(target, 128.0)

    def loss_of(x: torch.Tensor) -> torch.Tensor:
        return (x - target).square().mean() * 1e-4  # curvature ~1e-8 a pixel

    s = Settings(line_search=line_search)
    best = _run(loss_of, start, 15, s, {}, lambda i, loss: None)
    assert float(loss_of(best)) < 0.01 * float(loss_of(start))
