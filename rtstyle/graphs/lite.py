"""The `lite` net (nets/lite.py) as an ONNX graph, no torch."""

from __future__ import annotations

from rtstyle.graphs.builder import Graph
from rtstyle.nets.configs import LiteConfig

EPS = 1e-5  # nets/lite.py's instance-norm eps


def _conv3(g: Graph, x: str, name: str, cin: int, cout: int, separable: bool,
           stride: int = 1) -> str:
    """A 3x3 conv, or depthwise 3x3 then pointwise 1x1 (named .0 and .1 as in torch)."""
    if not separable:
        return g.conv(x, name, cin, cout, 3, True, strides=[stride] * 2, pads=[1] * 4)
    y = g.conv(x, f"{name}.0", cin, cin, 3, True, groups=cin, strides=[stride] * 2,
               pads=[1] * 4)
    return g.conv(y, f"{name}.1", cin, cout, 1, True)


def _block(g: Graph, name: str, conv: str, cout: int, relu: bool = True) -> str:
    """The conv's output -> instance norm (-> ReLU)."""
    y = g.norm(conv, f"{name}.norm", cout, EPS)
    return g.op("Relu", y) if relu else y


def lite_body(g: Graph, x: str, cfg: LiteConfig) -> str:
    """Float RGB (N, 3, H, W) in 0..255 -> the stylised image, as LiteNet.forward."""
    c1, c2 = cfg.widths
    size = g.hw(x)
    # edge-pad right and bottom to a multiple of 4: pads (0, 0, 0, 0, 0, 0, -h % 4, -w % 4)
    four = g.const([4, 4])
    extra = g.op("Mod", g.op("Sub", four, g.op("Mod", size, four)), four)
    x = g.pad(x, g.op("Concat", g.const([0] * 6), extra, axis=0), "edge")
    y = _block(g, "down.0", g.conv(x, "down.0.conv", 3, c1, 4, True, strides=[4, 4]), c1)
    y = _block(g, "down.1", _conv3(g, y, "down.1.conv", c1, c2, False, 2), c2)
    for i in range(cfg.res_blocks):
        a = _block(g, f"res.{i}.a", _conv3(g, y, f"res.{i}.a.conv", c2, c2, cfg.separable), c2)
        b = _block(g, f"res.{i}.b", _conv3(g, a, f"res.{i}.b.conv", c2, c2, cfg.separable),
                   c2, relu=False)
        y = g.op("Add", y, b)
    y = g.upsample2(y)
    y = _block(g, "up", _conv3(g, y, "up.conv", c2, c1, cfg.separable), c1)
    y = g.conv(y, "out", c1, 3 * 16, 3, True, pads=[1] * 4)
    y = g.op("DepthToSpace", y, blocksize=4, mode="CRD")  # torch's pixel_shuffle
    return g.tanh_output(g.crop(y, 0, size))
