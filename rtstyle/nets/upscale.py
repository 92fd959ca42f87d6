"""`sr`: a super-resolution net (Johnson et al. 2016, section 4; ESPCN-like, Shi et al. 2016).

Small enough for live video on a CPU: every conv works at the input's (low) resolution,
and the last (1x1) conv predicts the scale x scale sub-pixels that a pixel shuffle lays out at
full size. The net predicts a residual over the nearest-neighbour upscale (each input
pixel repeated), which a pixel shuffle of the repeated input gives for free, so the graph
has no Resize op at the output size: on ONNX Runtime and OpenVINO the full-size layers
are the memory-bound part, and here there is only one addition there. Trained with a
VGG relu2_2 feature loss plus a pixel term (rtstyle.train.upscaler).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rtstyle.nets.configs import UpscaleConfig


class UpscaleNet(nn.Module):
    """3x3 convs at input resolution -> 1x1 conv to scale^2 sub-pixels -> pixel shuffle,
    added to the nearest-neighbour upscale."""

    def __init__(self, cfg: UpscaleConfig):
        super().__init__()
        self.config = cfg
        layers: list[nn.Module] = []
        cin = 3
        for _ in range(cfg.convs):
            layers += [nn.Conv2d(cin, cfg.width, 3, padding=1), nn.ReLU()]
            cin = cfg.width
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(cin, 3 * cfg.scale**2, 1)
        nn.init.zeros_(self.out.weight)  # start as nearest-neighbour upscaling
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.config.scale
        residual = self.out(self.body((x - 127.5) / 127.5)) * 127.5
        # Repeating each pixel's RGB s*s times, then shuffling, is the nearest upscale.
        n, c, h, w = x.shape
        base = x.unsqueeze(2).expand(n, c, s * s, h, w).reshape(n, c * s * s, h, w)
        return F.pixel_shuffle(base + residual, s)
