"""`rtstyle serve` in a real browser: Debian's chromium driven by Playwright, its camera a
fake one fed from a y4m made from a still photo.

All traffic stays on loopback, WebRTC media included: the server and the browser run in
a network namespace of their own whose only interface is lo, the page has no STUN/TURN,
and the server offers only 127.0.0.1 (its --ice-address default on a loopback bind); the
test checks that the media's ICE pair is 127.0.0.1 on both sides.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import asset, loopback_namespace_problem
from serve_browser_driver import in_loopback_namespace
from video_media import FFMPEG

from rtstyle.cli import main as rtstyle_main
from rtstyle.metrics import psnr

CHROMIUM = Path("/usr/bin/chromium")
SIZE = (320, 240)  # the fake camera; small so style-swap keeps up on 2 cores
STYLE_SIZE = "128"  # style-swap painting size: a quarter of the default's patches
# The upload's instant net trains this long: long enough that the page shows the upload's
# style-swap first (the net would take over otherwise), short for CI.
INSTANT_S = "15"

pytestmark = [pytest.mark.slow, pytest.mark.assets]


def need_browser_and_namespace() -> None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    problem = loopback_namespace_problem()
    if problem:
        pytest.skip(f"cannot make a loopback-only network namespace ({problem}); "
                    "the browser test never runs on this machine's real interfaces")


def make_camera(folder: Path, size: tuple[int, int], photo: Path,
                fps: int = 25) -> tuple[Path, Path]:
    """A y4m of the still photo for chromium's fake camera (played at `fps`), and its first
    frame as a PNG (what the server gets to stylise, give or take WebRTC compression)."""
    y4m, png = folder / "camera.y4m", folder / "camera.png"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-loop", "1", "-framerate", str(fps), "-i",
                    str(photo), "-vf",
                    f"scale={size[0]}:{size[1]},format=yuv420p", "-frames:v", "10", str(y4m)],
                   check=True)
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(y4m), "-frames:v", "1",
                    str(png)], check=True)
    return y4m, png


def reference(png: Path, out: Path, *style_args: str) -> np.ndarray:
    """`rtstyle image` of the camera frame, as a user would run it."""
    assert rtstyle_main(["image", str(png), "-o", str(out), *style_args]) == 0
    return cv2.imread(str(out))


def test_browser_page_stylises_switches_uploads_and_serves_two(tmp_path, rtstyle_home,
                                                                monkeypatch):
    need_browser_and_namespace()
    # The VGG weights the shipped style-swap decoder inverts (the server inherits them).
    monkeypatch.setenv("RTSTYLE_VGG_WEIGHTS",
                       str(asset("weights/vgg19_features_relu3_4.safetensors")))
    y4m, png = make_camera(tmp_path, SIZE, asset("photos/tubingen.jpg"))
    paintings, work, out = tmp_path / "paintings", tmp_path / "cwd", tmp_path / "out"
    for d in (paintings, work, out):
        d.mkdir()
    shutil.copy(asset("paintings/starry_night.jpg"), paintings)
    upload = asset("paintings/the_scream.jpg")

    r = in_loopback_namespace(["--y4m", str(y4m), "--out", str(out), "--cwd", str(work),
                               "--upload", str(upload), "--", "--max-clients", "2",
                               "--style-dir", str(paintings), "--style-size", STYLE_SIZE,
                               "--instant", INSTANT_S])
    assert r.returncode == 0, r.stderr[-4000:]
    got = json.loads((out / "result.json").read_text())

    plain = cv2.imread(str(png))
    ref_udnie = reference(png, tmp_path / "udnie.png", "--style", "udnie-lite")
    ref_wave = reference(png, tmp_path / "wave.png", "--style", "great_wave-lite")
    ref_swap = reference(png, tmp_path / "swap.png", "--style-image", str(upload),
                         "--style-size", STYLE_SIZE)

    print({name: {k: round(psnr(cv2.imread(str(out / name)), ref), 1) for k, ref in
                  (("udnie", ref_udnie), ("wave", ref_wave), ("swap", ref_swap), ("photo", plain))}
           for name in ("first.png", "switched.png", "uploaded.png", "second.png")}, got)

    def shown(name: str) -> np.ndarray:
        frame = cv2.imread(str(out / name))
        assert frame.shape[1::-1] == SIZE, f"{name} is {frame.shape}, not the camera's size"
        return frame

    # The stylised track plays and matches `rtstyle image` of the same frame.
    first = shown("first.png")
    assert psnr(first, ref_udnie) >= 25, f"{psnr(first, ref_udnie):.1f} dB"
    assert psnr(first, plain) < psnr(first, ref_udnie) - 5  # stylised, not the photo
    assert got["pair1"] == ["127.0.0.1", "127.0.0.1"]

    # Another style from the page's menu changes the picture to that style.
    switched = shown("switched.png")
    assert psnr(switched, ref_wave) >= 25, (psnr(switched, ref_wave), got["shown"])
    assert psnr(switched, ref_udnie) < psnr(switched, ref_wave) - 3

    # "Use my painting" gives the style-swap picture of that painting.
    uploaded = shown("uploaded.png")
    assert psnr(uploaded, ref_swap) >= 20, f"{psnr(uploaded, ref_swap):.1f} dB"
    assert psnr(uploaded, ref_wave) < psnr(uploaded, ref_swap) - 6

    # A real-time net trains for the upload, the page shows its progress, and the page is
    # switched to it: the picture is then that net's (`rtstyle image --style` it).
    assert "training the_scream-instant" in got["instant_progress"]
    assert got["instant_menu"] == "style:the_scream-instant"
    assert got["instant_label"] == ""  # the progress line goes once the net is ready
    ref_instant = reference(png, tmp_path / "instant.png", "--style", "the_scream-instant")
    instant = shown("instant.png")
    assert psnr(instant, ref_instant) >= 25, f"{psnr(instant, ref_instant):.1f} dB"

    # Its engine is freed once no client uses it.
    assert got["upload_key"] in got["status_upload"]["engines"]
    assert got["upload_key"] not in got["status_back"]["engines"]

    # Two pages at once both play, both on loopback.
    assert min(got["frames_in_6s"]) >= 6, got["frames_in_6s"]
    assert psnr(shown("second.png"), ref_udnie) >= 25
    assert got["pair2"] == ["127.0.0.1", "127.0.0.1"]

    # A third page is beyond --max-clients and says so.
    assert "server is full" in got["third_message"]

    # A page that leaves frees what it held; the engine the other page uses stays.
    assert got["status_two"]["clients"] == 2
    assert got["status_two"]["engines"] == {"style:udnie-lite": 2}
    assert got["status_after_leave"]["clients"] == 1
    assert got["status_after_leave"]["engines"] == {"style:udnie-lite": 1}

    assert list(work.iterdir()) == []  # nothing written outside $RTSTYLE_HOME
    assert not list((rtstyle_home / "serve" / "uploads").glob("*"))
