"""The Johnson et al. (2016) transform net, in the two published variants.

`fst` is lengstrom/ml5 "fast style transfer" (TF SAME zero padding, no conv bias,
transposed-conv upsampling, instance-norm eps 1e-3, tanh*150+127.5 output).
`johnson` is pytorch/examples `TransformerNet` (reflection padding, conv bias,
nearest x2 upsample then conv, eps 1e-5, linear output).

Both use pytorch/examples' parameter names (conv1.conv2d.weight, in1.weight, res1...),
so those `.pth` files load strictly and the ml5 importer has one target layout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rtstyle.nets.configs import NetConfig


def _tf_same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad like TF "SAME": symmetric for stride 1; for stride 2 the extra row/col goes last.

    For a 3x3 stride-2 conv TF pads (0, 1) on even sizes and (1, 1) on odd ones. We pad
    (1, 1) and drop the first row/col on even sizes, which keeps the graph free of
    shape-dependent control flow so it exports with dynamic height and width.
    """
    p = kernel // 2
    x = F.pad(x, (p, p, p, p))
    if stride == 1:
        return x
    h, w = x.shape[-2], x.shape[-1]  # padded size has the parity of the original
    return x[:, :, 1 - h % 2 :, 1 - w % 2 :]


class ConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, cfg: NetConfig):
        super().__init__()
        if cfg.padding == "same" and stride == 2 and kernel != 3:
            raise ValueError("TF SAME stride-2 padding is implemented for 3x3 kernels only")
        self.kernel, self.stride, self.padding = kernel, stride, cfg.padding
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride, bias=cfg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding == "same":
            x = _tf_same_pad(x, self.kernel, self.stride)
        else:
            x = F.pad(x, [self.kernel // 2] * 4, mode="reflect")
        return self.conv2d(x)


class UpsampleLayer(nn.Module):
    """x2 upsampling: nearest + conv (johnson) or a TF SAME transposed conv (fst)."""

    def __init__(self, cin: int, cout: int, cfg: NetConfig):
        super().__init__()
        self.mode = cfg.upsample
        if self.mode == "deconv":
            self.conv2d = nn.ConvTranspose2d(cin, cout, 3, stride=2, bias=cfg.bias)
        else:
            self.conv2d = nn.Conv2d(cin, cout, 3, 1, bias=cfg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "deconv":
            # The full transposed conv gives 2h+1 rows; TF SAME keeps [0, 2h).
            return self.conv2d(x)[:, :, :-1, :-1]
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv2d(F.pad(x, [1, 1, 1, 1], mode="reflect"))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, cfg: NetConfig):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, 1, cfg)
        self.in1 = nn.InstanceNorm2d(channels, affine=True, eps=cfg.eps)
        self.conv2 = ConvLayer(channels, channels, 3, 1, cfg)
        self.in2 = nn.InstanceNorm2d(channels, affine=True, eps=cfg.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(y))


class TransformNet(nn.Module):
    """Encoder (3 convs) -> residual blocks -> decoder (2 upsamplings, 1 conv)."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.config = cfg
        c1, c2, c3 = cfg.widths

        def norm(c: int) -> nn.Module:
            return nn.InstanceNorm2d(c, affine=True, eps=cfg.eps)

        self.conv1, self.in1 = ConvLayer(3, c1, 9, 1, cfg), norm(c1)
        self.conv2, self.in2 = ConvLayer(c1, c2, 3, 2, cfg), norm(c2)
        self.conv3, self.in3 = ConvLayer(c2, c3, 3, 2, cfg), norm(c3)
        self.res_names = [f"res{i + 1}" for i in range(cfg.res_blocks)]
        for name in self.res_names:
            setattr(self, name, ResidualBlock(c3, cfg))
        self.deconv1, self.in4 = UpsampleLayer(c3, c2, cfg), norm(c2)
        self.deconv2, self.in5 = UpsampleLayer(c2, c1, cfg), norm(c1)
        self.deconv3 = ConvLayer(c1, 3, 9, 1, cfg)
        self.in6 = norm(3) if cfg.output_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w, b = x.shape[-2], x.shape[-1], self.config.border
        if b:
            x = F.pad(x, (b, b, b, b), mode="replicate")
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        for name in self.res_names:
            y = getattr(self, name)(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        y = self.in6(self.deconv3(y))
        if self.config.output == "tanh":
            y = torch.tanh(y) * 150.0 + 127.5
        # Both decoders round the size up to a multiple of 4; crop back to the input.
        return y[:, :, b : b + h, b : b + w]
