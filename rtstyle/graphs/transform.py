"""The `fst` and `johnson` transform nets (nets/transform.py) as an ONNX graph, no torch.

Written in the form the torch export takes after `export.onnx.simplify`: TF "SAME"
padding as the convs' own padding (`SAME_UPPER` is TF's rule: the odd pixel goes last),
the transposed convs' crop as their end padding, reflection padding as `Pad`.
"""

from __future__ import annotations

from rtstyle.graphs.builder import Graph
from rtstyle.nets.configs import NetConfig


def _conv(g: Graph, x: str, name: str, cin: int, cout: int, k: int, stride: int,
          cfg: NetConfig) -> str:
    if cfg.padding == "same":
        pad = {"auto_pad": "SAME_UPPER"} if stride > 1 else {"pads": [k // 2] * 4}
        return g.conv(x, f"{name}.conv2d", cin, cout, k, cfg.bias, strides=[stride] * 2,
                      **pad)
    x = g.pad(x, [0, 0, k // 2, k // 2] * 2, "reflect")
    return g.conv(x, f"{name}.conv2d", cin, cout, k, cfg.bias, strides=[stride] * 2)


def _upsample(g: Graph, x: str, name: str, cin: int, cout: int, cfg: NetConfig) -> str:
    if cfg.upsample == "deconv":  # the full transposed conv has 2h+1 rows; keep [0, 2h)
        return g.conv(x, f"{name}.conv2d", cin, cout, 3, cfg.bias, transpose=True,
                      strides=[2, 2], pads=[0, 0, 1, 1])
    x = g.pad(g.upsample2(x), [0, 0, 1, 1] * 2, "reflect")
    return g.conv(x, f"{name}.conv2d", cin, cout, 3, cfg.bias)


def _layer(g: Graph, x: str, conv: str, norm: str, cin: int, cout: int, k: int, stride: int,
           cfg: NetConfig) -> str:
    """conv -> instance norm -> ReLU."""
    y = g.norm(_conv(g, x, conv, cin, cout, k, stride, cfg), norm, cout, cfg.eps)
    return g.op("Relu", y)


def transform_body(g: Graph, x: str, cfg: NetConfig) -> str:
    """Float RGB (N, 3, H, W) in 0..255 -> the stylised image, as TransformNet.forward."""
    c1, c2, c3, b = *cfg.widths, cfg.border
    size = g.hw(x)
    if b:
        x = g.pad(x, [0, 0, b, b] * 2, "edge")
    y = _layer(g, x, "conv1", "in1", 3, c1, 9, 1, cfg)
    y = _layer(g, y, "conv2", "in2", c1, c2, 3, 2, cfg)
    y = _layer(g, y, "conv3", "in3", c2, c3, 3, 2, cfg)
    for r in range(1, cfg.res_blocks + 1):
        z = _layer(g, y, f"res{r}.conv1", f"res{r}.in1", c3, c3, 3, 1, cfg)
        z = g.norm(_conv(g, z, f"res{r}.conv2", c3, c3, 3, 1, cfg), f"res{r}.in2", c3, cfg.eps)
        y = g.op("Add", y, z)
    for up, norm, cin, cout in (("deconv1", "in4", c3, c2), ("deconv2", "in5", c2, c1)):
        y = g.op("Relu", g.norm(_upsample(g, y, up, cin, cout, cfg), norm, cout, cfg.eps))
    y = _conv(g, y, "deconv3", c1, 3, 9, 1, cfg)
    if cfg.output_norm:
        y = g.norm(y, "in6", 3, cfg.eps)
    if cfg.output == "tanh":
        y = g.tanh_output(y)
    return g.crop(y, b, size)  # the decoder rounds up to a multiple of 4
