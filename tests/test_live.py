"""The live pipeline's additions: bounded stats, live stabilisation, the virtual camera,
the action API and sinks as plug-ins."""

from __future__ import annotations

import functools
import sys
import time

import cv2
import numpy as np
import pytest
from conftest import asset
from test_webcam import tiny_style

from rtstyle.cli import main
from rtstyle.engines import open_engine
from rtstyle.live.controls import ActionQueue, Controls
from rtstyle.live.menu import StyleMenu
from rtstyle.live.pipeline import Pipeline
from rtstyle.live.sources import open_source
from rtstyle.live.sources.demo import DemoClip
from rtstyle.live.stats import LatencyHistogram, RunStats
from rtstyle.metrics import flicker
from rtstyle.sinks.base import Sink


def test_run_stats_stay_bounded_and_percentiles_match_numpy():
    rng = np.random.default_rng(0)
    latencies = rng.gamma(4.0, 12.0, 50_000)  # ms, a long right tail
    stats = RunStats()
    before = stats.latency.counts.nbytes
    for ms in latencies:
        stats.frame_shown("a", time.monotonic() - ms / 1000.0)
    assert len(stats.recent_shown) <= 15 and len(stats.recent_latency) <= 15
    assert stats.latency.counts.nbytes == before and stats.latency.n == len(latencies)
    summary = stats.summary()
    # Latencies are measured against the clock while the loop runs: allow a few ms.
    for q, key in ((50, "latency_ms_p50"), (95, "latency_ms_p95")):
        assert abs(summary[key] - np.percentile(latencies, q)) < 5, (q, summary[key])


def test_latency_histogram_puts_slow_frames_in_the_last_bin():
    h = LatencyHistogram()
    for ms in (5.0, 5.2, 10**9):
        h.add(ms)
    assert h.percentile(0) == pytest.approx(5.5) and h.percentile(100) > 59_000


class Collect(Sink):
    """A sink that keeps what it is given, as a test's eyes."""

    name = "collect"

    def __init__(self):
        self.opened, self.frames, self.closed = None, [], 0

    def open(self, size, fps):
        self.opened = (size, fps)

    def write(self, frame, capture_time):
        self.frames.append(frame)

    def close(self):
        self.closed += 1


def test_a_new_sink_gets_every_frame_and_actions_come_from_any_controller(rtstyle_home):
    tiny_style(rtstyle_home, "a-tiny", 1)
    tiny_style(rtstyle_home, "b-tiny", 2)
    load = functools.partial(open_engine, backend="onnxruntime")
    menu = StyleMenu([("a-tiny", "a-tiny"), ("b-tiny", "b-tiny")])
    sink, queue = Collect(), ActionQueue()

    class QuitWhenSwitched:
        def poll(self):
            return "quit" if p.last is not None and p.last.style == "b-tiny" else None

    p = Pipeline(DemoClip((64, 48)), menu, load("a-tiny"), load=load, size=(64, 48),
                 controls=Controls(), sinks=[sink], controllers=[queue, QuitWhenSwitched()],
                 max_frames=3000, log=lambda m: None)
    with p:
        queue.put("next")  # as a web page would, from any thread
        queue.put("weaker")
        p.run()
    assert sink.opened == ((64, 48), 30.0) and sink.closed >= 1
    stats = p.stats()
    assert len(sink.frames) == stats["frames_shown"] > 0
    assert [s["to"] for s in stats["switches"]] == ["b-tiny"]
    assert p.controls.strength == 0.9


def _run_file(path, stabilize: bool, frames: int = 50):
    """Stylise the first `frames` frames of a file live; (outputs, matching contents)."""
    load = functools.partial(open_engine, backend="onnxruntime", threads=2)
    size = (320, 240)
    source = open_source(str(path), size)
    source.fps = 4.0  # slow pacing: the engine keeps up, so few frames are dropped
    p = Pipeline(source, StyleMenu([("udnie-lite", "udnie-lite")]), load("udnie-lite"),
                 load=load, size=size, controls=Controls(), max_frames=frames,
                 stabilize=stabilize, log=lambda m: None)
    got = []
    with p:
        while not p.finished:
            out = p.next_output(0.5)
            if out is not None:
                p.deliver(out)
                got.append(out)
    cap = cv2.VideoCapture(str(path))
    contents = []
    for _ in range(max(o.index for o in got) + 1):
        contents.append(cv2.resize(cap.read()[1], size, interpolation=cv2.INTER_AREA))
    return got, contents


def _pairs_flicker(outputs, contents) -> float:
    """Flicker over pairs of outputs made from consecutive frames."""
    s, c = [], []
    for a, b in zip(outputs, outputs[1:], strict=False):
        if b.index == a.index + 1:
            s += [a.image, b.image]
            c += [contents[a.index], contents[b.index]]
    pairs = [(s[i:i + 2], c[i:i + 2]) for i in range(0, len(s), 2)]
    return float(np.mean([flicker(x, y) for x, y in pairs]))


@pytest.mark.slow
def test_live_stabilize_flickers_less_on_a_static_camera(rtstyle_home):
    video = asset("videos/vtest.avi")
    plain, contents = _run_file(video, stabilize=False)
    steady, contents2 = _run_file(video, stabilize=True)
    before, after = _pairs_flicker(plain, contents), _pairs_flicker(steady, contents2)
    assert after < 0.75 * before, (before, after)
    # Still the style: the stabilised frames stay close to the plain stylisation.
    by_index = {o.index: o.image for o in plain}
    common = [o for o in steady[10:] if o.index in by_index]
    assert common
    diff = np.mean([np.abs(o.image.astype(int) - by_index[o.index]).mean() for o in common])
    assert diff < 20, diff


def test_virtual_camera_without_a_device_says_what_to_install(rtstyle_home, capsys):
    pytest.importorskip("pyvirtualcam", reason="the virtualcam extra is not installed")
    code = main(["webcam", "--demo", "--no-display", "--max-frames", "3",
                 "--virtual-camera", "--style", "udnie-lite"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("rtstyle: error: no virtual camera"), err
    assert "v4l2loopback" in err[-1] if sys.platform.startswith("linux") else "OBS" in err[-1]
