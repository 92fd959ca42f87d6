"""Backends agree: ONNX Runtime vs torch within 1 grey level, on odd sizes, for both archs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtstyle.engines import open_engine
from rtstyle.errors import RtstyleError
from rtstyle.nets import build_net
from rtstyle.styles.modelfile import save_model


def _model(tmp_path, arch: str, seed: int = 0, **options):
    torch.manual_seed(seed)
    net = build_net(arch, **options)
    with torch.no_grad():  # non-trivial instance-norm affine parameters
        for name, p in net.named_parameters():
            if name.split(".")[-2].startswith("in"):
                p.copy_(torch.rand_like(p) + 0.5 if name.endswith("weight") else p.normal_(0, 0.3))
        if arch == "johnson":  # linear output: spread it over 0..255 like a trained net
            net.deconv3.conv2d.weight.mul_(300.0)
            net.deconv3.conv2d.bias.fill_(127.5)
    path = tmp_path / f"rand-{arch}.safetensors"
    save_model(path, net, {"style": f"rand-{arch}", "source": "test", "licence": "CC0"})
    return path


def _frames(h: int, w: int, n: int = 1) -> np.ndarray:
    rng = np.random.default_rng(h * w)
    smooth = rng.integers(0, 256, (n, h // 8 + 2, w // 8 + 2, 3)).astype(np.float32)
    big = np.stack([np.kron(f, np.ones((8, 8, 1)))[:h, :w] for f in smooth])
    return np.clip(big + rng.normal(0, 12, big.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("arch,options", [("fst", {}), ("johnson", {}), ("fst", {"border": 16})])
@pytest.mark.parametrize("hw", [(97, 131), (480, 640), (33, 17)])
def test_onnxruntime_matches_torch_within_one_grey_level(tmp_path, arch, options, hw):
    path = _model(tmp_path, arch, **options)
    frames = _frames(*hw, n=2)
    a = open_engine(str(path), "torch").run(frames)
    b = open_engine(str(path), "onnxruntime").run(frames)
    assert a.shape == b.shape == frames.shape and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert a.std() > 5  # not a constant image: the comparison means something


def test_engine_rejects_bad_frames(tmp_path):
    engine = open_engine(str(_model(tmp_path, "fst")), "torch")
    with pytest.raises(RtstyleError, match="too small"):
        engine.run(np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(RtstyleError, match="uint8"):
        engine.run(np.zeros((1, 32, 32, 3), np.float32))


def test_unknown_backend_names_the_choices(tmp_path):
    with pytest.raises(RtstyleError, match="unknown backend 'tpu'.*torch"):
        open_engine(str(_model(tmp_path, "fst")), "tpu")


def test_warmup_then_batch_runs(tmp_path):
    engine = open_engine(str(_model(tmp_path, "johnson")), "onnxruntime")
    engine.warmup(32, 48)
    out = engine.run(_frames(32, 48, n=3))
    assert out.shape == (3, 32, 48, 3)
