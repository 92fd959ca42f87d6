"""ONNX Runtime backends: CPU, and the CUDA / TensorRT execution providers of onnxruntime-gpu.

`OrtSession` is the one place an ONNX Runtime session is built, for transform nets and
for style-swap's graph alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort

from rtstyle.engines.graph import GraphEngine, refuses_engine_file
from rtstyle.engines.registry import Backend, register
from rtstyle.errors import RtstyleError
from rtstyle.export.tensorrt import Profile, parse_profile

if TYPE_CHECKING:
    from rtstyle.styles.catalogue import Style

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


class OrtSession:
    """An ONNX graph in ONNX Runtime on one device, checked to really run there."""

    def __init__(self, path: Path, device: str = "cpu", threads: int | None = None,
                 fixed_size: tuple[int, int] | None = None, cache_dir: Path | None = None,
                 profile_hint: str | None = None):
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

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, inputs)[0]


def open_net(style: Style, threads: int | None, device: str) -> GraphEngine:
    from rtstyle.styles.catalogue import home
    from rtstyle.styles.exports import onnx_file

    meta = style.meta
    # CUDA gets the fp16 graph of a catalogue style (instance norm kept fp32).
    source = onnx_file(style, "fp16" if device == "cuda" and not style.is_onnx else "fp32")
    session = OrtSession(source, device, threads, fixed_size=meta.get("fixed_size"),
                         cache_dir=home() / "cache" / "onnxruntime-trt",
                         profile_hint=meta.get("profile_hint"))
    return GraphEngine(session, session.input, style.name, f"onnxruntime-{device}",
                       io=meta.get("onnx_io", "frames"), fixed_size=meta.get("fixed_size"))


def _provider(device: str):
    return lambda: PROVIDER[device] in available_providers()


register(Backend("onnxruntime-trt", rank=15, cuda=True, auto=False, refuses=refuses_engine_file,
                 # left out of auto: it builds its engine inside the first frame (a long stall)
                 available=_provider("trt"),
                 open_net=lambda style, threads: open_net(style, threads, "trt")))
register(Backend("onnxruntime-cuda", rank=20, cuda=True, available=_provider("cuda"),
                 refuses=refuses_engine_file,
                 open_net=lambda style, threads: open_net(style, threads, "cuda"),
                 open_session=lambda path, threads: OrtSession(path, "cuda", threads)))
register(Backend("onnxruntime", rank=40, aliases=("onnxruntime-cpu",),
                 refuses=refuses_engine_file,
                 available=lambda: True,
                 open_net=lambda style, threads: open_net(style, threads, "cpu"),
                 open_session=lambda path, threads: OrtSession(path, "cpu", threads)))
