"""`--region person|background`: MediaPipe's selfie mask on OpenVINO, feathered, applied
to image, video and the live paths. The model comes from PyPI (rtstyle/region/model.py);
tests never fetch it: they use RTSTYLE_REGION_MODEL or a copy fetched before the run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, cli

SAMPLE = ROOT / "rtstyle" / "builtin" / "sample_photo.jpg"  # Grace Hopper's portrait


def _fetched_model() -> Path | None:
    """The model in the environment's home as it was before each test's private home."""
    import platformdirs

    given = os.environ.get("RTSTYLE_REGION_MODEL")
    if given:
        return Path(given)
    home = Path(os.environ.get("RTSTYLE_HOME") or platformdirs.user_data_dir("rtstyle"))
    path = home / "models" / "selfie_segmentation.tflite"
    return path if path.is_file() else None


MODEL = _fetched_model()  # read at import, before the autouse fixture swaps RTSTYLE_HOME


@pytest.fixture()
def region_model(monkeypatch) -> Path:
    pytest.importorskip("openvino", reason='--region needs pip install "rtstyle[region]"')
    if MODEL is None:
        pytest.skip("person mask model not fetched: run `python -m rtstyle.region.model` "
                    "once (PyPI), or set RTSTYLE_REGION_MODEL to selfie_segmentation.tflite")
    monkeypatch.setenv("RTSTYLE_REGION_MODEL", str(MODEL))
    return MODEL


def _box(img: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    h, w = img.shape[:2]
    return img[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)].astype(np.float32)


def _change(a: np.ndarray, b: np.ndarray, box: tuple[float, ...]) -> float:
    return float(np.abs(_box(a, *box) - _box(b, *box)).mean())


FACE = (0.35, 0.25, 0.65, 0.6)  # the sitter's face and cap, wholly person
SKY = (0.72, 0.0, 1.0, 0.3)  # the blue backdrop, top right, wholly background


@pytest.mark.parametrize("region", ["person", "background"])
def test_region_stylises_that_part_much_more_than_the_rest(region_model, tmp_path, region):
    out = tmp_path / f"{region}.png"
    r = cli("image", str(SAMPLE), "-o", str(out), "--style", "the_scream-lite",
            "--backend", "onnxruntime", "--region", region)
    assert r.returncode == 0, r.stderr
    assert f"({region} only)" in r.stdout
    src, got = cv2.imread(str(SAMPLE)), cv2.imread(str(out))
    face, sky = _change(src, got, FACE), _change(src, got, SKY)
    inside, outside = (face, sky) if region == "person" else (sky, face)
    assert inside > 20.0, (face, sky)  # the stylised part really is painted
    assert inside > 8 * outside, (face, sky)  # the rest stays (nearly) the photo


def test_mask_is_feathered_and_finds_the_person(region_model):
    from rtstyle.region.segmenter import Segmenter

    img = cv2.imread(str(SAMPLE))
    m = Segmenter().mask(img)
    assert m.shape == img.shape[:2] and m.dtype == np.float32
    assert _box(m, *FACE).mean() > 0.95 and _box(m, *SKY).mean() < 0.05
    soft = (m > 0.05) & (m < 0.95)
    assert 0.01 < soft.mean() < 0.25  # edges fade over pixels, yet most is clearly one side
    # across the face's row the mask rises from background to person over a few pixels
    # on each side (the feather), not in one step
    row = m[int(0.4 * m.shape[0])]
    left, right = row[: len(row) // 2], row[len(row) // 2:]
    assert ((left > 0.05) & (left < 0.95)).sum() >= 4
    assert ((right > 0.05) & (right < 0.95)).sum() >= 4


def test_region_in_video_and_webcam(region_model, tmp_path):
    """Every frame passes through the mask: a short video and a headless live run."""
    clip = tmp_path / "clip.mp4"
    import av

    with av.open(str(clip), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 160, 192, "yuv420p"
        img = cv2.resize(cv2.imread(str(SAMPLE)), (160, 192))
        for _ in range(4):
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    out = tmp_path / "out.mp4"
    r = cli("video", str(clip), "-o", str(out), "--style", "the_scream-lite", "--region",
            "background", "--backend", "onnxruntime")
    assert r.returncode == 0, r.stderr
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert len(frames) == 4
    # 4x, not 8x as for a PNG: two H.264 encodes of a small clip add their own change
    assert _change(img, frames[-1], SKY) > 4 * _change(img, frames[-1], FACE)
    rec = tmp_path / "live.mp4"
    r = cli("webcam", "--source", str(clip), "--no-display", "--max-frames", "3",
            "--record", str(rec), "--region", "person", "--style", "the_scream-lite",
            "--backend", "onnxruntime")
    assert r.returncode == 0, r.stderr
    with av.open(str(rec)) as c:
        live = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert live and _change(img, live[-1], FACE) > 4 * _change(img, live[-1], SKY)


def test_without_openvino_one_line_names_the_extra(tmp_path):
    """The extra missing: block the import as an uninstalled package would."""
    code = ("import sys; sys.modules['openvino'] = None; from rtstyle.cli import main; "
            f"sys.exit(main(['image', {str(SAMPLE)!r}, '-o', {str(tmp_path / 'x.png')!r}, "
            "'--style', 'udnie-lite', '--backend', 'onnxruntime', '--region', 'person']))")
    import subprocess

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "rtstyle[region]"' in lines[0], r.stderr
    assert not (tmp_path / "x.png").exists()


def test_a_wrong_model_path_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("openvino", reason='--region needs pip install "rtstyle[region]"')
    monkeypatch.setenv("RTSTYLE_REGION_MODEL", str(tmp_path / "nope.tflite"))
    r = cli("image", str(SAMPLE), "-o", str(tmp_path / "x.png"), "--style", "udnie-lite",
            "--region", "person")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "RTSTYLE_REGION_MODEL" in r.stderr.strip().splitlines()[-1]
