"""`rtstyle upscale`: the built-in sr net beats bicubic, runs alike on every CPU backend,
keeps a video's frames and audio, and refuses bad input in one line."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rtstyle.commands.upscale import BUILTIN
from rtstyle.engines import available_backends, open_engine
from rtstyle.styles.catalogue import find_style
from rtstyle.train.strength import fit_longer
from rtstyle.train.upscaler import FeatureDistance, measure
from tests.conftest import asset, cli
from tests.video_media import make_clip, streams


def _pattern(h: int = 40, w: int = 56) -> np.ndarray:
    rng = np.random.default_rng(1)
    img = cv2.resize(rng.integers(0, 256, (h // 4, w // 4, 3), dtype=np.uint8), (w, h))
    cv2.circle(img, (w // 2, h // 2), h // 3, (20, 200, 90), 2)
    return img


def test_beats_bicubic_on_a_held_out_photo():
    photo = fit_longer(cv2.imread(str(asset("photos/golden_gate.jpg"))), 384)
    engine = open_engine(find_style(str(BUILTIN)), "onnxruntime", threads=1)
    q = measure(lambda lr: engine.run(lr[None])[0], photo, 4, FeatureDistance())
    assert q.feature < 0.9 * q.feature_bicubic, q
    assert q.psnr >= q.psnr_bicubic - 2.0, q


def test_backends_agree_and_scale_x4():
    img = _pattern()
    outs = {}
    for backend in ["torch", *available_backends()]:
        out = open_engine(find_style(str(BUILTIN)), backend, threads=1).run(img[None])
        assert out.shape == (1, 160, 224, 3) and out.dtype == np.uint8
        outs[backend] = out.astype(int)
    for backend, out in outs.items():
        assert np.abs(out - outs["torch"]).max() <= 2, backend


def test_image_command_writes_the_x4_image(tmp_path):
    src = tmp_path / "small.png"
    cv2.imwrite(str(src), _pattern())
    r = cli("upscale", str(src), "-o", str(tmp_path / "big.png"), "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert cv2.imread(str(tmp_path / "big.png")).shape == (160, 224, 3)


def test_video_keeps_frames_and_audio(tmp_path):
    src = make_clip(tmp_path / "clip.mp4", seconds=1.0, size="96x64", rate=10)
    dst = tmp_path / "big.mp4"
    r = cli("upscale", str(src), "-o", str(dst), "--threads", "1", "--preset", "ultrafast")
    assert r.returncode == 0, r.stderr
    before, after = streams(src), streams(dst)
    v0, v1 = (next(s for s in ss if s.kind == "video") for ss in (before, after))
    assert v1.size == (384, 256)
    assert v1.packets == v0.packets
    assert [s.kind for s in after].count("audio") == 1


@pytest.mark.parametrize("case", ["scale", "not-an-image", "too-big", "not-an-upscaler"])
def test_bad_input_one_line(tmp_path, case):
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), _pattern())
    args = [str(src), "-o", str(tmp_path / "out.png")]
    if case == "scale":
        args += ["--scale", "3"]
    elif case == "not-an-image":
        src.write_text("not a picture")
    elif case == "too-big":
        cv2.imwrite(str(src), np.zeros((20, 2100, 3), np.uint8))  # x4 = 8400 px wide
    else:
        args += ["--model", str(BUILTIN.parent / "udnie-lite.safetensors")]
    r = cli("upscale", *args)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "out.png").exists()
