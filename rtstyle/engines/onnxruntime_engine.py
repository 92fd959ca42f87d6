"""ONNX Runtime backends: CPU, and the CUDA / TensorRT execution providers of onnxruntime-gpu.

`OrtSession` is the one place an ONNX Runtime session is built, for transform nets and
for style-swap's graph alike. The GPU providers are held to what they claim: no silent
fallback to another provider, the providers checked again after the first run, and one
clear error when the install itself is wrong (two ONNX Runtime packages in one folder, a
TensorRT the provider was not built for, TensorRT's libraries not loaded).
GPU parts not yet run on a GPU; see docs/backends.md.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
import onnxruntime as ort

from rtstyle.engines.graph import GraphEngine, output_scale, refuses_engine_file
from rtstyle.engines.registry import Backend, register
from rtstyle.errors import RtstyleError
from rtstyle.export.tensorrt import Profile, casts_at_edges, input_shapes, parse_profile
from rtstyle.files import write_bytes_atomic

if TYPE_CHECKING:
    from rtstyle.styles.catalogue import Style

PROVIDER = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
            "trt": "TensorrtExecutionProvider"}


def available_providers() -> set[str]:
    return set(ort.get_available_providers())


ORT_TRT_MAJOR = 10  # onnxruntime-gpu's TensorRT provider links libnvinfer.so.10


def installed(dists: list[str] | None = None) -> list[str]:
    """The ONNX Runtime distributions installed (they share one `onnxruntime` folder)."""
    found = []
    for dist in dists or ["onnxruntime", "onnxruntime-gpu"]:
        try:
            importlib.metadata.version(dist)
            found.append(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def install_problem(device: str, dists: list[str],
                    tensorrt_version: str | None) -> str | None:
    """What is wrong with this install for `device`, as a fix to apply; None: nothing."""
    if device == "cpu":
        return None
    if len(dists) > 1:
        return ("both onnxruntime and onnxruntime-gpu are installed; they overwrite each "
                "other's files and the GPU providers vanish. Fix: pip uninstall -y "
                "onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu")
    if device == "trt":
        if tensorrt_version is None:
            return ("the TensorRT provider needs TensorRT 10's libraries; "
                    f"pip install 'tensorrt>={ORT_TRT_MAJOR},<{ORT_TRT_MAJOR + 1}'")
        if int(tensorrt_version.split(".")[0]) != ORT_TRT_MAJOR:
            return (f"onnxruntime-gpu's TensorRT provider needs TensorRT {ORT_TRT_MAJOR} "
                    f"(libnvinfer.so.{ORT_TRT_MAJOR}), and TensorRT {tensorrt_version} is "
                    f"installed; pip install 'tensorrt>={ORT_TRT_MAJOR},<{ORT_TRT_MAJOR + 1}'")
    return None


def _tensorrt_version() -> str | None:
    for dist in ("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt-libs"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return None


def load_gpu_libraries(device: str) -> None:
    """Load the shared libraries pip put inside packages, before the provider dlopens them.

    pip's TensorRT libraries sit in the tensorrt_libs package, outside the loader's path;
    importing tensorrt loads them into the process, after which the provider's dlopen of
    libnvinfer.so.10 finds them by soname. Without this, onnxruntime-trt only works in a
    process that happened to import tensorrt first. CUDA and cuDNN come with torch, which
    rtstyle imports (and initialises) before any GPU session."""
    import torch

    torch.cuda.init()
    if device == "trt" and importlib.util.find_spec("tensorrt") is not None:
        import tensorrt  # noqa: F401


def providers_for(device: str, cache_dir: Path | None, profile: Profile | None = None,
                  input_name: str = "frames", io: str = "frames",
                  dims: list[int] | None = None) -> list[Any]:
    """The provider list for a device, most preferred first (CPU listed for the graph's
    edge ops; silent fallback is disabled separately).

    The TensorRT provider keeps its engines and timing cache in `cache_dir`, and gets a
    narrow profile (fastest) on the graph's real input: the graph's fixed size, or the
    MIN:OPT:MAX it was exported with (`rtstyle export --dynamic`)."""
    if device == "cpu":
        return [PROVIDER["cpu"]]
    # fp32 means fp32: no TF32 (10-bit mantissa) convolutions.
    chain: list[Any] = [(PROVIDER["cuda"], {"use_tf32": "0"}), PROVIDER["cpu"]]
    if device == "trt":
        # No trt_fp16_enable: the provider builds weakly typed networks, where TensorRT
        # may run instance norm in fp16 (wrong output). The native `tensorrt` backend
        # is the fp16 path: strongly typed, norm kept fp32.
        opts: dict[str, Any] = {"trt_engine_cache_enable": True, "trt_timing_cache_enable": True}
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            opts["trt_engine_cache_path"] = str(cache_dir)
            opts["trt_timing_cache_path"] = str(cache_dir)
        if profile is not None:
            shapes = input_shapes(dims or [-1] * 4, io, profile)
            for key, shape in zip(("min", "opt", "max"), shapes, strict=True):
                opts[f"trt_profile_{key}_shapes"] = f"{input_name}:" + "x".join(map(str, shape))
        chain.insert(0, (PROVIDER["trt"], opts))
    return chain


class OrtSession:
    """An ONNX graph in ONNX Runtime on one device, checked to really run there."""

    def __init__(self, path: Path, device: str = "cpu", threads: int | None = None,
                 fixed_size: tuple[int, int] | None = None, cache_dir: Path | None = None,
                 profile_hint: str | None = None, io: str = "frames"):
        problem = install_problem(device, installed(), _tensorrt_version())
        if problem:
            raise RtstyleError(problem)
        profile, name, dims = None, "frames", None
        if device == "trt":
            profile = Profile.fixed(*fixed_size) if fixed_size else (
                parse_profile(profile_hint) if profile_hint else None)
            load_gpu_libraries(device)
            path, name, dims = _trt_graph(path, cache_dir)
        elif device != "cpu":
            load_gpu_libraries(device)
        providers = providers_for(device, cache_dir, profile, name, io, dims)
        first = providers[0] if isinstance(providers[0], str) else providers[0][0]
        if first not in available_providers():
            raise RtstyleError(f"{first} is not available in this onnxruntime; install "
                               "onnxruntime-gpu (alone, see docs/backends.md) on a machine "
                               "with CUDA, or use --backend onnxruntime")
        self.device, self.first = device, first
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as e:  # ORT raises its own Fail/InvalidGraph types
            raise RtstyleError(f"ONNX Runtime cannot load {path} ({str(e).splitlines()[0]}); "
                               "the file is corrupt or not a model, re-export it") from e
        # A provider that fails later (TensorRT builds inside the first run) must raise,
        # not quietly become CUDA or CPU execution under this backend's name.
        self.session.disable_fallback()
        self._check_providers()
        self.checked = device == "cpu"
        self.input = self.session.get_inputs()[0].name

    def _check_providers(self) -> None:
        if self.device != "cpu" and self.session.get_providers()[0] != self.first:
            raise RtstyleError(f"{self.first} could not start (CUDA/cuDNN or TensorRT "
                               "libraries missing?); use --backend onnxruntime")

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        try:
            out = self.session.run(None, inputs)[0]
        except Exception as e:  # ORT's EPFail / RuntimeException types
            if self.device == "cpu":
                raise
            raise RtstyleError(f"{self.first} failed while running "
                               f"({str(e).splitlines()[0][:160]}); use --backend "
                               "onnxruntime-cuda or onnxruntime") from e
        if not self.checked:
            self._check_providers()
            self.checked = True
        return out


def _trt_graph(path: Path, cache_dir: Path | None) -> tuple[Path, str, list[int]]:
    """The graph as TensorRT's parser takes it (uint8 casts at the very edges, so TensorRT's
    subgraph starts at the graph input that the profile names), its input name and dims
    (-1 where dynamic). Cached next to the provider's engines."""
    proto = casts_at_edges(onnx.load(str(path)))
    data = proto.SerializeToString()
    if cache_dir is None:
        raise RtstyleError("the TensorRT provider needs a cache folder")
    out = cache_dir / f"edges-{hashlib.sha256(data).hexdigest()[:16]}.onnx"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(out, data)
    inp = proto.graph.input[0]
    dims = [d.dim_value if d.HasField("dim_value") else -1
            for d in inp.type.tensor_type.shape.dim]
    return out, inp.name, dims


def open_net(style: Style, threads: int | None, device: str) -> GraphEngine:
    from rtstyle.styles.catalogue import cache_dir
    from rtstyle.styles.exports import onnx_file

    meta = style.meta
    # CUDA gets the fp16 graph of a catalogue style (instance norm kept fp32).
    source = onnx_file(style, "fp16" if device == "cuda" and not style.is_onnx else "fp32")
    session = OrtSession(source, device, threads, fixed_size=meta.get("fixed_size"),
                         cache_dir=cache_dir("onnxruntime-trt") if device == "trt" else None,
                         profile_hint=meta.get("profile_hint"),
                         io=meta.get("onnx_io", "frames"))
    return GraphEngine(session, session.input, style.name, f"onnxruntime-{device}",
                       io=meta.get("onnx_io", "frames"), fixed_size=meta.get("fixed_size"),
                       scale=output_scale(meta))


def _provider(device: str):
    return lambda: PROVIDER[device] in available_providers()


register(Backend("onnxruntime-trt", rank=15, cuda=True, auto=False, refuses=refuses_engine_file,
                 # left out of auto: it builds its engine inside the first frame (a long stall)
                 available=_provider("trt"),
                 open_net=lambda style, threads, _: open_net(style, threads, "trt")))
register(Backend("onnxruntime-cuda", rank=20, cuda=True, available=_provider("cuda"),
                 refuses=refuses_engine_file,
                 open_net=lambda style, threads, _: open_net(style, threads, "cuda"),
                 open_session=lambda path, threads: OrtSession(path, "cuda", threads)))
register(Backend("onnxruntime", rank=40, aliases=("onnxruntime-cpu",),
                 refuses=refuses_engine_file,
                 available=lambda: True,
                 open_net=lambda style, threads, _: open_net(style, threads, "cpu"),
                 open_session=lambda path, threads: OrtSession(path, "cpu", threads)))
