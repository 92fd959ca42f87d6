"""torch-CUDA backend: the fast GPU path that needs nothing beyond torch.

Many users with an NVIDIA GPU have torch with CUDA but neither TensorRT nor
onnxruntime-gpu. This backend gets most of the way there with torch alone:

* fp16 convolutions (tensor cores), with every instance norm and the output conv kept
  in fp32: a norm's mean and variance over a whole frame lose digits in fp16, and the
  head's tanh * 150 amplifies the output conv's rounding into grey levels;
* channels_last (NHWC) memory, the layout cuDNN's tensor-core convs run without
  transposes, and cudnn.benchmark to pick the fastest conv per shape;
* one CUDA graph per input shape, captured on first sight and replayed: a transform net
  is ~40 small kernels whose launch overhead matters at webcam sizes. Where capture
  fails (an old driver, a torch build without graphs) it runs eagerly instead.

torch.compile is not used: its first-frame compile takes tens of seconds per shape and
needs Triton, which the minimal GPU setups this backend is for often lack.

Not yet run on a GPU (see docs/backends.md); the mixed-precision wrapping is checked on
the CPU with bf16, which goes through the same code.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from rtstyle.engines.base import Engine, check_frames
from rtstyle.engines.registry import Backend, register
from rtstyle.engines.torch_engine import refuses

if TYPE_CHECKING:
    from rtstyle.styles.catalogue import Style

MAX_GRAPHS = 4  # shapes kept captured (each holds its activations on the GPU)
DTYPES = {"fp16": torch.float16, "fp32": torch.float32}


def _run_in_float32(module: nn.Module, back: torch.dtype | None) -> None:
    """Make `module` compute in fp32 inside a lower-precision net: its input is cast up,
    its output cast back to `back` (None: left fp32 for what follows, e.g. the head)."""
    module.float()
    module.register_forward_pre_hook(lambda m, args: tuple(a.float() for a in args))
    if back is not None:
        module.register_forward_hook(lambda m, args, out: out.to(back))


class MixedPrecision(nn.Module):
    """A transform net in `dtype` (channels_last), its instance norms and output conv in
    fp32. Takes and returns float32 NCHW like the net it wraps."""

    def __init__(self, net: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.dtype = dtype
        self.net = net.to(dtype=dtype, memory_format=torch.channels_last)
        if dtype != torch.float32:
            convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
            head = convs[-1] if convs else None  # the output conv comes last in every arch
            for m in net.modules():
                if isinstance(m, nn.InstanceNorm2d):
                    _run_in_float32(m, dtype)
            if head is not None:
                _run_in_float32(head, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.dtype).contiguous(memory_format=torch.channels_last)
        return self.net(x).float()


class GraphFrames(nn.Module):
    """uint8 BGR NHWC frames in and out, like nets.frames.FrameModel, but with the channel
    swap as a flip: FrameModel's list index makes a CPU index tensor and a host-to-device
    copy on every call, which a CUDA graph cannot capture."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        rgb = self.net(frames.permute(0, 3, 1, 2).flip(1).float())
        return rgb.clamp(0.0, 255.0).round().to(torch.uint8).flip(1).permute(0, 2, 3, 1)


class TorchCudaEngine(Engine):
    """A transform net on the GPU through torch, fp16 by default, replayed as CUDA graphs."""

    def __init__(self, net: nn.Module, name: str, precision: str = "fp16",
                 graphs: bool = True, device: str = "cuda"):
        self.device = torch.device(device)
        self.precision, self.name = precision, name
        self.backend = f"torch-cuda-{precision}"
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            # fp32 means fp32: no TF32 (10-bit mantissa) convolutions behind its back.
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        self.model = GraphFrames(MixedPrecision(net, DTYPES[precision])).eval().to(self.device)
        self.use_graphs = graphs and self.device.type == "cuda"
        self.graphs: OrderedDict[tuple, tuple[Any, torch.Tensor, torch.Tensor]] = OrderedDict()

    def _eager(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.model(x)

    def _graph(self, shape: tuple) -> tuple[Any, torch.Tensor, torch.Tensor] | None:
        """The captured graph for `shape` (captured now if new); None if capture fails."""
        if shape in self.graphs:
            self.graphs.move_to_end(shape)
            return self.graphs[shape]
        static_in = torch.zeros(shape, dtype=torch.uint8, device=self.device)
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side), torch.inference_mode():
                for _ in range(2):  # cudnn.benchmark picks its convs outside the capture
                    self.model(static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.inference_mode(), torch.cuda.graph(graph):
                static_out = self.model(static_in)
        except RuntimeError:
            self.use_graphs = False
            return None
        if len(self.graphs) >= MAX_GRAPHS:
            self.graphs.popitem(last=False)
        self.graphs[shape] = (graph, static_in, static_out)
        return self.graphs[shape]

    def run(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        x = torch.from_numpy(np.ascontiguousarray(frames))
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        entry = self._graph(tuple(x.shape)) if self.use_graphs else None
        if entry is None:
            return self._eager(x).contiguous().cpu().numpy()
        graph, static_in, static_out = entry
        static_in.copy_(x)
        graph.replay()
        # a copy: the next replay overwrites static_out
        return static_out.contiguous().cpu().numpy()

    def close(self) -> None:
        self.graphs.clear()


def open_net(style: Style, threads: int | None, precision: str | None = None) -> TorchCudaEngine:
    from rtstyle.styles.modelfile import load_net

    mode = "fp16" if precision in (None, "auto") else precision
    return TorchCudaEngine(load_net(style.path)[0], style.name, mode)


# After TensorRT and onnxruntime-trt, ahead of onnxruntime-cuda: fp16 tensor cores and
# CUDA graphs against ONNX Runtime's per-op launches (to be confirmed by the GPU check).
register(Backend("torch-cuda", rank=18, cuda=True, available=lambda: True, open_net=open_net,
                 refuses=refuses, precisions=("auto", "fp16", "fp32")))
