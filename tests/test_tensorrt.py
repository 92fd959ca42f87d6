"""TensorRT and ONNX Runtime GPU providers, compared with ONNX Runtime on CPU.

Marked `gpu`: every test here skips without CUDA and the `tensorrt` package. None of
this has run yet (the development machine has no GPU); see README, Verification status.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from conftest import asset, cli

from rtstyle.metrics import psnr

pytestmark = pytest.mark.gpu

if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU", allow_module_level=True)


def _frames(h: int, w: int, n: int = 2) -> np.ndarray:
    img = cv2.resize(cv2.imread(str(asset("photos/golden_gate.jpg"))), (w, h))
    return np.stack([img, img[:, ::-1]])[:n]


@pytest.fixture
def cpu_reference(udnie_home):
    from rtstyle.engines import open_engine

    return open_engine(str(udnie_home / "styles" / "udnie.safetensors"), "onnxruntime")


@pytest.mark.parametrize("precision,min_db", [("fp32", 45), ("fp16", 38)])
def test_exported_engine_matches_onnxruntime(udnie_home, cpu_reference, tmp_path,
                                             precision, min_db):
    pytest.importorskip("tensorrt")
    out = tmp_path / f"udnie-{precision}.engine"
    r = cli("export", "--style", "udnie", "--format", "tensorrt", "--precision", precision,
            "--size", "320x240", "-o", str(out), env={"RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 0, r.stderr
    from rtstyle.engines import open_engine

    engine = open_engine(str(out), "auto")
    assert engine.backend == f"tensorrt-{precision}"
    frames = _frames(240, 320)
    got, want = engine.run(frames), cpu_reference.run(frames)
    assert got.shape == want.shape and psnr(got, want) >= min_db
    # a frame of another size is resized to the profile and back
    assert engine.run(_frames(200, 300, 1)).shape == (1, 200, 300, 3)


def test_int8_engine_from_qdq_graph(udnie_home, cpu_reference, tmp_path):
    pytest.importorskip("tensorrt")
    out = tmp_path / "udnie-int8.engine"
    r = cli("export", "--style", "udnie", "--format", "tensorrt", "--precision", "int8",
            "--size", "320x240", "--calibrate", str(asset("train-photos")),
            "--calibration-frames", "8", "-o", str(out),
            env={"RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 0, r.stderr
    from rtstyle.engines import open_engine

    frames = _frames(240, 320)
    assert psnr(open_engine(str(out)).run(frames), cpu_reference.run(frames)) >= 28


def test_engine_for_another_gpu_is_rebuilt(udnie_home, cpu_reference, tmp_path):
    pytest.importorskip("tensorrt")
    from rtstyle.engines import open_engine
    from rtstyle.export.tensorrt import EngineFile

    out = tmp_path / "udnie.engine"
    r = cli("export", "--style", "udnie", "--format", "tensorrt", "--size", "320x240",
            "-o", str(out), env={"RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 0, r.stderr
    stale = EngineFile.read(out)
    stale.header["gpu"], stale.plan = "Some Other GPU", b"not a plan"
    stale.write(out)
    frames = _frames(240, 320)
    engine = open_engine(str(out), "tensorrt")  # rebuilds from the embedded ONNX
    assert psnr(engine.run(frames), cpu_reference.run(frames)) >= 45


def test_tensorrt_backend_on_a_style_builds_per_size(udnie_home, cpu_reference, monkeypatch):
    pytest.importorskip("tensorrt")
    monkeypatch.setenv("RTSTYLE_HOME", str(udnie_home))
    from rtstyle.engines import available_backends, open_engine

    assert available_backends()[0] == "tensorrt"
    engine = open_engine("udnie", "auto")
    assert engine.backend == "tensorrt-fp16"
    for h, w in [(240, 320), (97, 131)]:
        frames = _frames(h, w)
        assert psnr(engine.run(frames), cpu_reference.run(frames)) >= 38  # fp16 graph


@pytest.mark.parametrize("backend,min_db", [("onnxruntime-cuda", 38), ("onnxruntime-trt", 45)])
def test_onnxruntime_gpu_providers_match_cpu(udnie_home, cpu_reference, monkeypatch, backend,
                                             min_db):
    import onnxruntime as ort

    monkeypatch.setenv("RTSTYLE_HOME", str(udnie_home))
    provider = {"onnxruntime-cuda": "CUDAExecutionProvider",
                "onnxruntime-trt": "TensorrtExecutionProvider"}[backend]
    if provider not in ort.get_available_providers():
        pytest.skip(f"{provider} not in this onnxruntime (install onnxruntime-gpu)")
    from rtstyle.engines import open_engine

    engine = open_engine("udnie", backend)
    frames = _frames(240, 320)
    assert psnr(engine.run(frames), cpu_reference.run(frames)) >= min_db
