"""PyTorch eager backend: the reference every other backend is checked against."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from rtstyle.engines.base import Engine, check_frames
from rtstyle.engines.graph import refuses_engine_file
from rtstyle.engines.registry import Backend, register
from rtstyle.nets.frames import FrameModel

if TYPE_CHECKING:
    from rtstyle.styles.catalogue import Style


class TorchEngine(Engine):
    def __init__(self, net: torch.nn.Module, name: str, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.device.type == "cuda":  # the fp32 reference: no TF32 convolutions
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        self.model = FrameModel(net).eval().to(self.device)
        self.backend = f"torch-{self.device.type}"
        self.name = name

    def run(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        with torch.inference_mode():
            out = self.model(torch.from_numpy(np.ascontiguousarray(frames)).to(self.device))
        return out.cpu().numpy()


def open_net(style: Style, threads: int | None, precision: str | None = None) -> TorchEngine:
    from rtstyle.styles.modelfile import load_net

    return TorchEngine(load_net(style.path)[0], style.name, threads)


def refuses(style: Style) -> str | None:
    if style.is_onnx:
        return (f"style '{style.name}' is an ONNX file and cannot run on torch; "
                "use --backend onnxruntime")
    return refuses_engine_file(style)


register(Backend("torch", rank=90, available=lambda: True, open_net=open_net,
                 refuses=refuses))
