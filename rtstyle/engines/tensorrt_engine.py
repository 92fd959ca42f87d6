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
import onnx

from rtstyle.engines.base import Engine, check_frames
from rtstyle.engines.graph import graph_input, graph_output, output_scale
from rtstyle.engines.registry import Backend, register
from rtstyle.errors import RtstyleError
from rtstyle.export.tensorrt import (
    MAX_BATCH,
    EngineFile,
    Profile,
    Shapes,
    build_graph_plan,
    cached_plan,
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
                 io: str = "frames", fixed_size: tuple[int, int] | None = None,
                 scale: int = 1):
        self.trt = require_tensorrt()
        import torch

        self.torch = torch
        self.onnx_bytes, self.cache_dir, self.name = onnx_bytes, cache_dir, name
        self.stream = torch.cuda.Stream()
        # profile -> (runtime, engine, context, input name, output name)
        self.loaded: dict[Profile, tuple[Any, Any, Any, str, str]] = {}
        self.io = io
        self.scale = scale  # the upscaler's output is `scale` times its input
        # A graph fixed to one size runs at that size only (frames resized to it).
        self.fixed: Profile | None = Profile.fixed(*fixed_size) if fixed_size else None
        if self.fixed is not None:
            self._load(self.fixed)
        self.backend = f"tensorrt-{precision}"
        if engine_file is not None:
            self.fixed = engine_file.profile
            self.scale = output_scale(engine_file.header.get("style_meta") or {})
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
        return graph_output(torch.cat(results).numpy(), self.io, frames.shape, self.scale)

    def close(self) -> None:
        self.loaded.clear()


class TensorRTSession:
    """Any ONNX graph on TensorRT with named numpy inputs (style-swap's `GraphSession`).

    The first input (frames) fixes the frame size, as for the nets, with batches of 1 to
    MAX_BATCH; every other input's dynamic dims (a painting's patch count) may vary up to
    the next power of two of what was first seen, so a new painting of a similar size
    reuses the plan. One plan per such bucket, cached like the nets' plans. Written
    against TensorRT 10; not verified on a GPU.
    """

    def __init__(self, path: Path, threads: int | None = None):
        self.trt = require_tensorrt()
        import torch

        from rtstyle.styles.catalogue import cache_dir

        self.torch, self.cache = torch, cache_dir("tensorrt")
        self.onnx_bytes = Path(path).read_bytes()
        graph = onnx.load_from_string(self.onnx_bytes).graph
        # per input, which dims the graph leaves free (a profile must fix the others)
        self.free = {i.name: [not d.dim_value for d in i.type.tensor_type.shape.dim]
                     for i in graph.input}
        self.stream = torch.cuda.Stream()
        # input shapes -> (runtime, engine, context)
        self.loaded: list[tuple[Shapes, tuple[Any, Any, Any]]] = []

    def _shapes(self, inputs: dict[str, np.ndarray]) -> Shapes:
        shapes: Shapes = {}
        for i, (name, x) in enumerate(inputs.items()):
            if i == 0:  # the frames: this size, batch 1..MAX_BATCH
                shapes[name] = ((1, *x.shape[1:]), (1, *x.shape[1:]),
                                (MAX_BATCH, *x.shape[1:]))
            else:
                free = self.free.get(name, [True] * x.ndim)
                lo = tuple(1 if f else d for d, f in zip(x.shape, free, strict=True))
                top = tuple(1 << max(0, d - 1).bit_length() if f else d
                            for d, f in zip(x.shape, free, strict=True))
                shapes[name] = (lo, tuple(x.shape), top)
        return shapes

    def _pick(self, inputs: dict[str, np.ndarray]) -> tuple[Any, Any, Any]:
        def fits(shapes: Shapes) -> bool:
            return all(all(lo <= d <= hi for d, lo, hi in zip(x.shape, shapes[n][0],
                                                              shapes[n][2], strict=True))
                       for n, x in inputs.items())

        for shapes, entry in self.loaded:
            if fits(shapes):
                return entry
        shapes = self._shapes(inputs)
        runtime, engine = cached_plan(self.onnx_bytes, shapes, self.cache,
                                      lambda: build_graph_plan(self.onnx_bytes, shapes,
                                                               self.cache))
        context = engine.create_execution_context()
        if context is None:
            raise RtstyleError("TensorRT could not create an execution context (out of GPU "
                               "memory?); close other GPU programs or use a smaller --size")
        self.loaded.append((shapes, (runtime, engine, context)))
        return runtime, engine, context

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        first = next(iter(inputs))
        frames = inputs[first]
        if frames.shape[0] > MAX_BATCH:  # the profile's largest batch: run in chunks
            return np.concatenate([self.run({**inputs, first: frames[i:i + MAX_BATCH]})
                                   for i in range(0, frames.shape[0], MAX_BATCH)])
        _, engine, context = self._pick(inputs)
        torch, trt = self.torch, self.trt
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        out = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        with torch.cuda.stream(self.stream):
            held = []  # the inputs' GPU copies live until the run is done
            for name, x in inputs.items():
                src = torch.from_numpy(np.ascontiguousarray(x)).to("cuda", non_blocking=True)
                src = src.to(_torch_dtype(trt, engine.get_tensor_dtype(name)))
                if not context.set_input_shape(name, tuple(src.shape)):
                    raise RtstyleError(f"TensorRT refused the shape {tuple(src.shape)} of "
                                       f"input {name}; use --backend onnxruntime-cuda")
                context.set_tensor_address(name, src.data_ptr())
                held.append(src)
            dst = torch.empty(tuple(context.get_tensor_shape(out)),
                              dtype=_torch_dtype(trt, engine.get_tensor_dtype(out)),
                              device="cuda")
            context.set_tensor_address(out, dst.data_ptr())
            if not context.execute_async_v3(self.stream.cuda_stream):
                raise RtstyleError("TensorRT failed to run the graph (see its log above)")
            result = dst.to("cpu", non_blocking=True)
        self.stream.synchronize()
        return result.numpy()

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


def open_net(style: Style, threads: int | None,
             precision: str | None = None) -> TensorRTEngine:
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
                          fixed_size=style.meta.get("fixed_size"),
                          scale=output_scale(style.meta))


register(Backend("tensorrt", rank=10, cuda=True, open_net=open_net, refuses=_refuses,
                 available=lambda: importlib.util.find_spec("tensorrt") is not None,
                 open_session=TensorRTSession))
