"""Figures for `rtstyle serve` at 640x480 with udnie-lite (issue 13).

  1. FPS that 1, 2 and 4 Chromium pages receive (WebRTC getStats) and the server-side
     latency (frame received -> stylised frame handed to the encoder), p50/p95;
  2. flicker (rtstyle.metrics.flicker) of the live path with and without --stabilize,
     vtest.avi as the source, and the FPS the live path keeps;
  3. FPS an OpenCV client reads from /stream.mjpg (a 30 fps 640x480 source).

The browser runs with the server in a loopback-only network namespace (as in the test).
Usage (a few minutes): RTSTYLE_ASSETS=... nice python benchmarks/serve_figures.py OUT.json
[--seconds 15] [--screenshot docs/serve-page.png]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
ASSETS = Path(os.environ.get("RTSTYLE_ASSETS", ROOT.parent / "shared" / "assets"))


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu,
            "cores": os.cpu_count(), "load_avg": os.getloadavg()}


def browser_clients(tmp: Path, seconds: float, shot: Path | None) -> list[dict]:
    from serve_browser_driver import in_loopback_namespace
    from test_serve_browser import make_camera

    y4m, _ = make_camera(tmp, (640, 480), ASSETS / "photos" / "tubingen.jpg", fps=30)
    rows = []
    for n in (1, 2, 4):
        out, cwd = tmp / f"out{n}", tmp / f"cwd{n}"
        out.mkdir()
        cwd.mkdir()
        load = os.getloadavg()
        r = in_loopback_namespace(["--y4m", str(y4m), "--out", str(out), "--cwd", str(cwd),
                                   "--clients", str(n), "--seconds", str(seconds), "--",
                                   "--max-clients", "4"])
        if r.returncode:
            raise SystemExit(r.stderr[-3000:])
        got = json.loads((out / "result.json").read_text())
        got["load_avg_before"] = load
        rows.append(got)
        print(json.dumps({k: got[k] for k in ("clients", "size", "fps")}), flush=True)
        if shot is not None and n == 1:
            cv2.imwrite(str(shot), cv2.imread(str(out / "clients-1.png")))
    return rows


class _Pool:
    """The serve pool's engine for one style, as the live worker's engine choice."""

    def __init__(self, key: str = "style:udnie-lite") -> None:
        from rtstyle.serve.pool import EnginePool

        self.key, self.pool = key, EnginePool()
        self.pool.acquire(key, key.split(":", 1)[1])
        while self.pool.state(key) == "loading":
            time.sleep(0.2)

    def current(self):
        return self.pool.current(self.key)

    def close(self) -> None:
        self.pool.release(self.key)


class _Collect:
    """The worker's outlet: keeps every output."""

    def __init__(self) -> None:
        self.outputs: list = []

    def put(self, out) -> None:
        self.outputs.append(out)

    def close(self) -> None:
        pass


def live_flicker(seconds: float) -> dict:
    """The server's live path (capture thread -> newest slot -> worker) on vtest.avi."""
    from rtstyle.live import Controls, InferWorker, NewestSlot
    from rtstyle.live.capture import CaptureThread
    from rtstyle.live.sources import open_source
    from rtstyle.metrics import flicker

    engines = _Pool()
    rows = {}
    for stabilize in (False, True, False, True):  # A B A B: load drifts
        slot, sink, decode_log = NewestSlot(), _Collect(), []

        def decode(img, decode_log=decode_log):  # the frames the worker really took
            decode_log.append(img)
            return img
        worker = InferWorker(slot, sink, engines, Controls(), stabilize=stabilize,
                             decode=decode)
        source = open_source(str(ASSETS / "videos" / "vtest.avi"), (640, 480))
        cap = CaptureThread(source, slot, (640, 480))
        worker.start()
        cap.start()
        t0 = time.monotonic()
        time.sleep(seconds)
        cap.stop()
        worker.stop()
        cap.join(5)
        worker.join(5)
        dt = time.monotonic() - t0
        n = min(len(sink.outputs), len(decode_log))
        styled = [o.image for o in sink.outputs[:n]]
        content = decode_log[:n]
        key = "stabilized" if stabilize else "plain"
        row = rows.setdefault(key, {"flicker": [], "fps": [], "work_ms_p50": []})
        row["flicker"].append(round(flicker(styled, content), 3))
        row["fps"].append(round(len(styled) / dt, 1))
        row["work_ms_p50"].append(round(worker.frame_s * 1000, 1))
        rows["content_flicker"] = round(flicker(content, content), 3)
        rows["source_fps"] = source.fps
    engines.close()
    rows["reduction"] = round(1 - np.mean(rows["stabilized"]["flicker"])
                              / np.mean(rows["plain"]["flicker"]), 3)
    return rows


def every_frame_flicker(frames: int = 60) -> dict:
    """The same worker with no frame dropped (what a machine that keeps up gets): plain,
    the half-size flow used live, and the full-size flow of `rtstyle video`."""
    from rtstyle.live import Controls, Frame, InferWorker, NewestSlot
    from rtstyle.metrics import flicker
    from rtstyle.video.stabilize import Stabilizer

    cap = cv2.VideoCapture(str(ASSETS / "videos" / "vtest.avi"))
    content = [cv2.resize(cap.read()[1], (640, 480), interpolation=cv2.INTER_AREA)
               for _ in range(frames)]
    cap.release()
    engines = _Pool()
    out = {"frames": frames, "content": round(flicker(content, content), 3)}
    for name, stab in (("plain", None), ("half_size_flow", True), ("full_flow", Stabilizer())):
        worker = InferWorker(NewestSlot(), _Collect(), engines, Controls(),
                             stabilize=stab is True)
        if isinstance(stab, Stabilizer):
            worker.stabilizer = stab
        t0 = time.perf_counter()
        styled = [worker.step(Frame(c, i, 0.0)).image for i, c in enumerate(content)]
        out[name] = {"flicker": round(flicker(styled, content), 3),
                     "ms_per_frame": round((time.perf_counter() - t0) / frames * 1000, 1)}
    engines.close()
    for name in ("half_size_flow", "full_flow"):
        out[name]["reduction"] = round(1 - out[name]["flicker"] / out["plain"]["flicker"], 3)
    return out


def mjpeg_fps(tmp: Path, seconds: float) -> dict:
    import subprocess

    from serve_helpers import running_server
    from video_media import FFMPEG

    video = tmp / "still30.y4m"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-loop", "1", "-r", "30", "-i",
                    str(ASSETS / "photos" / "tubingen.jpg"), "-vf",
                    "scale=640:480,format=yuv420p", "-t", "4", str(video)], check=True)
    cwd = tmp / "cwd-mjpeg"
    cwd.mkdir()
    with running_server("--source", str(video), cwd=cwd) as (url, _):
        time.sleep(5)  # engine load and warm-up
        cap = cv2.VideoCapture(url + "stream.mjpg", cv2.CAP_FFMPEG)
        for _ in range(10):
            cap.read()
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < seconds and cap.read()[0]:
            n += 1
        cap.release()
    return {"source": "640x480 30 fps (still photo, y4m)", "fps": round(n / (time.monotonic()
                                                                          - t0), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--screenshot", type=Path, default=None)
    ap.add_argument("--only", choices=["browser", "flicker", "mjpeg"], default=None)
    a = ap.parse_args()
    result = {"machine": machine(), "command": " ".join(sys.argv)}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ.setdefault("RTSTYLE_HOME", str(tmp / "home"))
        if a.only in (None, "flicker"):
            result["every_frame_flicker"] = every_frame_flicker()
            print(json.dumps(result["every_frame_flicker"]), flush=True)
            result["live_flicker"] = live_flicker(a.seconds)
            print(json.dumps(result["live_flicker"]), flush=True)
        if a.only in (None, "mjpeg"):
            result["mjpeg"] = mjpeg_fps(tmp, a.seconds)
            print(json.dumps(result["mjpeg"]), flush=True)
        if a.only in (None, "browser"):
            result["browser"] = browser_clients(tmp, a.seconds, a.screenshot)
    result["machine"]["load_avg_after"] = os.getloadavg()
    a.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
