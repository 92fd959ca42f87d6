"""The serve page's gallery and on-device mode (/?on=device).

The HTTP tests run a real `rtstyle serve` on 127.0.0.1. The browser test drives Debian's
chromium in a loopback-only network namespace with a fake camera showing the built-in
sample photo at 640x480: the page must stylise it with ONNX Runtime Web (pinned
onnxruntime-web, fetched by `rtstyle serve --fetch-web-runtime`, as .ci/run does) as
`rtstyle image` does, with no peer connection and no POST.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from serve_helpers import http, running_server

from rtstyle.cli import main as rtstyle_main
from rtstyle.engines import paint_image
from rtstyle.metrics import psnr
from rtstyle.styles.catalogue import find_style, list_styles
from rtstyle.styles.exports import onnx_file
from rtstyle.styles.preview import SAMPLE_PHOTO, thumbnail_png

pytest.importorskip("aiohttp")
SIZE = (640, 480)
DRIVER = Path(__file__).parent / "serve_device_driver.py"


def fetch(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=300) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_browser_graph_matches_the_frames_graph():
    from rtstyle.export.web import rgba_graph

    frames = onnx.load(str(onnx_file(find_style("udnie-lite"))))
    web = ort.InferenceSession(rgba_graph(frames).SerializeToString())
    ref = ort.InferenceSession(frames.SerializeToString())
    bgr = np.random.default_rng(0).integers(0, 256, (1, 50, 70, 3), np.uint8)
    rgba = np.concatenate([bgr[..., ::-1], np.full((1, 50, 70, 1), 7, np.uint8)], axis=-1)
    got = web.run(None, {"rgba": rgba})[0]
    want = ref.run(None, {"frames": bgr})[0]
    assert got.shape == (1, 50, 70, 4)
    assert (got[..., 3] == 255).all()
    np.testing.assert_array_equal(got[..., 2::-1], want)  # the same net, channels reordered


def test_device_files_isolation_headers_and_bad_requests(tmp_path):
    with running_server(cwd=tmp_path) as (url, _):
        status, headers, _ = fetch(url)
        assert status == 200
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"

        status, info = http("GET", url + "api/device")
        lite = sorted(s.name for s in list_styles() if s.meta.get("arch") == "lite")
        assert status == 200 and sorted(s["name"] for s in info["styles"]) == lite

        status, _, body = fetch(url + "device/models/udnie-lite.onnx")
        assert status == 200
        model = onnx.load_from_string(body)
        assert [i.name for i in model.graph.input] == ["rgba"]

        for path, code in [("device/models/udnie.onnx", 404),  # a full net: too slow there
                           ("device/models/udnie-lite.onnx?precision=fp64", 400),
                           ("device/ort/package.json", 404),  # only the served files
                           ("device/ort/..%2F..%2Fapp.py", 404),
                           ("api/thumbnails/style%3Anope.png", 400),
                           ("api/thumbnails/upload%3Ax.png", 400)]:
            status, _, body = fetch(url + path)
            assert status == code, (path, status, body)
            assert json.loads(body)["error"]
        assert fetch(url)[0] == 200  # still serving


def test_gallery_thumbnail_is_the_preview_renderer(tmp_path):
    with running_server(cwd=tmp_path) as (url, _):
        status, headers, body = fetch(url + "api/thumbnails/style%3Agreat_wave-lite.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    shown = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    sample = cv2.imread(str(SAMPLE_PHOTO))
    assert shown.shape[0] == 240
    assert abs(shown.shape[1] / 240 - sample.shape[1] / sample.shape[0]) < 0.01
    # The gallery and `styles preview` show the same picture, and it is `rtstyle image`'s.
    cached = thumbnail_png(find_style("great_wave-lite"), paint_image)
    np.testing.assert_array_equal(shown, cv2.imread(str(cached)))
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), cv2.resize(sample, shown.shape[1::-1], interpolation=cv2.INTER_AREA))
    assert rtstyle_main(["image", str(small), "-o", str(tmp_path / "ref.png"),
                         "--style", "great_wave-lite"]) == 0
    assert psnr(shown, cv2.imread(str(tmp_path / "ref.png"))) >= 35


def test_styles_preview_sheet(tmp_path, capsys):
    out = tmp_path / "sheet.png"
    assert rtstyle_main(["styles", "preview", "udnie-lite", "great_wave-lite", "-o", str(out),
                         "--columns", "2"]) == 0
    sheet = cv2.imread(str(out))
    tile = cv2.imread(str(thumbnail_png(find_style("great_wave-lite"), paint_image)))
    h, w = tile.shape[:2]
    assert sheet.shape[:2] == (2 * (h + 28), 2 * w)  # photo, udnie-lite / great_wave-lite, blank
    np.testing.assert_array_equal(sheet[h + 28:2 * h + 28, :w], tile)


@pytest.mark.parametrize("args, words", [
    (["nope"], "unknown style 'nope'"),
    (["--photo", "missing.jpg"], "does not exist"),
    (["--columns", "0"], "--columns 0 is out of range"),
    (["-o", "sheet.txt"], "extension"),
])
def test_styles_preview_bad_input(tmp_path, args, words):
    r = subprocess.run([sys.executable, "-m", "rtstyle", "styles", "preview", *args], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert words in r.stderr and "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1


@pytest.mark.slow
def test_on_device_page_stylises_without_webrtc_and_gallery_lists_every_style(tmp_path):
    from test_serve_browser import need_browser_and_namespace

    from rtstyle.serve import device, web_runtime

    need_browser_and_namespace()
    if web_runtime.locate() is None:
        pytest.skip("ONNX Runtime Web is not fetched; run `rtstyle serve --fetch-web-runtime` "
                    "(.ci/run does)")
    from serve_browser_driver import in_loopback_namespace
    from video_media import FFMPEG

    work, out = tmp_path / "cwd", tmp_path / "out"
    work.mkdir()
    out.mkdir()
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), cv2.resize(cv2.imread(str(SAMPLE_PHOTO)), SIZE,
                                       interpolation=cv2.INTER_AREA))
    y4m, png = tmp_path / "camera.y4m", tmp_path / "camera.png"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-loop", "1", "-framerate", "25", "-i",
                    str(photo), "-vf", "format=yuv420p", "-frames:v", "10", str(y4m)], check=True)
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(y4m), "-frames:v", "1", str(png)],
                   check=True)
    r = in_loopback_namespace(["--y4m", str(y4m), "--out", str(out), "--cwd", str(work),
                               "--precision", device.DEFAULT_PRECISION, "--seconds", "3",
                               "--gallery", "390x844"], script=str(DRIVER))
    assert r.returncode == 0, r.stderr[-4000:]
    got = json.loads((out / "result.json").read_text())
    run = got["device"][0]
    print({k: run[k] for k in ("fps", "overlay", "status_text")})

    # The page stylised the fake camera as `rtstyle image` does.
    assert rtstyle_main(["image", str(png), "-o", str(tmp_path / "ref.png"),
                         "--style", "udnie-lite"]) == 0
    shown = cv2.imread(str(out / f"device-{device.DEFAULT_PRECISION}-0.png"))
    assert shown.shape[1::-1] == SIZE
    ref, plain = cv2.imread(str(tmp_path / "ref.png")), cv2.imread(str(png))
    assert psnr(shown, ref) >= 25, f"{psnr(shown, ref):.1f} dB"
    assert psnr(shown, plain) < psnr(shown, ref) - 5

    # It did so with no peer connection, no POST and no client on the server.
    state = run["state"]
    assert state["pcs"] == 0 and state["id"] is None
    assert not [q for q in run["requests"] if not q.startswith("GET ")], run["requests"]
    assert got["status"]["clients"] == 0
    # Cross-origin isolated (WASM threads), saying which backend runs it, one .wasm fetched.
    assert state["isolated"] is True
    assert state["backend"] in ("wasm", "webgpu")
    assert {"wasm": "WASM", "webgpu": "WebGPU"}[state["backend"]] in run["status_text"]
    wasm = [q for q in run["requests"] if q.endswith(".wasm")]
    assert len(set(wasm)) == 1 and wasm[0].endswith(web_runtime.BUILDS[state["backend"]][2])

    # The gallery (server mode, at phone size) shows every style on the menu, each a picture.
    gallery = got["gallery"]
    assert gallery["tiles"] == gallery["menu"]
    assert {f"style:{s.name}" for s in list_styles()} <= set(gallery["tiles"])
    assert all(w > 0 and h > 0 for w, h in gallery["images"])


def test_web_runtime_bad_folder_and_no_npm_are_one_line_errors(tmp_path):
    empty = tmp_path / "dist"
    empty.mkdir()
    r = subprocess.run([sys.executable, "-m", "rtstyle", "serve", "--port", "0",
                        "--web-runtime", str(empty)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0 and "lacks ort-wasm-simd-threaded" in r.stderr
    assert "Traceback" not in r.stderr
    # No npm on PATH: says how to get it, or how to do without it.
    r = subprocess.run([sys.executable, "-m", "rtstyle", "serve", "--fetch-web-runtime",
                        "--web-runtime", str(tmp_path / "new")], capture_output=True,
                       text=True, env={**os.environ, "PATH": str(tmp_path)},
                       timeout=120)
    assert r.returncode != 0 and "npm is not installed" in r.stderr
    assert "--web-runtime DIR" in r.stderr and "Traceback" not in r.stderr
