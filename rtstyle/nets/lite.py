"""`lite`: a transform net small enough for real time at 640x480 on a laptop CPU.

The full net spends most of its ~94 GFLOP/frame at full resolution (the 9x9 convs) and
in five 128-channel residual blocks. `lite` never computes above quarter resolution:
a 4x4 stride-4 conv (a "patchify" stem) goes straight to 1/4 size, a stride-2 conv to
1/8, depthwise-separable residual blocks work there, one upsampling returns to 1/4,
and the last conv predicts 4x4 sub-pixels that a pixel shuffle turns into the
full-size image (Shi et al. 2016). On ONNX Runtime, layers at half or full resolution
cost far more than their multiply-adds suggest (layout reorders, Resize, Pad are
memory-bound), so avoiding them matters more than narrowing the convs; padding is the
convs' own zero padding for the same reason.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rtstyle.nets.configs import LiteConfig

EPS = 1e-5


def _conv(cin: int, cout: int, separable: bool, stride: int = 1) -> nn.Module:
    """A 3x3 conv, optionally as depthwise 3x3 then pointwise 1x1 (~8x fewer multiply-adds)."""
    if not separable:
        return nn.Conv2d(cin, cout, 3, stride, padding=1)
    return nn.Sequential(nn.Conv2d(cin, cin, 3, stride, padding=1, groups=cin),
                         nn.Conv2d(cin, cout, 1))


class _Block(nn.Module):
    """conv -> instance norm (-> ReLU)."""

    def __init__(self, conv: nn.Module, cout: int, relu: bool = True):
        super().__init__()
        self.conv, self.norm, self.relu = conv, nn.InstanceNorm2d(cout, affine=True, eps=EPS), relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.conv(x))
        return F.relu(y) if self.relu else y


class _Residual(nn.Module):
    def __init__(self, c: int, separable: bool):
        super().__init__()
        self.a = _Block(_conv(c, c, separable), c)
        self.b = _Block(_conv(c, c, separable), c, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x))


class LiteNet(nn.Module):
    """patchify /4 -> stride-2 conv -> residual blocks -> nearest x2 -> 4x4 pixel shuffle."""

    def __init__(self, cfg: LiteConfig):
        super().__init__()
        self.config = cfg
        c1, c2 = cfg.widths
        self.down = nn.Sequential(_Block(nn.Conv2d(3, c1, 4, 4), c1),
                                  _Block(_conv(c1, c2, False, 2), c2))
        self.res = nn.Sequential(*[_Residual(c2, cfg.separable) for _ in range(cfg.res_blocks)])
        self.up = _Block(_conv(c2, c1, cfg.separable), c1)
        self.out = nn.Conv2d(c1, 3 * 16, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        # Pad to a multiple of 4 for the stem; the stride-2 conv rounds up, and the
        # output (at least h x w) is cropped back at the end.
        x = F.pad(x, (0, (4 - w % 4) % 4, 0, (4 - h % 4) % 4), mode="replicate")
        y = self.res(self.down(x))
        y = self.up(F.interpolate(y, scale_factor=2.0, mode="nearest"))
        y = F.pixel_shuffle(self.out(y), 4)
        return torch.tanh(y[:, :, :h, :w]) * 150.0 + 127.5
