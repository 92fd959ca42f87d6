"""`rtstyle export`: ONNX fp32/fp16/int8 fidelity against torch and fp32, metadata, bad inputs.

The exports run in real ONNX Runtime (and OpenVINO when installed) sessions on CPU.
"""

from __future__ import annotations

import importlib.util
import json

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from conftest import asset, cli

from rtstyle.errors import RtstyleError
from rtstyle.export.onnx import OPSET, get_metadata
from rtstyle.export.tensorrt import EngineFile, Profile, parse_profile
from rtstyle.limits import parse_size
from rtstyle.metrics import psnr
from rtstyle.nets.frames import FrameModel
from rtstyle.styles.modelfile import load_net


def _session(path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _run(path, frames: np.ndarray) -> np.ndarray:
    return _session(path).run(None, {"frames": frames})[0]


def _photo(h: int, w: int) -> np.ndarray:
    img = cv2.imread(str(asset("photos/tubingen.jpg")))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)[None]


@pytest.fixture(scope="module")
def udnie_fp32(udnie_home, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "udnie-fp32.onnx"
    r = cli("export", "--style", "udnie", "-o", str(out),
            env={"RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 0, r.stderr
    return out


def test_fp32_onnx_matches_torch_on_random_sizes(udnie_home, udnie_fp32):
    proto = onnx.load(str(udnie_fp32))
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version >= OPSET >= 17
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims][1:3] == ["height", "width"]  # dynamic H and W
    meta = get_metadata(proto)
    assert meta["style"] == "udnie" and meta["arch"] == "fst" and meta["precision"] == "fp32"
    assert "uint8 BGR NHWC" in meta["io"] and meta["rtstyle_version"]
    # one op per conv layer: zero pads are the convs' own (rtstyle.graphs writes the
    # stride-2 ones as SAME_UPPER; a torch export keeps a Pad for each of those two)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Pad") <= 2 and ops.count("Conv") == 14

    net, _ = load_net(udnie_home / "styles" / "udnie.safetensors")
    model = FrameModel(net).eval()
    rng = np.random.default_rng(5)
    session = _session(udnie_fp32)
    for h, w in [(37, 53), (96, 128), (121, 90)]:
        frames = _photo(h, w)
        frames = np.concatenate([frames, rng.integers(0, 256, frames.shape, dtype=np.uint8)])
        with torch.inference_mode():
            expected = model(torch.from_numpy(frames)).numpy()
        got = session.run(None, {"frames": frames})[0]
        assert got.shape == frames.shape
        assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
        assert expected.std() > 10


def test_fixed_size_export_runs_any_frame_size(udnie_home, tmp_path):
    out = tmp_path / "fixed.onnx"
    r = cli("export", "--style", "udnie", "--size", "64x48", "-o", str(out),
            env={"RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 0, r.stderr
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims][1:4] == [48, 64, 3]
    photo = tmp_path / "in.png"
    cv2.imwrite(str(photo), _photo(60, 70)[0])
    styled = tmp_path / "out.png"
    r = cli("image", str(photo), "--style", str(out), "--backend", "onnxruntime",
            "-o", str(styled), env={"RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 0, r.stderr
    assert cv2.imread(str(styled)).shape == (60, 70, 3)  # resized to 64x48 and back


def test_fp16_keeps_norm_fp32_and_is_within_40db(udnie_home, udnie_fp32, tmp_path):
    out = tmp_path / "udnie-fp16.onnx"
    r = cli("export", "--style", "udnie", "--precision", "fp16", "-o", str(out),
            env={"RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 0, r.stderr
    proto = onnx.shape_inference.infer_shapes(onnx.load(str(out)))
    types = {v.name: v.type.tensor_type.elem_type
             for v in [*proto.graph.value_info, *proto.graph.input, *proto.graph.output]}
    types.update({i.name: i.data_type for i in proto.graph.initializer})
    fp16, fp32 = onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT
    norms = [n for n in proto.graph.node if n.op_type == "InstanceNormalization"]
    convs = [n for n in proto.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    assert len(norms) == 16 and len(convs) == 16
    assert all(types[n.input[0]] == fp32 and types[n.input[1]] == fp32 for n in norms)
    assert all(types[n.input[1]] == fp16 for n in convs)
    assert get_metadata(proto)["precision"] == "fp16"

    frames = _photo(240, 320)
    # ONNX Runtime's CPU provider runs fp16 graphs, so the check is on real output
    assert psnr(_run(out, frames), _run(udnie_fp32, frames)) >= 40


def test_int8_is_within_30db_on_the_reference_photo(udnie_home, udnie_fp32, tmp_path):
    out = tmp_path / "udnie-int8.onnx"
    r = cli("export", "--style", "udnie", "--precision", "int8", "-o", str(out),
            "--calibrate", str(asset("train-photos")), str(asset("videos/tree.avi")),
            "--calibration-frames", "8", env={"RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 0, r.stderr
    proto = onnx.load(str(out))
    meta = get_metadata(proto)
    assert meta["precision"] == "int8" and meta["int8"]["calibration_frames"] == 8
    # every conv reads int8 weights through DequantizeLinear
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("DequantizeLinear") >= 2 * ops.count("Conv") == 28

    photo = cv2.imread(str(asset("reference/stata.jpg")))[None]
    reference = _run(udnie_fp32, photo)
    assert psnr(_run(out, photo), reference) >= 30
    pytest.importorskip("openvino")
    from rtstyle.engines import open_engine

    engine = open_engine(str(out), "openvino", threads=2)
    assert psnr(engine.run(photo), reference) >= 30
    # and OpenVINO really runs the convs in int8: all but the 3-channel input conv
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(out))
    model.reshape({"frames": [1, 64, 96, 3]})
    runtime = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    convs = [op.get_rt_info()["runtimePrecision"].astype(str)
             for op in runtime.get_runtime_model().get_ops()
             if op.get_rt_info()["layerType"].astype(str) == "Convolution"]
    assert len(convs) == 14 and convs.count("u8") >= 13


def test_auto_picks_the_fastest_available_backend(udnie_home, monkeypatch):
    from rtstyle.engines import available_backends, open_engine

    monkeypatch.setenv("RTSTYLE_HOME", str(udnie_home))
    found = available_backends()
    order = ["tensorrt", "torch-cuda", "onnxruntime-cuda", "openvino", "onnxruntime", "torch"]
    assert found == [b for b in order if b in found] and found[-2:] == ["onnxruntime", "torch"]
    engine = open_engine("udnie", "auto", threads=2)
    assert engine.backend.startswith(found[0].split("-")[0])


def _fails(*args: str, match: str) -> None:
    """The CLI's `main` in this process (the subprocess start costs more than the check)."""
    import contextlib
    import io

    from rtstyle.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(list(args)) == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtstyle: error:"), err.getvalue()
    assert match in lines[0], lines[0]


def test_bad_inputs_give_one_clear_error(udnie_home, tmp_path, monkeypatch):
    monkeypatch.setenv("RTSTYLE_HOME", str(udnie_home))
    r = cli("export", "--style", "udnei", env={"RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    _fails("export", "--style", "udnei", match="did you mean 'udnie'")
    _fails("export", "--style", "udnie", "--size", "8x8", match="impossible")
    _fails("export", "--style", "udnie", "--size", "640by480", match="not WxH")
    _fails("export", "--style", "udnie", "--format", "tensorrt",
           "--dynamic", "640x480:320x240:1280x720", match="must grow")
    _fails("export", "--style", "udnie", "--precision", "int8", "--calibrate",
           str(tmp_path / "nowhere"), match="does not exist")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 50)
    _fails("export", "--style", str(corrupt), match="not a readable ONNX file")
    half = tmp_path / "half.onnx"
    assert cli("export", "--style", "udnie", "--precision", "fp16", "--size", "32x32",
               "-o", str(half)).returncode == 0
    _fails("export", "--style", str(half), "--precision", "int8", match="already a fp16")
    photo = tmp_path / "in.png"
    cv2.imwrite(str(photo), np.zeros((32, 32, 3), np.uint8))
    _fails("image", str(photo), "--style", str(corrupt), "-o", str(tmp_path / "o.png"),
           match="corrupt.onnx")
    engine = tmp_path / "udnie.engine"
    EngineFile({"gpu": "x", "profile": [[48, 64]] * 3}, b"", b"").write(engine)
    _fails("image", str(photo), "--style", str(engine), "--backend", "torch",
           "-o", str(tmp_path / "o.png"), match="runs only on --backend tensorrt")
    if not torch.cuda.is_available():
        _fails("export", "--style", "udnie", "--format", "tensorrt",
               match="needs an NVIDIA GPU")
        _fails("image", str(photo), "--style", str(engine), "-o", str(tmp_path / "o.png"),
               match="needs an NVIDIA GPU")
        _fails("image", str(photo), "--style", "udnie", "--backend", "onnxruntime-cuda",
               "-o", str(tmp_path / "o.png"), match="nearest thing that works")


def test_precision_option_errors_are_one_line(udnie_home, tmp_path, monkeypatch):
    monkeypatch.setenv("RTSTYLE_HOME", str(udnie_home))
    photo, out = str(asset("photos/bike.jpg")), str(tmp_path / "o.png")
    _fails("image", photo, "--style", "udnie", "--backend", "torch", "--precision", "bf16",
           "-o", out, match="does not take --precision bf16")
    if importlib.util.find_spec("openvino"):
        _fails("image", photo, "--style", "udnie", "--backend", "openvino", "--precision",
               "int8", "-o", out, match="needs an int8 export")


def test_size_and_profile_parsing():
    assert parse_size("640x480").hw == (480, 640)
    p = parse_profile("320x240:640x480:1280x720")
    assert p == Profile((240, 320), (480, 640), (720, 1280))
    assert p.contains(480, 640) and not p.contains(1080, 1920)
    assert p.shapes()[0] == (1, 240, 320, 3)
    with pytest.raises(RtstyleError, match="MIN:OPT:MAX"):
        parse_profile("640x480")


def test_tensorrt_profile_shapes_follow_the_graph_input():
    """Profiles name the graph's real input in its own layout, and keep its fixed dims."""
    from rtstyle.export.tensorrt import input_shapes

    p = parse_profile("320x240:640x480:1280x720")
    assert input_shapes([-1, -1, -1, 3], "frames", p) == (
        (1, 240, 320, 3), (1, 480, 640, 3), (4, 720, 1280, 3))
    assert input_shapes([-1, 3, -1, -1], "rgb255", p) == (
        (1, 3, 240, 320), (1, 3, 480, 640), (4, 3, 720, 1280))
    fixed = Profile.fixed(240, 320)  # a foreign graph fixed to 1x3x240x320
    assert set(input_shapes([1, 3, 240, 320], "rgb255", fixed)) == {(1, 3, 240, 320)}


def test_engine_file_round_trip_and_truncation(tmp_path):
    header = {"gpu": "NVIDIA Test", "compute": "8.9", "tensorrt": "10.0.0",
              "precision": "fp16", "profile": [[480, 640], [480, 640], [480, 640]]}
    path = tmp_path / "x.engine"
    EngineFile(header, b"onnx-bytes", b"plan-bytes").write(path)
    back = EngineFile.read(path)
    assert back.header == header and back.onnx_bytes == b"onnx-bytes"
    assert back.plan == b"plan-bytes" and back.profile == Profile.fixed(480, 640)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(RtstyleError, match="truncated or corrupt"):
        EngineFile.read(path)
    (tmp_path / "raw.engine").write_bytes(json.dumps(header).encode())
    with pytest.raises(RtstyleError, match="not an rtstyle TensorRT engine"):
        EngineFile.read(tmp_path / "raw.engine")


def test_tensorrt_graph_rewrite_keeps_the_output(udnie_fp32):
    """TensorRT takes uint8 only at the edges; the rewrite it gets must change nothing."""
    from rtstyle.export.tensorrt import casts_at_edges

    proto = onnx.load(str(udnie_fp32))
    edged = casts_at_edges(proto)
    onnx.checker.check_model(edged)
    ops = [n.op_type for n in edged.graph.node]
    assert ops[0] == ops[-1] == "Cast"
    frames = np.random.default_rng(1).integers(0, 256, (2, 37, 53, 3), dtype=np.uint8)
    want = _session(udnie_fp32).run(None, {"frames": frames})[0]
    got = ort.InferenceSession(edged.SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, {"frames": frames})
    assert np.array_equal(got[0], want)
