"""Backends agree: ONNX Runtime vs torch within 1 grey level, on odd sizes, for both archs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtstyle.engines import open_engine
from rtstyle.errors import RtstyleError
from rtstyle.nets import build_net
from rtstyle.styles.modelfile import save_model


def _model(tmp_path, arch: str, seed: int = 0, **options):
    torch.manual_seed(seed)
    net = build_net(arch, **options)
    with torch.no_grad():  # non-trivial instance-norm affine parameters
        for name, p in net.named_parameters():
            if name.split(".")[-2].startswith("in"):
                p.copy_(torch.rand_like(p) + 0.5 if name.endswith("weight") else p.normal_(0, 0.3))
        if arch == "johnson":  # linear output: spread it over 0..255 like a trained net
            net.deconv3.conv2d.weight.mul_(300.0)
            net.deconv3.conv2d.bias.fill_(127.5)
    path = tmp_path / f"rand-{arch}.safetensors"
    save_model(path, net, {"style": f"rand-{arch}", "source": "test", "licence": "CC0"})
    return path


def _frames(h: int, w: int, n: int = 1) -> np.ndarray:
    rng = np.random.default_rng(h * w)
    smooth = rng.integers(0, 256, (n, h // 8 + 2, w // 8 + 2, 3)).astype(np.float32)
    big = np.stack([np.kron(f, np.ones((8, 8, 1)))[:h, :w] for f in smooth])
    return np.clip(big + rng.normal(0, 12, big.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("arch,options", [("fst", {}), ("johnson", {}), ("fst", {"border": 16})])
@pytest.mark.parametrize("hw", [(97, 131), (480, 640), (33, 17)])
def test_onnxruntime_matches_torch_within_one_grey_level(tmp_path, arch, options, hw):
    path = _model(tmp_path, arch, **options)
    frames = _frames(*hw, n=2)
    a = open_engine(str(path), "torch").run(frames)
    b = open_engine(str(path), "onnxruntime").run(frames)
    assert a.shape == b.shape == frames.shape and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert a.std() > 5  # not a constant image: the comparison means something


def test_engine_rejects_bad_frames(tmp_path):
    engine = open_engine(str(_model(tmp_path, "fst")), "torch")
    with pytest.raises(RtstyleError, match="too small"):
        engine.run(np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(RtstyleError, match="uint8"):
        engine.run(np.zeros((1, 32, 32, 3), np.float32))


def test_unknown_backend_names_the_choices(tmp_path):
    with pytest.raises(RtstyleError, match="unknown backend 'tpu'.*torch"):
        open_engine(str(_model(tmp_path, "fst")), "tpu")


def test_warmup_then_batch_runs(tmp_path):
    engine = open_engine(str(_model(tmp_path, "johnson")), "onnxruntime")
    engine.warmup(32, 48)
    out = engine.run(_frames(32, 48, n=3))
    assert out.shape == (3, 32, 48, 3)


# --- precision: the CPU policy, forced modes, the GPU path's mixed precision ---------------

EPYC = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16"}  # AMD EPYC (Zen 4)
XEON_VNNI = {"avx2", "avx512f", "avx512_vnni"}  # Intel Xeon (Cascade Lake): no bf16
AVX2 = {"avx2", "fma"}  # no AVX-512 at all
SAPPHIRE = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"}


@pytest.mark.parametrize("flags,fp32_graph,all_modes", [
    (EPYC, "bf16", "int8"), (SAPPHIRE, "bf16", "int8"),
    (XEON_VNNI, "fp32", "int8"),  # bf16 emulated: 1.6x slower there
    (AVX2, "fp32", "int8"),  # int8 without VNNI: 7-bit weights keep 46 dB
])
def test_precision_policy_follows_the_cpu_flags(flags, fp32_graph, all_modes):
    from rtstyle.engines import precision

    # a mode measured below the fidelity bar is never picked, however fast
    assert precision.choose(flags, ["fp32", "int8"], min_psnr=50.0) == "fp32"
    assert precision.resolve(None, graph_is_int8=False, flags=flags) == fp32_graph
    assert precision.resolve("auto", graph_is_int8=True, flags=flags) == "int8"
    assert precision.choose(flags, ["fp32", "bf16", "int8"]) == all_modes
    assert precision.resolve("bf16", False, flags) == "bf16"  # forced, even where emulated
    assert precision.float_hint(flags) == ("bf16" if fp32_graph == "bf16" else "fp32")
    with pytest.raises(RtstyleError, match="int8 export"):
        precision.resolve("int8", False, flags)
    with pytest.raises(RtstyleError, match="does not apply"):
        precision.resolve("bf16", True, flags)


def test_cpu_flags_are_read_from_cpuinfo():
    from rtstyle.engines.precision import cpu_flags

    text = "processor : 0\nmodel name : AMD EPYC\nflags : fpu avx2 avx512_bf16\n"
    assert cpu_flags(text) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags("no flags line") == frozenset()


@pytest.mark.assets
def test_openvino_precisions_against_torch_on_the_reference_photo(udnie_home, monkeypatch):
    pytest.importorskip("openvino")
    import cv2
    from conftest import asset

    from rtstyle.engines.precision import resolve
    from rtstyle.metrics import psnr

    monkeypatch.setenv("RTSTYLE_HOME", str(udnie_home))
    photo = cv2.resize(cv2.imread(str(asset("reference/stata.jpg"))), (320, 240))[None]
    want = open_engine("udnie", "torch").run(photo)
    auto = open_engine("udnie", "openvino")
    assert auto.backend == f"openvino-cpu-{resolve(None, False)}"
    for mode, min_db in [("fp32", 45.0), ("bf16", 35.0)]:
        engine = open_engine("udnie", "openvino", precision=mode)
        assert engine.backend == f"openvino-cpu-{mode}"
        assert psnr(engine.run(photo), want) >= min_db, mode
    with pytest.raises(RtstyleError, match="int8 export"):
        open_engine("udnie", "openvino", precision="int8")
    with pytest.raises(RtstyleError, match="does not take --precision bf16"):
        open_engine("udnie", "torch", precision="bf16")


def test_mixed_precision_keeps_norms_and_head_in_fp32(tmp_path):
    """The torch-cuda fp16 wrapping, run on the CPU in bf16 (the same code path)."""
    from rtstyle.engines.torch_cuda_engine import GraphFrames, MixedPrecision
    from rtstyle.metrics import psnr
    from rtstyle.styles.modelfile import load_net

    path = _model(tmp_path, "fst")
    frames = _frames(96, 128)
    want = open_engine(str(path), "torch").run(frames)
    mixed = MixedPrecision(load_net(path)[0], torch.bfloat16)
    norms = [m for m in mixed.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    convs = [m for m in mixed.modules() if isinstance(m, torch.nn.Conv2d)]
    assert norms and all(m.weight.dtype == torch.float32 for m in norms)
    assert convs[-1].weight.dtype == torch.float32  # the output head
    assert all(m.weight.dtype == torch.bfloat16 for m in convs[:-1])
    with torch.inference_mode():
        got = GraphFrames(mixed)(torch.from_numpy(frames)).contiguous().numpy()
    assert got.shape == frames.shape and psnr(got, want) >= 30.0
    # the capturable frame conversion is FrameModel's, op for op (same net, same kernels)
    from rtstyle.nets.frames import FrameModel

    net, x = load_net(path)[0], torch.from_numpy(frames)
    with torch.inference_mode():
        assert torch.equal(GraphFrames(net)(x), FrameModel(net)(x))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("arch", ["fst", "lite"])
def test_torch_cuda_fp16_matches_fp32_and_graphs_match_eager(tmp_path, arch):
    from rtstyle.engines.torch_cuda_engine import TorchCudaEngine
    from rtstyle.metrics import psnr
    from rtstyle.styles.modelfile import load_net

    path = _model(tmp_path, arch)
    fast = open_engine(str(path), "torch-cuda")
    assert fast.backend == "torch-cuda-fp16"
    assert open_engine(str(path), "torch-cuda", precision="fp32").backend == "torch-cuda-fp32"
    eager = TorchCudaEngine(load_net(path)[0], "eager", "fp16", graphs=False)
    for hw, n in [((480, 640), 1), ((97, 131), 3), ((480, 640), 2)]:
        frames = _frames(*hw, n=n)
        want = open_engine(str(path), "torch").run(frames)  # fp32, TF32 off
        got = fast.run(frames)
        assert got.shape == frames.shape and psnr(got, want) >= 35.0, (hw, n)
        assert np.abs(got.astype(int) - eager.run(frames).astype(int)).max() <= 1
        kept = got.copy()
        assert psnr(fast.run(255 - frames), got) < 30  # the next replay is new output...
        assert np.array_equal(got, kept)  # ...and does not overwrite what was returned
    assert fast.use_graphs and len(fast.graphs) == 3  # one CUDA graph per shape


def test_onnxruntime_install_problems_name_the_fix():
    from rtstyle.engines.onnxruntime_engine import install_problem

    both = ["onnxruntime", "onnxruntime-gpu"]
    assert "pip uninstall -y onnxruntime onnxruntime-gpu" in install_problem("cuda", both, None)
    assert install_problem("cpu", both, None) is None  # the CPU provider is in either
    assert install_problem("cuda", ["onnxruntime-gpu"], None) is None
    assert "TensorRT 10" in install_problem("trt", ["onnxruntime-gpu"], "11.0.1")
    assert "tensorrt>=10,<11" in install_problem("trt", ["onnxruntime-gpu"], None)
    assert install_problem("trt", ["onnxruntime-gpu"], "10.13.2") is None


# --- several threads on one engine (serve's clients) --------------------------------------

def test_openvino_runs_on_several_threads_at_once_and_for_throughput(tmp_path):
    """Tuned for throughput, each thread gets its own request on the shared compiled
    model: frames run on four threads at once come out as they did one at a time."""
    import threading

    pytest.importorskip("openvino")
    path = _model(tmp_path, "fst")
    engine = open_engine(str(path), "openvino", threads=2, precision="fp32")
    assert not engine.concurrent  # the webcam's one thread: one request, latency hint
    frames = [_frames(48 + 8 * i, 64) for i in range(4)]
    alone = [engine.run(f) for f in frames]
    engine.prefer_throughput()
    assert engine.concurrent
    for _ in range(2):
        got: dict[int, np.ndarray] = {}
        start = threading.Barrier(4)

        def run(i: int, got=got, start=start) -> None:
            start.wait()
            for _ in range(3):
                got[i] = engine.run(frames[i])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for i in range(4):
            assert np.abs(got[i].astype(int) - alone[i].astype(int)).max() <= 1
    assert not open_engine(str(path), "onnxruntime").concurrent  # not claimed, so not asked


def test_openvino_keeps_running_on_four_threads_beside_vp8_encoders():
    """Four threads on one OpenVINO engine tuned for throughput, beside two threads
    encoding VP8 (what serve runs), keep going: copying into the requests' tensors from
    several threads at once once hung the whole process. Run in a child process, so a
    hang fails the test instead of stopping the suite."""
    import subprocess
    import sys

    pytest.importorskip("openvino")
    script = """
import threading, time, numpy as np, av
from rtstyle.engines import open_engine
engine = open_engine("udnie-lite", "openvino")
engine.prefer_throughput()
frame = np.random.default_rng(0).integers(0, 256, (1, 240, 320, 3), dtype=np.uint8)
stop, counts = time.monotonic() + 8, [0] * 4
def stylise(i):
    while time.monotonic() < stop:
        engine.run(frame)
        counts[i] += 1
def encode():
    c = av.CodecContext.create("libvpx", "w")
    c.width, c.height, c.pix_fmt = 320, 240, "yuv420p"
    c.options = {"deadline": "realtime", "cpu-used": "-6"}
    while time.monotonic() < stop:
        c.encode(av.VideoFrame.from_ndarray(frame[0], format="bgr24"))
threads = [threading.Thread(target=stylise, args=(i,)) for i in range(4)]
threads += [threading.Thread(target=encode) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(min(counts))
"""
    try:
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the engine hung with four threads and VP8 encoders beside it")
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout.split()[-1]) > 10  # every thread got frames through
