"""ONNX Runtime backend: CPU, or the CUDA / TensorRT execution providers of onnxruntime-gpu."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from rtstyle.engines.base import Engine, check_frames, graph_input, graph_output
from rtstyle.errors import RtstyleError
from rtstyle.export.tensorrt import Profile, parse_profile

PROVIDER = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
            "trt": "TensorrtExecutionProvider"}


def available_providers() -> set[str]:
    return set(ort.get_available_providers())


def providers_for(device: str, cache_dir: Path | None, fixed_size: tuple[int, int] | None,
                  profile_hint: str | None = None) -> list[Any]:
    """The provider list for a device, most preferred first, CPU as the fallback.

    The TensorRT provider keeps its engines and timing cache in `cache_dir`, and gets a
    narrow profile (fastest): the graph's fixed size, or the MIN:OPT:MAX it was exported
    with (`rtstyle export --dynamic`)."""
    if device == "cpu":
        return [PROVIDER["cpu"]]
    chain: list[Any] = [PROVIDER["cuda"], PROVIDER["cpu"]]
    if device == "trt":
        # No trt_fp16_enable: the provider builds weakly typed networks, where TensorRT
        # may run instance norm in fp16 (wrong output). The native `tensorrt` backend
        # is the fp16 path: strongly typed, norm kept fp32.
        opts: dict[str, Any] = {"trt_engine_cache_enable": True, "trt_timing_cache_enable": True}
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            opts["trt_engine_cache_path"] = str(cache_dir)
            opts["trt_timing_cache_path"] = str(cache_dir)
        profile = None
        if fixed_size:
            profile = Profile.fixed(*fixed_size)
        elif profile_hint:
            profile = parse_profile(profile_hint)
        if profile is not None:
            for key, shape in zip(("min", "opt", "max"), profile.shapes(), strict=True):
                opts[f"trt_profile_{key}_shapes"] = "frames:" + "x".join(map(str, shape))
        chain.insert(0, (PROVIDER["trt"], opts))
    return chain


class OnnxRuntimeEngine(Engine):
    """Runs an ONNX graph. `io` says how it wants frames: "frames" (rtstyle's own exports,
    uint8 BGR NHWC) or "rgb255" (float RGB NCHW in 0..255, e.g. pytorch/examples' exports).
    `fixed_size` (h, w) is set for graphs exported at one size; frames are resized to it."""

    def __init__(self, path: Path, name: str, device: str = "cpu", threads: int | None = None,
                 io: str = "frames", fixed_size: tuple[int, int] | None = None,
                 cache_dir: Path | None = None, profile_hint: str | None = None):
        providers = providers_for(device, cache_dir, fixed_size, profile_hint)
        first = providers[0] if isinstance(providers[0], str) else providers[0][0]
        if first not in available_providers():
            raise RtstyleError(f"{first} is not available in this onnxruntime; install "
                               "rtstyle[gpu] (onnxruntime-gpu) on a machine with CUDA, or use "
                               "--backend onnxruntime")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as e:  # ORT raises its own Fail/InvalidGraph types
            raise RtstyleError(f"ONNX Runtime cannot load {path} ({str(e).splitlines()[0]}); "
                               "the file is corrupt or not a model, re-export it") from e
        if device != "cpu" and self.session.get_providers()[0] != first:
            raise RtstyleError(f"{first} could not start (CUDA/cuDNN or TensorRT libraries "
                               "missing?); use --backend onnxruntime")
        self.input = self.session.get_inputs()[0].name
        self.io, self.fixed_size = io, fixed_size
        self.backend, self.name = f"onnxruntime-{device}", name

    def run(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        x = graph_input(frames, self.io, self.fixed_size)
        return graph_output(self.session.run(None, {self.input: x})[0], self.io, frames.shape)

