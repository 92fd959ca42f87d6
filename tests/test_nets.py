"""Transform-net architectures: shapes at any size, johnson parity, model-file round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from johnson_reference import TransformerNet

from rtstyle.errors import RtstyleError
from rtstyle.nets import build_net
from rtstyle.nets.frames import FrameModel
from rtstyle.styles.importers import pth_state_dict
from rtstyle.styles.modelfile import load_net, load_state_strict, save_model


@pytest.mark.parametrize("arch", ["fst", "johnson"])
@pytest.mark.parametrize("hw", [(16, 16), (17, 23), (97, 131), (64, 48)])
@pytest.mark.parametrize("border", [0, 16])
def test_any_size_in_same_size_out(arch, hw, border):
    net = build_net(arch, border=border).eval()
    with torch.inference_mode():
        y = net(torch.rand(2, 3, *hw) * 255)
    assert y.shape == (2, 3, *hw)


def test_fst_output_range_is_tanh_scaled():
    net = build_net("fst").eval()
    with torch.inference_mode():
        y = net(torch.rand(1, 3, 33, 40) * 255)
    assert y.min() >= -22.5 and y.max() <= 277.5  # tanh * 150 + 127.5


@pytest.mark.parametrize("hw", [(40, 56), (33, 17)])
def test_border_runs_the_net_on_an_edge_replicated_margin_and_crops_it(hw):
    torch.manual_seed(0)
    plain = build_net("fst").eval()
    bordered = build_net("fst", border=16).eval()
    bordered.load_state_dict(plain.state_dict())
    x = torch.rand(1, 3, *hw) * 255
    with torch.inference_mode():
        want = plain(torch.nn.functional.pad(x, (16, 16, 16, 16), mode="replicate"))
        got = bordered(x)
    h, w = hw
    assert torch.allclose(got, want[:, :, 16 : 16 + h, 16 : 16 + w], atol=1e-4)
    assert not torch.allclose(got, plain(x), atol=1.0)  # the margin changes the edges


def _random_examples_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    ref = TransformerNet()
    state = {k: torch.randn_like(v) * 0.1 if v.is_floating_point() else v
             for k, v in ref.state_dict().items()}
    return state


def test_johnson_loads_examples_state_strictly_and_matches_reference(tmp_path):
    state = _random_examples_state()
    # Old pytorch/examples checkpoints carry instance-norm running stats; they must be dropped.
    legacy = {**state, "in1.running_mean": torch.zeros(32), "res3.in2.running_var": torch.ones(128)}
    pth = tmp_path / "mosaic.pth"
    torch.save(legacy, pth)

    ours = build_net("johnson").eval()
    load_state_strict(ours, pth_state_dict(pth), str(pth))
    ref = TransformerNet().eval()
    ref.load_state_dict(state, strict=True)

    x = torch.rand(1, 3, 96, 128) * 255  # a multiple of 4: the reference does not crop
    with torch.inference_mode():
        assert torch.allclose(ours(x), ref(x), atol=1e-3, rtol=1e-4)


def test_odd_sizes_crop_the_reference_output():
    state = _random_examples_state(1)
    ours = build_net("johnson").eval()
    ours.load_state_dict(state)
    ref = TransformerNet().eval()
    ref.load_state_dict(state)
    x = torch.rand(1, 3, 61, 83) * 255
    with torch.inference_mode():
        expected = ref(x)[:, :, :61, :83]
        assert torch.allclose(ours(x), expected, atol=1e-3, rtol=1e-4)


def test_other_architecture_is_rejected_with_a_one_line_error():
    fst = build_net("fst")
    with pytest.raises(RtstyleError, match="another architecture") as err:
        load_state_strict(fst, _random_examples_state(), "mosaic.pth")
    assert "\n" not in str(err.value)


def test_model_file_round_trip(tmp_path):
    net = build_net("fst", widths=[8, 16, 32], res_blocks=2, border=8).eval()
    meta = {"style": "tiny", "source": "test", "licence": "CC0", "made_by": {"steps": 0}}
    save_model(tmp_path / "tiny.safetensors", net, meta)
    loaded, got = load_net(tmp_path / "tiny.safetensors")
    assert got["arch"] == "fst" and got["options"]["widths"] == [8, 16, 32]
    assert loaded.config.border == 8
    assert got["style"] == "tiny" and got["licence"] == "CC0"
    x = torch.randint(0, 256, (1, 40, 56, 3), dtype=torch.uint8)
    with torch.inference_mode():
        assert torch.equal(FrameModel(net)(x), FrameModel(loaded)(x))


def test_half_model_file_loads_as_float32(tmp_path):
    net = build_net("johnson").eval()
    save_model(tmp_path / "h.safetensors", net, {"style": "h"}, half=True)
    loaded, _ = load_net(tmp_path / "h.safetensors")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    a = net.conv1.conv2d.weight.detach().numpy()
    b = loaded.conv1.conv2d.weight.detach().numpy()
    assert np.allclose(a, b, atol=1e-3)
