"""OpenVINO backend (optional extra `rtstyle[openvino]`): the fastest CPU engine measured.

It reads rtstyle's ONNX exports directly. On the int8 export it turns the Q/DQ pairs
into real int8 convolutions (VNNI), where ONNX Runtime's CPU provider gains little;
see README, "Backends". Each frame shape gets its own compiled model (static shapes
are fastest), made on first sight and kept; compiled blobs are cached on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rtstyle.engines.base import Engine, check_frames, graph_input, graph_output
from rtstyle.errors import RtstyleError


def openvino_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


class OpenVinoEngine(Engine):
    def __init__(self, path: Path, name: str, threads: int | None = None, io: str = "frames",
                 fixed_size: tuple[int, int] | None = None, cache_dir: Path | None = None):
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
        self.compiled: dict[tuple[int, ...], Any] = {}
        self.io, self.fixed_size = io, fixed_size
        self.backend, self.name = "openvino-cpu", name

    def _request(self, shape: tuple[int, ...]) -> Any:
        if shape not in self.compiled:
            model = self.model.clone()
            model.reshape({self.input: list(shape)})
            self.compiled[shape] = self.core.compile_model(
                model, "CPU", self.config).create_infer_request()
        return self.compiled[shape]

    def run(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        x = graph_input(frames, self.io, self.fixed_size)
        request = self._request(x.shape)
        request.infer({0: x})
        y = request.get_output_tensor(0).data.copy()
        return graph_output(y, self.io, frames.shape)

    def close(self) -> None:
        self.compiled.clear()
