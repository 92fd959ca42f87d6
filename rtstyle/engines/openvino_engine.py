"""OpenVINO backend (optional extra `rtstyle[openvino]`): the fastest CPU engine measured.

It reads rtstyle's ONNX exports directly. On the int8 export it turns the Q/DQ pairs
into real int8 convolutions (VNNI), where ONNX Runtime's CPU provider gains little;
see docs/backends.md. Each input shape gets its own compiled model (static shapes are
fastest), made on first sight and kept; compiled blobs are cached on disk.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rtstyle.engines.graph import GraphEngine, refuses_engine_file
from rtstyle.engines.registry import Backend, register
from rtstyle.errors import RtstyleError

if TYPE_CHECKING:
    from rtstyle.styles.catalogue import Style


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


class OpenVinoSession:
    """An ONNX graph compiled by OpenVINO for the CPU, once per input shape."""

    def __init__(self, path: Path, threads: int | None = None, cache_dir: Path | None = None):
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
        # f32 inference: on CPUs with bf16 OpenVINO would otherwise lower the precision
        # of instance norm too, which costs fidelity (and measured slower here).
        self.config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY",
                                       "INFERENCE_PRECISION_HINT": "f32"}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = threads
        self.input = self.model.inputs[0].get_any_name()
        self.compiled: dict[tuple, Any] = {}

    def _request(self, inputs: dict[str, np.ndarray]) -> Any:
        key = tuple((name, x.shape) for name, x in inputs.items())
        if key not in self.compiled:
            model = self.model.clone()
            model.reshape({name: list(x.shape) for name, x in inputs.items()})
            self.compiled[key] = self.core.compile_model(
                model, "CPU", self.config).create_infer_request()
        return self.compiled[key]

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        request = self._request(inputs)
        request.infer(inputs)
        return request.get_output_tensor(0).data.copy()

    def close(self) -> None:
        self.compiled.clear()


def _cache_dir() -> Path:
    from rtstyle.styles.catalogue import home

    return home() / "cache" / "openvino"


def open_net(style: Style, threads: int | None) -> GraphEngine:
    from rtstyle.styles.exports import onnx_file

    session = OpenVinoSession(onnx_file(style), threads, _cache_dir())
    return GraphEngine(session, session.input, style.name, "openvino-cpu",
                       io=style.meta.get("onnx_io", "frames"),
                       fixed_size=style.meta.get("fixed_size"))


register(Backend("openvino", rank=30, available=openvino_available, open_net=open_net,
                 refuses=refuses_engine_file,
                 open_session=lambda path, threads: OpenVinoSession(path, threads,
                                                                    _cache_dir())))
