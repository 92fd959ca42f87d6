"""TensorRT and ONNX Runtime GPU providers, compared with ONNX Runtime on CPU.

Marked `gpu` (skipped without CUDA), and `tensorrt` / `ort_trt` / `ort_cuda` by what else
they need, so benchmarks/gpu-check.sh can leave out what a machine lacks with one line and
count every remaining skip as a failure. None of this has run yet (the development
machine has no GPU); see docs/backends.md.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import asset, cli

from rtstyle.metrics import psnr

HAVE_TRT = importlib.util.find_spec("tensorrt") is not None


def tensorrt(test):
    """Needs the tensorrt package (gpu-check leaves these out, with a line, without it)."""
    return pytest.mark.tensorrt(pytest.mark.skipif(not HAVE_TRT, reason="needs tensorrt")(test))


def _ort_gpu() -> bool:
    from rtstyle.engines.onnxruntime_engine import installed

    return "onnxruntime-gpu" in installed()

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


@tensorrt
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


@tensorrt
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


@tensorrt
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


@tensorrt
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


@pytest.mark.parametrize("backend,min_db", [
    pytest.param("onnxruntime-cuda", 38, marks=pytest.mark.ort_cuda),
    pytest.param("onnxruntime-trt", 45, marks=pytest.mark.ort_trt)])
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


def _export_engine(udnie_home, tmp_path, *options: str):
    out = tmp_path / "udnie.engine"
    r = cli("export", "--style", "udnie", "--format", "tensorrt", *options, "-o", str(out),
            env={"RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 0, r.stderr
    return out


@tensorrt
def test_tensorrt_batch_above_the_profile_runs_in_chunks(udnie_home, cpu_reference, tmp_path):
    from rtstyle.engines import open_engine

    engine = open_engine(str(_export_engine(udnie_home, tmp_path, "--size", "320x240")))
    frames = np.concatenate([_frames(240, 320)] * 3)  # 6 frames, profile max batch 4
    got = engine.run(frames)
    assert got.shape == frames.shape
    assert psnr(got, cpu_reference.run(frames)) >= 45
    assert psnr(got[5], got[1]) > 60  # the same frame in both chunks


@tensorrt
def test_tensorrt_dynamic_engine_inside_and_outside_its_range(udnie_home, cpu_reference,
                                                              tmp_path):
    from rtstyle.engines import open_engine

    engine = open_engine(str(_export_engine(udnie_home, tmp_path,
                                            "--dynamic", "320x240:400x300:480x360")))
    inside = _frames(280, 360)
    assert psnr(engine.run(inside), cpu_reference.run(inside)) >= 45  # runs at its own size
    outside = _frames(600, 800, 1)  # resized to the optimum 400x300 and back
    got = engine.run(outside)
    assert got.shape == outside.shape and psnr(got, cpu_reference.run(outside)) >= 25


@tensorrt
def test_tensorrt_cached_plan_reopens_without_a_rebuild(udnie_home, tmp_path):
    photo, env = asset("photos/golden_gate.jpg"), {"RTSTYLE_HOME": str(udnie_home)}
    runs = [cli("image", str(photo), "--style", "udnie", "--backend", "tensorrt", "--size",
                "320x240", "-o", str(tmp_path / f"out{i}.jpg"), env=env) for i in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr + runs[1].stderr
    assert "building a TensorRT engine" not in runs[1].stderr


def _rgb255_fixed_style(udnie_home, tmp_path, monkeypatch):
    """udnie as a foreign graph: float RGB NCHW in 0..255, fixed to 240x320 (batch 1)."""
    from rtstyle.styles.catalogue import import_style
    from rtstyle.styles.modelfile import load_net

    net = load_net(udnie_home / "styles" / "udnie.safetensors")[0]
    path = tmp_path / "udnie-rgb255.onnx"
    torch.onnx.export(net, (torch.rand(1, 3, 240, 320) * 255,), str(path), dynamo=False,
                      input_names=["input_image"], output_names=["output_image"])
    monkeypatch.setenv("RTSTYLE_HOME", str(udnie_home))
    style = import_style(path, "udnie-rgb255")
    assert style.meta["onnx_io"] == "rgb255" and style.meta["fixed_size"] == [240, 320]
    return style


@tensorrt
@pytest.mark.parametrize("backend", ["tensorrt", "auto"])
def test_tensorrt_runs_an_rgb255_fixed_size_onnx_style(udnie_home, tmp_path, monkeypatch,
                                                       backend):
    from rtstyle.engines import open_engine

    style = _rgb255_fixed_style(udnie_home, tmp_path, monkeypatch)
    cpu = open_engine(style, "onnxruntime")
    engine = open_engine(style, backend)
    assert engine.backend.startswith("tensorrt")
    for h, w, n in [(240, 320, 2), (300, 400, 3)]:  # its size, and one resized to it
        frames = np.concatenate([_frames(h, w)] * 2)[:n]
        got = engine.run(frames)
        assert got.shape == frames.shape and psnr(got, cpu.run(frames)) >= 40


@tensorrt
def test_upscaler_on_tensorrt_returns_four_times_the_size(tmp_path):
    """The sr net's output is 4x its input: the TensorRT engine must not resize it back,
    neither built from the model file nor from an exported engine file."""
    from rtstyle.commands.upscale import BUILTIN
    from rtstyle.engines import open_engine

    frames = _frames(60, 80)
    want = open_engine(str(BUILTIN), "onnxruntime").run(frames)
    got = open_engine(str(BUILTIN), "tensorrt").run(frames)
    assert got.shape == want.shape == (2, 240, 320, 3)
    assert psnr(got, want) >= 38  # fp16 plan against fp32 on the CPU
    engine_file, small, big = tmp_path / "sr.engine", tmp_path / "small.png", tmp_path / "big.png"
    cv2.imwrite(str(small), frames[0])
    r = cli("export", "--style", str(BUILTIN), "--format", "tensorrt", "--size", "80x60",
            "-o", str(engine_file))
    assert r.returncode == 0, r.stderr
    r = cli("upscale", str(small), "-o", str(big), "--model", str(engine_file))
    assert r.returncode == 0, r.stderr
    assert "tensorrt" in r.stdout
    assert psnr(cv2.imread(str(big)), want[0]) >= 38


@pytest.mark.ort_trt
@pytest.mark.skipif(not (HAVE_TRT and _ort_gpu()), reason="needs onnxruntime-gpu and tensorrt")
def test_ort_trt_works_in_a_fresh_process(udnie_home, cpu_reference, tmp_path):
    """TensorRT's pip libraries must load without the test process importing tensorrt."""
    out = tmp_path / "out.png"
    photo = tmp_path / "in.png"
    cv2.imwrite(str(photo), _frames(240, 320, 1)[0])
    r = subprocess.run([sys.executable, "-m", "rtstyle", "image", str(photo), "--style",
                        "udnie", "--backend", "onnxruntime-trt", "-o", str(out)],
                       capture_output=True, text=True, timeout=600,
                       env={**__import__("os").environ, "RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 0, r.stderr
    got = cv2.imread(str(out))[None]
    assert psnr(got, cpu_reference.run(cv2.imread(str(photo))[None])) >= 40


@pytest.mark.ort_cuda
@pytest.mark.skipif(not _ort_gpu(), reason="needs onnxruntime-gpu")
def test_ort_gpu_is_the_only_onnxruntime_and_has_its_providers():
    """Two ONNX Runtime packages overwrite each other and the GPU providers vanish; that
    must fail here, not turn the provider tests into skips."""
    import onnxruntime as ort

    from rtstyle.engines.onnxruntime_engine import installed

    assert installed() == ["onnxruntime-gpu"], "pip uninstall onnxruntime; keep onnxruntime-gpu"
    assert "CUDAExecutionProvider" in ort.get_available_providers()


def test_tensorrt_module_present_where_its_provider_is():
    import onnxruntime as ort

    if "TensorrtExecutionProvider" in ort.get_available_providers():
        assert importlib.util.find_spec("tensorrt") is not None, "pip install 'tensorrt>=10,<11'"


@tensorrt
@pytest.mark.parametrize("backend", ["tensorrt", pytest.param(
    "onnxruntime-cuda", marks=pytest.mark.skipif(not _ort_gpu(), reason="needs onnxruntime-gpu"))])
def test_style_swap_on_the_gpu_matches_onnxruntime_on_cpu(backend, tmp_path, monkeypatch):
    """Style-swap's graph (frames plus a painting's index) on a GPU backend: fp32, close to
    ONNX Runtime fp32 on CPU; a second painting of another patch count reuses or rebuilds
    the plan and still matches; a batch above the profile runs in chunks."""
    from rtstyle.engines.swap import Budget, open_swap_engine

    monkeypatch.setenv("RTSTYLE_HOME", str(tmp_path / "home"))
    fp32 = Budget(precision="fp32")
    gpu = open_swap_engine(asset("paintings/udnie.jpg"), backend, None, Budget())
    cpu = open_swap_engine(asset("paintings/udnie.jpg"), "onnxruntime", 2, fp32)
    assert gpu.budget.precision == "fp32" and not gpu.backend.endswith("int8")
    frames = _frames(240, 320, 2)
    for painting in ("paintings/udnie.jpg", "paintings/great_wave.jpg"):
        gpu.set_style(asset(painting))
        cpu.set_style(asset(painting))
        want = cpu.run(frames)
        for got, ref in zip(gpu.run(frames), want, strict=True):
            assert psnr(got, ref) > 35
    six = np.concatenate([frames] * 3)
    assert gpu.run(six).shape == six.shape
