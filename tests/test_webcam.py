"""`rtstyle webcam` headless, run as users run it: a video file, the demo clip and a live
MJPEG stream stand in for the camera; recordings are checked by decoding them."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import asset, cli

from rtstyle.cli import main
from rtstyle.live.sources import video_devices
from rtstyle.metrics import psnr
from rtstyle.nets import build_net
from rtstyle.styles.modelfile import save_model


def tiny_style(home: Path, name: str, seed: int) -> Path:
    """A small random-weight fst net registered as a user style: cheap to run in tests,
    and two seeds give clearly different pictures."""
    torch.manual_seed(seed)
    net = build_net("fst", widths=(8, 16, 32), res_blocks=1)
    with torch.no_grad():
        for pname, p in net.named_parameters():
            if pname.split(".")[-2].startswith("in"):
                p.copy_(torch.rand_like(p) + 0.5 if pname.endswith("weight")
                        else p.normal_(0, 0.5))
    path = home / "styles" / f"{name}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(path, net, {"style": name, "source": "test", "licence": "CC0"})
    return path


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open in OpenCV"
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames, fps


def check_counts(stats: dict) -> None:
    assert stats["frames_processed"] + stats["frames_dropped"] == stats["frames_captured"]
    assert 1 <= stats["frames_shown"] <= stats["frames_processed"]
    assert stats["latency_ms_p50"] <= stats["latency_ms_p95"]


def test_vtest_headless_recording_is_stylised_and_counts_add_up(tmp_path):
    """The webcam default style (built-in udnie-lite) on vtest.avi, as installed."""
    vtest = asset("videos/vtest.avi")
    out, stats_path = tmp_path / "rec.mp4", tmp_path / "stats.json"
    r = cli("webcam", "--source", str(vtest), "--size", "128x96", "--no-display",
            "--max-frames", "6", "--record", str(out), "--stats-json", str(stats_path),
            timeout=300)
    assert r.returncode == 0, r.stderr
    stats = json.loads(stats_path.read_text())
    check_counts(stats)
    assert stats["frames_processed"] == 6 and stats["style"] == "udnie-lite"
    assert stats["fps_end_to_end"] > 0 and stats["fps_engine"] > 0
    assert stats["error"] is None

    frames, fps = read_video(out)
    assert fps == pytest.approx(10)  # the source's rate: the file plays in real time
    assert frames[0].shape == (96, 128, 3)
    assert len(frames) == stats["recordings"][0]["frames"] >= stats["frames_shown"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left

    # The first recorded frame is the style applied to the clip's first frame, not the frame.
    from rtstyle.engines import open_engine

    cap = cv2.VideoCapture(str(vtest))
    ok, first = cap.read()
    cap.release()
    first = cv2.resize(first, (128, 96), interpolation=cv2.INTER_AREA)
    expected = open_engine("udnie-lite").run(first[None])[0]
    assert psnr(frames[0], expected) > 27
    assert psnr(frames[0], first) < psnr(frames[0], expected) - 10


def test_demo_runs_the_whole_pipeline_without_a_camera(tmp_path, rtstyle_home):
    tiny_style(rtstyle_home, "tiny", 1)
    stats_path = tmp_path / "stats.json"
    r = cli("webcam", "--demo", "--style", "tiny", "--size", "96x72", "--no-display",
            "--max-frames", "5", "--stats-json", str(stats_path), "--backend", "torch")
    assert r.returncode == 0, r.stderr
    stats = json.loads(stats_path.read_text())
    check_counts(stats)
    assert stats["source"] == "built-in demo clip" and stats["size"] == "96x72"
    assert stats["frames_processed"] == 5 and stats["backend"].startswith("torch")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupted_recording_is_finished_and_playable(tmp_path, rtstyle_home, sig):
    """Ctrl-C and kill finish the file; even SIGKILL leaves a playable one (fragmented MP4
    under its final name, which ffmpeg closes when its input ends)."""
    tiny_style(rtstyle_home, "tiny", 1)
    out = tmp_path / "live.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtstyle", "webcam", "--demo", "--style", "tiny", "--size",
         "96x72", "--no-display", "--record", str(out)],
        stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        for line in proc.stderr:  # wait until it records, then give it a second of video
            if "recording to" in line:
                break
        time.sleep(1.5)
        proc.send_signal(sig)
        rest = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        end = time.monotonic() + 60  # ffmpeg, orphaned, finishes the file on its own
        while time.monotonic() < end and (not out.exists() or len(read_video(out)[0]) < 15):
            time.sleep(0.5)
    else:
        assert proc.returncode == 0, rest
        assert "recorded" in rest
    frames, fps = read_video(out)
    assert fps == pytest.approx(30) and len(frames) >= 15
    assert frames[0].shape == (72, 96, 3)


class MJPEGStream:
    """A live MJPEG-over-HTTP camera stand-in: each connection gets `frames` frames, then
    the connection drops; after `connections` connections the server goes away."""

    def __init__(self, frames: int, connections: int, fps: float = 20.0):
        self.served = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=f")
                self.end_headers()
                for i in range(frames):
                    img = np.full((72, 96, 3), (i * 10) % 256, np.uint8)
                    jpg = cv2.imencode(".jpg", img)[1].tobytes()
                    try:
                        self.wfile.write(b"--f\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(jpg)).encode() + b"\r\n\r\n" + jpg + b"\r\n")
                    except OSError:
                        break
                    time.sleep(1 / fps)
                outer.served += 1
                if outer.served >= connections:  # the camera is gone for good
                    threading.Thread(target=outer.close).start()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_lost_stream_reconnects_then_exits_cleanly_with_a_playable_recording(
        tmp_path, rtstyle_home):
    tiny_style(rtstyle_home, "tiny", 1)
    stream = MJPEGStream(frames=20, connections=2)
    out, stats_path = tmp_path / "rec.mp4", tmp_path / "stats.json"
    try:
        r = cli("webcam", "--source", stream.url, "--style", "tiny", "--size", "96x72",
                "--no-display", "--record", str(out), "--stats-json", str(stats_path),
                "--reconnect-timeout", "2", timeout=120)
    finally:
        stream.close()
    assert r.returncode == 2, r.stderr
    assert "lost; reconnecting for up to 2 s" in r.stderr and "is back" in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last == (f"rtstyle: error: stream {stream.url} was lost and did not come back "
                    "within 2 s")
    stats = json.loads(stats_path.read_text())
    check_counts(stats)
    assert stats["reconnects"] == 1 and "did not come back" in stats["error"]
    frames, _ = read_video(out)
    assert len(frames) == stats["recordings"][0]["frames"] > 0
    assert frames[0].shape == (72, 96, 3)


@pytest.mark.parametrize("args, message", [
    (["--demo", "--no-display"], "--no-display needs --record"),
    (["--demo", "--no-display", "--record", "out.xyz"], "cannot write video with extension"),
    (["--demo", "--no-display", "--max-frames", "1", "--style", "nope"], "unknown style 'nope'"),
    (["--source", "missing.avi", "--no-display", "--max-frames", "1"], "does not exist"),
    (["--demo", "--no-display", "--max-frames", "1", "--size", "big"], "is not WIDTHxHEIGHT"),
    (["--demo", "--no-display", "--max-frames", "1", "--style-dir", "nowhere"],
     "is not a folder"),
])
def test_bad_arguments_get_one_line_errors(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["webcam", *args]) == 2  # the CLI entry point, in-process (fast)
    err = capsys.readouterr().err
    assert err.startswith("rtstyle: error: ") and message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(bool(video_devices()), reason="this machine has a camera")
def test_without_a_camera_it_says_so_and_offers_file_and_demo(capsys):
    assert main(["webcam", "--no-display", "--max-frames", "1"]) == 2
    err = capsys.readouterr().err
    assert "no camera found" in err and "--source FILE" in err and "--demo" in err


def test_window_without_a_display_is_a_clear_error():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([sys.executable, "-m", "rtstyle", "webcam", "--demo"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no display" in r.stderr and "--no-display" in r.stderr
