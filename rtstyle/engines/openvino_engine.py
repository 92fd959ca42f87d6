"""OpenVINO backend (optional extra `rtstyle[openvino]`): the fastest CPU engine measured.

It reads rtstyle's ONNX exports directly. Its precision follows the CPU
(`rtstyle.engines.precision`): bf16 where the CPU has native bf16, and on the int8 export
real int8 convolutions, where ONNX Runtime's CPU provider gains little; see
docs/backends.md. Each input shape gets its own compiled model (static shapes are
fastest), made on first sight and kept; compiled blobs are cached on disk.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rtstyle.engines import precision as precision_policy
from rtstyle.engines.graph import GraphEngine, output_scale, refuses_engine_file
from rtstyle.engines.registry import Backend, register
from rtstyle.errors import RtstyleError

if TYPE_CHECKING:
    from rtstyle.styles.catalogue import Style


HINT = {"fp32": "f32", "bf16": "bf16"}


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


class OpenVinoSession:
    """An ONNX graph compiled by OpenVINO for the CPU, once per input shape.

    Once tuned for throughput (serve), each calling thread gets its own infer request on
    the shared compiled model, so several threads (serve's clients) may run at once: two
    overlapping requests keep both cores busy (docs/serve.md). Otherwise (webcam, video)
    one request serves the one thread that calls it."""

    concurrent = False  # True after prefer_throughput

    def __init__(self, path: Path, threads: int | None = None, cache_dir: Path | None = None,
                 precision: str = "fp32"):
        try:
            import openvino as ov
        except ImportError as e:
            raise RtstyleError("OpenVINO is not installed; `pip install 'rtstyle[openvino]'`, "
                               "or use --backend onnxruntime") from e
        self.core = ov.Core()
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self.core.set_property({"CACHE_DIR": str(cache_dir)})
        try:
            self.model = self.core.read_model(str(path))
        except Exception as e:  # OpenVINO raises RuntimeError with a long C++ trace
            raise RtstyleError(f"OpenVINO cannot read {path} ({str(e).splitlines()[0][:120]}); "
                               "the file is corrupt or not a model, re-export it") from e
        # The float ops' precision is always set, never left to OpenVINO's default (bf16
        # wherever the CPU has it): the policy decides, from measured speed and fidelity.
        floats = precision_policy.float_hint(precision_policy.cpu_flags()) \
            if precision == "int8" else precision
        self.precision = precision
        self.config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY",
                                       "INFERENCE_PRECISION_HINT": HINT[floats]}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = threads
        self.input = self.model.inputs[0].get_any_name()
        self.compiled: dict[tuple, Any] = {}
        self._compiling = threading.Lock()
        self._copying = threading.Lock()
        self._local = threading.local()  # this thread's requests, by input shape
        self._requests: dict[tuple, Any] = {}  # the one thread's, when not concurrent

    def _request(self, inputs: dict[str, np.ndarray]) -> Any:
        key = tuple((name, x.shape) for name, x in inputs.items())
        requests = self._local.__dict__.setdefault("requests", {}) if self.concurrent \
            else self._requests
        if key not in requests:
            with self._compiling:
                if key not in self.compiled:
                    model = self.model.clone()
                    model.reshape({name: list(x.shape) for name, x in inputs.items()})
                    self.compiled[key] = self.core.compile_model(model, "CPU", self.config)
                requests[key] = self.compiled[key].create_infer_request()
        return requests[key]

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        request = self._request(inputs)
        if not self.concurrent:
            request.infer(inputs)
            return request.get_output_tensor(0).data.copy()
        # Only the inference overlaps. Copying into and out of the requests' tensors on two
        # threads at once, with other threads running (serve's VP8 coders), hung the
        # process for good (OpenVINO 2026.4; 2 runs in 3 with 4 threads): one at a time.
        with self._copying:
            for name, x in inputs.items():
                request.get_tensor(name).data[:] = x
        request.infer()
        with self._copying:
            return request.get_output_tensor(0).data.copy()

    def prefer_throughput(self) -> None:
        """OpenVINO's THROUGHPUT hint: the cores split into streams (two on 2 cores), each
        running one request. A lone frame takes longer; four serve clients at 640x480
        get about twice the frames a second (docs/serve.md, "Four clients")."""
        self.config["PERFORMANCE_HINT"] = "THROUGHPUT"
        self.close()  # shapes compiled for latency are compiled again
        self.concurrent = True

    def close(self) -> None:
        self.compiled.clear()
        self._requests = {}
        self._local = threading.local()


def _cache_dir() -> Path:
    from rtstyle.styles.catalogue import cache_dir

    return cache_dir("openvino")


def open_net(style: Style, threads: int | None, precision: str | None = None) -> GraphEngine:
    from rtstyle.styles.exports import onnx_file

    mode = precision_policy.resolve(precision, style.meta.get("precision") == "int8")
    session = OpenVinoSession(onnx_file(style), threads, _cache_dir(), mode)
    return GraphEngine(session, session.input, style.name, f"openvino-cpu-{mode}",
                       io=style.meta.get("onnx_io", "frames"),
                       fixed_size=style.meta.get("fixed_size"),
                       scale=output_scale(style.meta))


register(Backend("openvino", rank=30, available=openvino_available, open_net=open_net,
                 refuses=refuses_engine_file, precisions=("auto", *precision_policy.MODES),
                 open_session=lambda path, threads: OpenVinoSession(path, threads,
                                                                    _cache_dir())))
