"""Perceptual-loss terms on inputs whose values are known by hand."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from torchvision.models import vgg19

from rtstyle.errors import RtstyleError
from rtstyle.train.losses import PerceptualLoss, content_loss, gram, style_loss, tv_loss


def test_gram_is_normalised_by_channels_and_pixels():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)  # C=2, H=1, W=2
    g = gram(f)
    # rows (1, 2) and (3, 4): F F^T = [[5, 11], [11, 25]], divided by C*H*W = 4
    assert torch.allclose(g, torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4)
    ones = torch.ones(3, 8, 5, 7)
    assert torch.allclose(gram(ones), torch.full((3, 8, 8), 1 / 8))  # H*W / (C*H*W)
    # the same texture at twice the size has the same Gram matrix
    t = torch.rand(1, 4, 6, 6)
    assert torch.allclose(gram(t.repeat(1, 1, 2, 2)), gram(t), atol=1e-6)


def test_content_loss_is_mean_squared_feature_distance():
    out, target = torch.zeros(2, 4, 3, 3), torch.full((2, 4, 3, 3), 3.0)
    assert content_loss(out, target).item() == pytest.approx(9.0)
    target[0, 0, 0, 0] = 0.0
    assert content_loss(out, target).item() == pytest.approx(9.0 * (72 - 1) / 72)


def test_style_loss_sums_squared_frobenius_over_layers_and_averages_the_batch():
    a = torch.zeros(2, 3, 3)
    a[0, 0, 0] = 2.0  # sample 0: ||diff||^2 = 4, sample 1: 0 -> batch mean 2
    b = torch.ones(2, 2, 2)  # vs zeros: 4 elements of 1 -> 4 per sample
    loss = style_loss([a, b], [torch.zeros(1, 3, 3), torch.zeros(1, 2, 2)])
    assert loss.item() == pytest.approx(2.0 + 4.0)


def test_tv_of_flat_and_striped_images():
    flat = torch.full((1, 3, 8, 8), 100.0)
    assert tv_loss(flat).item() == 0.0
    stripes = torch.zeros(1, 3, 8, 8)
    stripes[..., ::2] = 255.0  # columns alternate 255/0: every horizontal step is 1.0
    assert tv_loss(stripes).item() == pytest.approx(1.0)
    assert tv_loss(stripes.transpose(2, 3)).item() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def random_vgg(tmp_path_factory):
    """A randomly initialised VGG19 up to relu3_1 in torchvision's layout (no download)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg.safetensors"
    save_file({k: v.contiguous() for k, v in vgg19().features[:12].state_dict().items()},
              str(path))
    return path


def test_perceptual_terms_vanish_at_their_targets(random_vgg):
    torch.manual_seed(1)
    style = torch.rand(1, 3, 48, 48) * 255
    photo = torch.rand(2, 3, 32, 32) * 255
    loss = PerceptualLoss(style, random_vgg)
    same = loss(photo, loss.content_targets(photo))
    assert same["content"].item() == 0.0
    # the style image itself matches its own Gram matrices
    own = loss(style, loss.content_targets(style))
    assert own["style"].item() < 1e-10
    other = loss(photo.flip(0), loss.content_targets(photo))
    assert other["content"].item() > 0.01 and other["style"].item() > 0


def test_relative_terms_do_not_depend_on_the_loss_networks_scale(random_vgg, tmp_path):
    """The offline VGG's activations are ~100x torchvision's; the default weights must fit both."""
    from safetensors.torch import load_file

    state = load_file(str(random_vgg))
    # x10 on the first conv and on every bias scales every activation by 10 (ReLU and max
    # pooling are positively homogeneous), so raw terms grow 100x and relative ones stay.
    scaled = {k: v * 10 if k.endswith("bias") or k == "0.weight" else v for k, v in state.items()}
    save_file(scaled, str(tmp_path / "x10.safetensors"))
    torch.manual_seed(2)
    style, photo = torch.rand(1, 3, 40, 40) * 255, torch.rand(2, 3, 32, 32) * 255
    out = torch.rand(2, 3, 32, 32) * 255
    terms = []
    for weights in (random_vgg, tmp_path / "x10.safetensors"):
        loss = PerceptualLoss(style, weights)
        terms.append(loss(out, loss.content_targets(photo)))
    for k in ("content", "style", "tv"):
        assert terms[1][k].item() == pytest.approx(terms[0][k].item(), rel=1e-4)


def test_layers_are_checked(random_vgg):
    style = torch.rand(1, 3, 32, 32) * 255
    with pytest.raises(RtstyleError, match="unknown"):
        PerceptualLoss(style, random_vgg, style_layers=["relu9_9"])
    with pytest.raises(RtstyleError, match="at least one"):
        PerceptualLoss(style, random_vgg, content_layers=[])
    with pytest.raises(RtstyleError, match="beyond"):  # the file stops at relu3_1
        PerceptualLoss(style, random_vgg, style_layers=["relu4_1"])
