"""The boundary between OpenCV frames and nets, shared by every engine and every export.

Frames are uint8 BGR, shape (N, H, W, 3): what OpenCV captures, decodes and displays.
Putting the conversion inside the module means an exported ONNX/TensorRT graph does it
too, so all backends take the same input and agree by construction.
"""

from __future__ import annotations

import torch
from torch import nn


def frames_to_rgb(frames: torch.Tensor) -> torch.Tensor:
    """uint8 BGR NHWC -> float RGB NCHW in 0..255."""
    return frames.permute(0, 3, 1, 2)[:, [2, 1, 0]].float()


def rgb_to_frames(rgb: torch.Tensor) -> torch.Tensor:
    """float RGB NCHW (any range) -> uint8 BGR NHWC, clamped and rounded."""
    return rgb.clamp(0.0, 255.0).round().to(torch.uint8)[:, [2, 1, 0]].permute(0, 2, 3, 1)


class FrameModel(nn.Module):
    """Wraps a transform net so it takes and returns OpenCV frames."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return rgb_to_frames(self.net(frames_to_rgb(frames)))
