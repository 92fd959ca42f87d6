"""`rtstyle webcam --style a+b --mix M`: the window shows the per-pixel mix of both styles,
on a virtual X screen as in test_webcam_window.py."""

from __future__ import annotations

import numpy as np
from conftest import cli
from test_webcam import tiny_style
from test_webcam_window import (  # noqa: F401 (display is a fixture)
    H,
    display,
    pytestmark,
    start_app,
    still_clip,
    wait_for,
    window_geometry,
    x,
)

from rtstyle.metrics import psnr


def test_window_shows_the_blend_of_two_styles(tmp_path, rtstyle_home, display):  # noqa: F811
    from rtstyle.engines import open_engine

    alpha, beta = tiny_style(rtstyle_home, "alpha", 1), tiny_style(rtstyle_home, "beta", 2)
    clip, frame = still_clip(tmp_path)
    a, b = (open_engine(p, "onnxruntime").run(frame[None])[0].astype(float)
            for p in (alpha, beta))
    expect = np.clip(0.7 * a + 0.3 * b + 0.5, 0, 255).astype(np.uint8)
    assert psnr(expect, a.astype(np.uint8)) < 30 and psnr(expect, b.astype(np.uint8)) < 25

    app = start_app(display, "--source", str(clip), "--style", "alpha+beta", "--mix", "0.3")
    try:
        win, geometry = window_geometry(display)
        shot = wait_for(display, geometry, expect, app, tmp_path / "blend.png")
        assert psnr(shot[H // 2:], a.astype(np.uint8)[H // 2:]) < 32  # not just alpha
        x(display, "xdotool", "windowfocus", "--sync", win, "key", "q")
        err = app.communicate(timeout=60)[1]
    finally:
        app.kill()
    assert app.returncode == 0, err
    assert "loading alpha+beta" in err


def test_webcam_blend_bad_inputs_are_one_line(tmp_path):
    for args, says in ((["--style", "udnie-lite+udnei", "--mix", "0.3"], "did you mean"),
                       (["--style", "udnie-lite+udnie", "--mix", "1.5"], "--mix 1.5")):
        r = cli("webcam", "--demo", "--no-display", "--max-frames", "1", *args)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert says in r.stderr.strip().splitlines()[-1], r.stderr
