"""PyTorch eager backend: the reference every other backend is checked against."""

from __future__ import annotations

import numpy as np
import torch

from rtstyle.engines.base import Engine, check_frames
from rtstyle.nets.frames import FrameModel


class TorchEngine(Engine):
    def __init__(self, net: torch.nn.Module, name: str, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = FrameModel(net).eval().to(self.device)
        self.backend = f"torch-{self.device.type}"
        self.name = name

    def run(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        with torch.inference_mode():
            out = self.model(torch.from_numpy(np.ascontiguousarray(frames)).to(self.device))
        return out.cpu().numpy()
