"""`rtstyle train --instant`: a short real run that registers a working lite style, its
error paths (nothing registered, one line), and the webcam's hand-over from style-swap
to the instant net in a real window under Xvfb."""

from __future__ import annotations

import os
import shutil
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import test_webcam_window
from conftest import asset, cli
from test_webcam_window import TOOLS, H, grab, start_app, still_clip, wait_for, window_geometry, x

from rtstyle.metrics import psnr
from rtstyle.styles.catalogue import list_styles
from rtstyle.styles.modelfile import read_meta

display = test_webcam_window.display  # the private Xvfb screen, a fixture


@pytest.fixture(scope="module")
def material(tmp_path_factory) -> dict[str, Path]:
    """Four small synthetic photos and a striped painting."""
    root = tmp_path_factory.mktemp("instant-material")
    rng = np.random.default_rng(0)
    photos = root / "photos"
    photos.mkdir()
    for i in range(4):
        img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (160, 120),
                         interpolation=cv2.INTER_CUBIC)
        cv2.circle(img, (40 + 10 * i, 60), 25, (255, 255, 255), -1)
        cv2.imwrite(str(photos / f"p{i}.png"), img)
    painting = np.full((128, 128, 3), 230, np.uint8)
    painting[:, ::8] = (40, 200, 250)
    painting[::8] = (200, 40, 30)
    cv2.imwrite(str(root / "painting.png"), painting)
    return {"photos": photos, "painting": root / "painting.png", "root": root}


def _instant(material, painting: Path, name: str = "mine", *extra: str):
    return cli("train", "--style-image", str(painting), "--data", str(material["photos"]),
               "-o", name, "--instant", "--steps", "2", "--threads", "1", *extra)


def test_instant_run_registers_a_lite_style_that_stylises(material, tmp_path, rtstyle_home):
    r = _instant(material, material["painting"])
    assert r.returncode == 0, r.stderr
    assert "trained 'mine' (instant, lite) for 2 steps" in r.stdout
    [style] = [s for s in list_styles() if s.name == "mine"]
    meta = read_meta(style.path)
    assert meta["arch"] == "lite"
    record = meta["made_by"]
    assert record["steps"] == 2 and record["size"] == 160
    # started from the mean of the built-in lite nets, and says so
    assert record["init"] == "init-average.safetensors"
    assert record["init_history"][0]["command"] == "mean of the built-in lite nets"
    # the temporary training folder is gone; only the style stays
    assert not list((rtstyle_home / "training").glob(".instant-*"))
    photo = next(material["photos"].iterdir())
    out = tmp_path / "out.png"
    r = cli("image", str(photo), "-o", str(out), "--style", "mine")
    assert r.returncode == 0, r.stderr
    src, got = cv2.imread(str(photo)), cv2.imread(str(out))
    assert got.shape == src.shape
    assert np.abs(got.astype(int) - src).mean() > 5  # it stylises, not copies


def _png_header_claiming(w: int, h: int) -> bytes:
    """A PNG whose header claims w x h pixels (a decompression bomb's first bytes)."""
    ihdr = b"IHDR" + w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + ihdr
            + zlib.crc32(ihdr).to_bytes(4, "big"))


@pytest.mark.parametrize("kind, message", [
    ("tiny", "too small"),
    ("one-colour", "one flat colour"),
    ("grey", "one flat colour"),
    ("corrupt", "style image"),
    ("huge", "style image"),
    ("missing", "does not exist"),
])
def test_bad_painting_is_one_line_and_registers_nothing(material, tmp_path, rtstyle_home,
                                                        kind, message):
    path = tmp_path / f"{kind}.png"
    if kind == "tiny":
        cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 256, (40, 40, 3),
                                                                 dtype=np.uint8))
    elif kind in ("one-colour", "grey"):
        colour = (30, 120, 220) if kind == "one-colour" else (128, 128, 128)
        cv2.imwrite(str(path), np.full((200, 200, 3), colour, np.uint8))
    elif kind == "corrupt":
        path.write_bytes(material["painting"].read_bytes()[:200])
    elif kind == "huge":
        path.write_bytes(_png_header_claiming(200_000, 200_000))
    r = _instant(material, path, "bad")
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1, r.stderr
    assert message in lines[0] and "Traceback" not in r.stderr
    assert "bad" not in [s.name for s in list_styles()]
    assert not list((rtstyle_home / "training").glob(".instant-*"))



@pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS),
                    reason="needs Xvfb, xdotool and ImageMagick's import (apt-get install xvfb "
                           "xdotool imagemagick; .ci/run does it)")
def test_webcam_hands_over_from_swap_to_the_instant_net(tmp_path, rtstyle_home, display):
    """--style-image --instant: the window shows style-swap at once while a net trains in
    the background (the HUD says so), then shows the new net's frames."""
    from rtstyle.engines import open_engine
    from rtstyle.engines.swap import Budget
    from rtstyle.styles.catalogue import find_style

    vgg = {"RTSTYLE_VGG_WEIGHTS": str(asset("weights/vgg19_features_relu3_4.safetensors"))}
    painting = tmp_path / "waves.jpg"
    painting.symlink_to(asset("paintings/great_wave.jpg"))
    clip, frame = still_clip(tmp_path)
    os.environ.update(vgg)  # for the expected frame, computed in this process
    try:
        swapped = open_engine(painting, "onnxruntime", swap=Budget(64)).run(frame[None])[0]
    finally:
        del os.environ["RTSTYLE_VGG_WEIGHTS"]
    app = start_app(display, "--source", str(clip), "--style-image", str(painting),
                    "--style-size", "64", "--instant", "1", env=vgg)
    try:
        win, geometry = window_geometry(display)
        wait_for(display, geometry, swapped, app, tmp_path / "swap.png")
        end = time.monotonic() + 600  # 1 s of training; spawning and loading take longer
        while not (rtstyle_home / "styles" / "waves-instant.safetensors").exists():
            assert app.poll() is None and time.monotonic() < end, "no instant style came"
            cv2.imwrite(str(tmp_path / "training.png"), grab(display, geometry))
            time.sleep(0.5)
        net = open_engine(find_style("waves-instant").path, "onnxruntime")
        expected = net.run(frame[None])[0]
        assert psnr(expected[H // 2:], swapped[H // 2:]) < 30  # a different picture
        wait_for(display, geometry, expected, app, tmp_path / "instant.png")
        x(display, "xdotool", "windowfocus", "--sync", win, "key", "q")
        err = app.communicate(timeout=60)[1]
    finally:
        app.kill()
    assert app.returncode == 0, err
    assert "training a real-time net for waves" in err
    assert "waves-instant is ready: switching" in err
    assert "switched to waves-instant" in err
