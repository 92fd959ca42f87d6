"""The `lite` net: any frame size, model-file round trip, ONNX parity, and its compute budget."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from rtstyle.export.onnx import export_onnx
from rtstyle.nets import build_net
from rtstyle.nets.frames import FrameModel
from rtstyle.nets.lite import LiteNet
from rtstyle.styles.modelfile import load_net, save_model


def _trained_looking(seed: int = 0) -> LiteNet:
    """A lite net with non-trivial affine norms, so parity checks exercise every parameter."""
    torch.manual_seed(seed)
    net = build_net("lite")
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "norm" in name:
                p.add_(torch.randn_like(p) * 0.3)
    return net.eval()


@pytest.mark.parametrize("hw", [(16, 16), (17, 23), (97, 131), (480, 640), (31, 18)])
def test_any_size_in_same_size_out(hw):
    with torch.inference_mode():
        y = build_net("lite").eval()(torch.rand(2, 3, *hw) * 255)
    assert y.shape == (2, 3, *hw)
    assert y.min() >= -22.5 and y.max() <= 277.5  # tanh * 150 + 127.5


def test_round_trips_through_the_model_file(tmp_path):
    net = _trained_looking()
    net2 = build_net("lite", widths=[8, 16], res_blocks=2, separable=False)
    for n, name in ((net, "a"), (net2, "b")):
        save_model(tmp_path / f"{name}.safetensors", n, {"style": name})
        back, meta = load_net(tmp_path / f"{name}.safetensors")
        assert isinstance(back, LiteNet) and meta["arch"] == "lite"
        assert back.config == n.config
        x = torch.rand(1, 3, 40, 52) * 255
        with torch.inference_mode():
            assert torch.allclose(back(x), n.eval()(x))


def test_half_precision_file_stays_close(tmp_path):
    net = _trained_looking(1)
    save_model(tmp_path / "h.safetensors", net, {"style": "h"}, half=True)
    back, _ = load_net(tmp_path / "h.safetensors")
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.inference_mode():
        assert (back(x) - net(x)).abs().max() < 2.0  # levels out of 255


def test_onnx_export_matches_torch_at_several_sizes(tmp_path):
    net = _trained_looking(2)
    path = export_onnx(net, tmp_path / "lite.onnx", {"style": "lite-test"})
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for h, w in ((48, 64), (37, 53), (16, 16), (120, 90)):
        frames = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
        got = sess.run(None, {"frames": frames})[0]
        with torch.inference_mode():
            want = FrameModel(net)(torch.from_numpy(frames)).numpy()
        assert got.shape == frames.shape
        diff = np.abs(got.astype(int) - want.astype(int))
        assert diff.max() <= 2 and diff.mean() < 0.05


def _multiply_adds(net: nn.Module, h: int, w: int) -> int:
    total = 0

    def count(module, inputs, output):
        nonlocal total
        k = module.weight[0].numel()  # (cin / groups) * kh * kw
        total += output.numel() * k

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, nn.Conv2d)]
    with torch.inference_mode():
        net(torch.zeros(1, 3, h, w))
    for hook in hooks:
        hook.remove()
    return total


def test_lite_fits_the_real_time_compute_budget():
    """DESIGN: 30 fps at 640x480 on the 2-core CPU needs <= ~4 GFLOP per frame."""
    # Conv costs scale with the pixel count: measure at 320x240 and scale by 4.
    lite = 4 * _multiply_adds(build_net("lite").eval(), 240, 320)
    full = 4 * _multiply_adds(build_net("fst").eval(), 240, 320)  # Conv2d only: a lower bound
    assert 2 * lite < 1.5e9  # GFLOP = 2 x multiply-adds; lite is ~1.2
    assert full > 40 * lite
