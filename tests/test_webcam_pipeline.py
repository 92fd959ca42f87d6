"""The pipeline in-process: switching style never stalls the frames, a style that cannot
load leaves the current one running, and the controls act on the output."""

from __future__ import annotations

import functools
import threading
import time

import numpy as np
import torch
from conftest import asset
from test_webcam import tiny_style

from rtstyle.engines import open_engine
from rtstyle.engines.adjust import adjust
from rtstyle.engines.base import Engine
from rtstyle.engines.swap import Budget
from rtstyle.live.controls import Controls
from rtstyle.live.menu import StyleMenu
from rtstyle.live.pipeline import Pipeline
from rtstyle.live.sources.demo import DemoClip
from rtstyle.nets import build_net
from rtstyle.styles.modelfile import save_model

SIZE = (96, 72)


def start(menu: StyleMenu, controls: Controls | None = None,
          swap: Budget | None = None) -> Pipeline:
    load = functools.partial(open_engine, backend="onnxruntime", swap=swap)
    return Pipeline(DemoClip(SIZE), menu, load(menu.current()[1]), load=load, size=SIZE,
                    controls=controls or Controls(), log=lambda m: None)


def collect(p: Pipeline, until, timeout: float = 120.0) -> list:
    """Deliver outputs like the headless loop does, until `until(outputs)` holds."""
    got, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        out = p.next_output(0.1)
        if out is not None:
            p.deliver(out)
            got.append(out)
            if until(got):
                return got
    raise AssertionError(f"timed out; styles seen: {[o.style for o in got]}")


def test_frames_keep_coming_while_the_next_style_loads(rtstyle_home):
    tiny_style(rtstyle_home, "a-tiny", 1)
    torch.manual_seed(3)  # a full-size net: exporting and warming it up takes a while
    save_model(rtstyle_home / "styles" / "b-full.safetensors", build_net("fst"),
               {"style": "b-full", "source": "test", "licence": "CC0"})
    menu = StyleMenu([("a-tiny", "a-tiny"), ("b-full", "b-full")])
    with start(menu) as p:
        collect(p, lambda got: len(got) >= 2)
        p.handle("next")  # returns at once: loading happens off this thread
        assert p.switcher.loading == "b-full"
        during = collect(p, lambda got: got[-1].style == "b-full")
    stats = p.stats()  # final once stopped
    styles = [o.style for o in during]
    # Since nets load without torch (graphs built from the weights) a full net loads in
    # well under a second, so only a frame or two may fall inside the load; a loop that
    # stalled on it would show none, the next frame being b-full's.
    assert styles.count("a-tiny") >= 1, "frames stalled while the next style loaded"
    assert styles[-1] == "b-full" and "b-full" not in styles[:-1]
    assert stats["frames_processed"] + stats["frames_dropped"] == stats["frames_captured"]


def test_keys_switch_between_nets_and_style_swap_paintings(rtstyle_home, monkeypatch):
    """Tab goes to the paintings, n to the next painting, Tab back to the nets; each
    painting is encoded off this thread and the time to its first frame is recorded."""
    vgg = asset("weights/vgg19_features_relu3_4.safetensors")
    monkeypatch.setenv("RTSTYLE_VGG_WEIGHTS", str(vgg))
    tiny_style(rtstyle_home, "a-tiny", 1)
    paintings = [(name, asset(f"paintings/{name}.jpg")) for name in ("udnie", "great_wave")]
    budget = Budget(style_size=64)
    menu = StyleMenu([("a-tiny", "a-tiny")], paintings)
    with start(menu, swap=budget) as p:
        collect(p, lambda got: len(got) >= 2)
        p.handle("family")
        first = collect(p, lambda got: got[-1].style == "udnie")
        p.handle("next")
        second = collect(p, lambda got: got[-1].style == "great_wave")
        p.handle("family")
        collect(p, lambda got: got[-1].style == "a-tiny")
    assert [o.style for o in first].count("a-tiny") >= 1  # frames kept coming meanwhile
    assert [o.style for o in second].count("udnie") >= 1
    stats = p.stats()
    assert [s["to"] for s in stats["switches"]] == ["udnie", "great_wave", "a-tiny"]
    assert all(0 < s["seconds"] < 120 for s in stats["switches"])
    # The painting's frames are style-swap's output for the frame shown, budget included.
    out = second[-1]
    frame = DemoClip(SIZE).frame_at(out.index)
    want = open_engine(paintings[1][1], "onnxruntime", swap=budget).run(frame[None])[0]
    assert np.abs(out.image.astype(int) - want).max() <= 2
    assert np.abs(out.image.astype(int) - frame).mean() > 10  # stylised, not the photo


def test_a_style_that_cannot_load_leaves_the_current_one_running(rtstyle_home, tmp_path):
    tiny_style(rtstyle_home, "a-tiny", 1)
    missing = tmp_path / "gone.jpg"
    menu = StyleMenu([("a-tiny", "a-tiny")], [("gone", missing)])
    with start(menu) as p:
        collect(p, lambda got: len(got) >= 1)
        p.handle("family")
        notices = []
        end = time.monotonic() + 120
        while not any("cannot load gone" in m for m in notices) and time.monotonic() < end:
            notices = [m for _, m in p.notices]
            collect(p, lambda got: True)
        got = collect(p, lambda got: len(got) >= 3)
    assert any("cannot load gone" in m for m in notices), notices
    assert {o.style for o in got} == {"a-tiny"}


def test_controls_mirror_strength_and_original_act_on_the_output(rtstyle_home):
    tiny_style(rtstyle_home, "a-tiny", 1)
    controls = Controls()
    engine = open_engine("a-tiny", "onnxruntime")
    with start(StyleMenu([("a-tiny", "a-tiny")]), controls) as p:
        for action in ("weaker", "weaker", "weaker", "mirror"):
            assert p.handle(action)
        assert controls.strength == 0.7 and controls.mirror
        mirrored = collect(p, lambda got: len(got) >= 3)[-1]
        p.handle("original")
        plain = collect(p, lambda got: got[-1].style == "original")[-1]
        assert not p.handle("quit")
    clip = DemoClip(SIZE)
    frame = clip.frame_at(mirrored.index)[:, ::-1]
    expected = adjust(frame, engine.run(np.ascontiguousarray(frame)[None])[0], 0.7)
    assert np.abs(mirrored.image.astype(int) - expected).max() <= 2
    assert np.array_equal(plain.image, clip.frame_at(plain.index)[:, ::-1])


class HungBackend(Engine):
    """A backend whose run never returns until released, like a wedged driver."""

    backend, name = "hung", "hung"

    def __init__(self):
        self.release = threading.Event()

    def run(self, frames: np.ndarray) -> np.ndarray:
        self.release.wait()
        return frames


def test_a_hung_engine_ends_the_run_with_an_error_instead_of_hanging():
    engine = HungBackend()
    p = Pipeline(DemoClip(SIZE), StyleMenu([("hung", "hung")]), engine, load=open_engine,
                 size=SIZE, controls=Controls(), stall_timeout=1.0, log=lambda m: None)
    t0 = time.monotonic()
    try:
        with p:
            p.run()
        assert time.monotonic() - t0 < 30
        assert "has not returned a frame" in p.error and "--backend" in p.error
        stats = p.stats()
        assert stats["frames_processed"] == 0
        assert stats["frames_processed"] + stats["frames_dropped"] == stats["frames_captured"]
    finally:
        engine.release.set()
