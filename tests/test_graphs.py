"""The runtime's hand-built ONNX graphs (rtstyle.graphs, no torch) against the torch nets
and exports they stand for: >= 45 dB on frames of awkward sizes."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from rtstyle.bench.models import random_weights
from rtstyle.graphs import net_graph, net_shapes
from rtstyle.metrics import psnr
from rtstyle.nets import build_net
from rtstyle.nets.frames import FrameModel


def _run(graph, frames: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(graph.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"frames": frames})[0]


@pytest.mark.parametrize("arch, options", [
    ("fst", {}), ("fst", {"border": 8, "widths": [8, 16, 32], "res_blocks": 2}),
    ("johnson", {"widths": [8, 16, 32], "res_blocks": 1}), ("johnson", {"border": 4}),
    ("lite", {}), ("lite", {"separable": False, "widths": [8, 16], "res_blocks": 1}),
    ("sr", {}), ("sr", {"scale": 2, "width": 8, "convs": 1}),
])
@pytest.mark.parametrize("hw", [(37, 50), (64, 48)])
def test_graph_matches_the_torch_net(arch, options, hw):
    state = random_weights(arch, options, seed=1)
    if arch == "johnson":  # a linear output: spread the random net's output over 0..255
        state["deconv3.conv2d.weight"] *= 300
        state["deconv3.conv2d.bias"] += 127.5
    net = build_net(arch, **options)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    frames = np.random.default_rng(0).integers(0, 256, (2, *hw, 3), dtype=np.uint8)
    with torch.inference_mode():
        want = FrameModel(net.eval())(torch.from_numpy(frames)).numpy()
    got = _run(net_graph(arch, options, lambda name, shape: state[name]), frames)
    assert got.shape == want.shape and got.dtype == np.uint8
    assert psnr(got, want) >= 45
    assert want.std() > 5  # not a flat image that any graph would match


def test_shapes_match_the_torch_state_dict():
    for arch in ("fst", "johnson", "lite", "sr"):
        with torch.device("meta"):
            torch_shapes = {k: tuple(v.shape) for k, v in build_net(arch).state_dict().items()}
        assert net_shapes(arch, {}) == torch_shapes


def test_fixed_size_graph():
    state = random_weights("lite", {})
    graph = net_graph("lite", {}, lambda name, shape: state[name], size=(40, 56))
    dims = [d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1:] == [40, 56, 3]
    frames = np.zeros((1, 40, 56, 3), np.uint8)
    assert _run(graph, frames).shape == frames.shape


def test_shipped_swap_graph_matches_a_fresh_export(tmp_path):
    """builtin/swap_graph.onnx is what benchmarks/make_swap_graph.py makes from the shipped
    decoder and VGG slice: re-export and compare on a frame and a painting's index."""
    from rtstyle.swap.graph import BUILTIN_DECODER, SHIPPED_GRAPH
    from rtstyle.swap.index import style_feeds, style_inputs
    from rtstyle.swap.model import export_swap_onnx, load_swap_model

    fresh = export_swap_onnx(load_swap_model(BUILTIN_DECODER, "builtin"), tmp_path / "s.onnx")
    rng = np.random.default_rng(0)
    features = rng.standard_normal((1, 256, 12, 10)).astype(np.float32) ** 2
    feed = {"frames": rng.integers(0, 256, (1, 48, 64, 3), dtype=np.uint8),
            **style_feeds(style_inputs(features, None, 16))}
    outs = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feed)[0]
            for p in (SHIPPED_GRAPH, fresh)]
    assert psnr(*outs) >= 45


def test_numpy_colour_stats_match_torch():
    """The light install's colour statistics (numpy eigh) are main's torch ones."""
    from rtstyle.swap.index import colour_stats
    from rtstyle.swap.op import _covariance

    features = np.random.default_rng(2).standard_normal((1, 32, 9, 7)).astype(np.float32) ** 2
    colour, mean = colour_stats(features)
    cov = _covariance(torch.from_numpy(features).flatten(2).double())[0].numpy()
    np.testing.assert_allclose(colour.astype(np.float64) @ colour, cov, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(colour, colour.T, atol=1e-6)
    np.testing.assert_allclose(mean, features[0].reshape(32, -1).mean(axis=1), rtol=1e-5)
