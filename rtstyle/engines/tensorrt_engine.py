"""TensorRT backend: a plan built from the style's ONNX, run with torch CUDA buffers.

Frames go to the GPU as uint8 NHWC (the graph does the BGR/float conversion), the
context reads and writes torch tensors through set_tensor_address, and execute_async_v3
runs on a private CUDA stream. Opened from a style, an engine is built (or taken from
the cache) for each frame size on first sight, with a profile fixed to that size;
opened from an exported engine file, frames outside its profile are resized to the
profile's optimum size and back. A foreign ONNX style keeps its own convention: a float
RGB NCHW (`rgb255`) input and a fixed size, to which frames are resized; batches larger
than the profile (or a graph's fixed batch) run in chunks.

Written against TensorRT 10; not verified on a GPU yet (see docs/status.md).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rtstyle.engines.base import Engine, check_frames
from rtstyle.engines.graph import graph_input, graph_output
from rtstyle.engines.registry import Backend, register
from rtstyle.errors import RtstyleError
from rtstyle.export.tensorrt import (
    EngineFile,
    Profile,
    load_plan,
    require_tensorrt,
)

if TYPE_CHECKING:
    from rtstyle.styles.catalogue import Style


def _torch_dtype(trt: Any, dtype: Any) -> Any:
    import torch

    table = {trt.uint8: torch.uint8, trt.float32: torch.float32, trt.float16: torch.float16}
    if dtype not in table:
        raise RtstyleError(f"engine input/output type {dtype} is not one rtstyle feeds; "
                           "export the graph with uint8 frames or float input")
    return table[dtype]


class TensorRTEngine(Engine):
    def __init__(self, onnx_bytes: bytes, name: str, cache_dir: Path,
                 engine_file: EngineFile | None = None, precision: str = "fp32",
                 io: str = "frames", fixed_size: tuple[int, int] | None = None):
        self.trt = require_tensorrt()
        import torch

        self.torch = torch
        self.onnx_bytes, self.cache_dir, self.name = onnx_bytes, cache_dir, name
        self.stream = torch.cuda.Stream()
        # profile -> (runtime, engine, context, input name, output name)
        self.loaded: dict[Profile, tuple[Any, Any, Any, str, str]] = {}
        self.io = io
        # A graph fixed to one size runs at that size only (frames resized to it).
        self.fixed: Profile | None = Profile.fixed(*fixed_size) if fixed_size else None
        if self.fixed is not None:
            self._load(self.fixed)
        self.backend = f"tensorrt-{precision}"
        if engine_file is not None:
            self.fixed = engine_file.profile
            self._load(self.fixed, engine_file.plan, engine_file.header)
            self.backend = f"tensorrt-{engine_file.header.get('precision', 'fp32')}"

    def _load(self, profile: Profile, plan: bytes | None = None,
              built_for: dict[str, Any] | None = None) -> Any:
        runtime, engine = load_plan(self.onnx_bytes, profile, self.cache_dir, plan, built_for,
                                    self.io)
        context = engine.create_execution_context()
        if context is None:
            raise RtstyleError("TensorRT could not create an execution context (out of GPU "
                               "memory?); close other GPU programs or use a smaller --size")
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == self.trt.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        if len(inputs) != 1 or len(outputs) != 1:
            raise RtstyleError(f"engine for '{self.name}' has inputs {inputs} and outputs "
                               f"{outputs}; rtstyle engines take one frame tensor")
        self.loaded[profile] = (runtime, engine, context, inputs[0], outputs[0])
        return self.loaded[profile]

    def _pick(self, h: int, w: int) -> tuple[tuple, tuple[int, int] | None]:
        """The loaded engine for this size, and the size to resize frames to (or None)."""
        for profile, entry in self.loaded.items():
            if profile.contains(h, w):
                return entry, None
        if self.fixed is not None:  # an exported engine: run at its optimum size
            return self.loaded[self.fixed], self.fixed.opt_hw
        return self._load(Profile.fixed(h, w)), None

    def run(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        n, h, w, _ = frames.shape
        (_, engine, context, inp, out), resize = self._pick(h, w)
        x = graph_input(frames, self.io, resize)
        torch = self.torch
        in_type = _torch_dtype(self.trt, engine.get_tensor_dtype(inp))
        out_type = _torch_dtype(self.trt, engine.get_tensor_dtype(out))
        # The most frames one call takes: a graph's fixed batch, else the profile's max.
        static = engine.get_tensor_shape(inp)[0]
        batch = static if static > 0 else engine.get_tensor_profile_shape(inp, 0)[2][0]
        results = []
        with torch.cuda.stream(self.stream):
            for start in range(0, n, batch):
                chunk = torch.from_numpy(np.ascontiguousarray(x[start:start + batch]))
                src = chunk.pin_memory().to("cuda", non_blocking=True).to(in_type)
                if static > 0 and src.shape[0] < static:  # a fixed batch: pad, drop later
                    pad = src[-1:].expand(static - src.shape[0], *src.shape[1:])
                    src = torch.cat([src, pad])
                if not context.set_input_shape(inp, tuple(src.shape)):
                    raise RtstyleError(f"TensorRT refused input shape {tuple(src.shape)} for "
                                       f"'{self.name}' (outside the engine's profile); "
                                       "re-export it with a --dynamic range that covers it")
                shape = tuple(context.get_tensor_shape(out))
                dst = torch.empty(shape, dtype=out_type, device="cuda")
                context.set_tensor_address(inp, src.data_ptr())
                context.set_tensor_address(out, dst.data_ptr())
                if not context.execute_async_v3(self.stream.cuda_stream):
                    raise RtstyleError("TensorRT failed to run the engine (see its log above)")
                results.append(dst[:len(chunk)].float().to("cpu", non_blocking=True)
                               if out_type == torch.float16 else
                               dst[:len(chunk)].to("cpu", non_blocking=True))
        self.stream.synchronize()
        return graph_output(torch.cat(results).numpy(), self.io, frames.shape)

    def close(self) -> None:
        self.loaded.clear()


def _cpu_int8(style: Style) -> bool:
    """An int8 export made for CPUs (asymmetric Q/DQ, which TensorRT rejects)."""
    return style.meta.get("int8", {}).get("target") == "cpu"


def _refuses(style: Style) -> str | None:
    if _cpu_int8(style):
        return (f"{style.path.name} is an int8 export for CPUs (asymmetric Q/DQ, which "
                "TensorRT rejects); make a TensorRT one with "
                "`rtstyle export --format tensorrt --precision int8`")
    return None


def open_net(style: Style, threads: int | None) -> TensorRTEngine:
    """A style's net built into a plan per frame size, or an exported engine file, which
    rebuilds itself from the ONNX inside it when it was built for another GPU or TensorRT."""
    from rtstyle.styles.catalogue import cache_dir
    from rtstyle.styles.exports import onnx_file

    cache = cache_dir("tensorrt")
    if style.is_engine_file:
        require_tensorrt()
        engine_file = EngineFile.read(style.path)
        return TensorRTEngine(engine_file.onnx_bytes, style.meta.get("style", style.name),
                              cache, engine_file)
    precision = "fp32" if style.is_onnx else "fp16"
    return TensorRTEngine(onnx_file(style, precision).read_bytes(), style.name, cache,
                          precision=style.meta.get("precision", precision),
                          io=style.meta.get("onnx_io", "frames"),
                          fixed_size=style.meta.get("fixed_size"))


register(Backend("tensorrt", rank=10, cuda=True, open_net=open_net, refuses=_refuses,
                 available=lambda: importlib.util.find_spec("tensorrt") is not None))
