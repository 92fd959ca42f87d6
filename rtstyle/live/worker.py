"""The inference worker: the one live frame step (stylise -> adjust -> stabilise).

The webcam window, the MJPEG stream and every browser client of `rtstyle serve` run this
same worker: the newest frame in, a stylised and adjusted frame out. Who picks the engine
(the webcam's switcher, serve's shared engine pool) and where results go (a slot for the
display thread, a WebRTC track) are the caller's, behind two small interfaces.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from rtstyle.engines.adjust import stylise
from rtstyle.engines.base import Engine
from rtstyle.live.controls import Controls
from rtstyle.live.slot import Frame, NewestSlot
from rtstyle.video.stabilize import Stabilizer

STABILIZE_FLOW_SCALE = 0.5  # live: flow at half size keeps a lite net real time


@dataclass
class Output:
    """One stylised frame on its way to the sinks."""

    image: np.ndarray
    index: int  # the capture sequence number of the frame it came from
    t_capture: float
    style: str  # the style it was made with, or "original" / "original (why)"
    backend: str


class EngineChoice(Protocol):
    """Which engine to run now: (label, engine), or (why not, None) while none is ready."""

    def current(self) -> tuple[str, Engine | None]: ...


class Outlet(Protocol):
    """Where outputs go: a NewestSlot, a WebRTC track, anything with put and close."""

    def put(self, item: Output) -> None: ...

    def close(self) -> None: ...


class InferWorker(threading.Thread):
    """Takes the newest frame, stylises it with the chosen engine, applies the controls
    (mirror, strength, colours, stabilisation) and puts the result to `outputs`.

    `decode` turns what was put in `frames` into a BGR array on this thread (a WebRTC
    frame's colour conversion), so the producer stays cheap.
    """

    def __init__(self, frames: NewestSlot, outputs: Outlet, engines: EngineChoice,
                 controls: Controls, max_frames: int | None = None, stabilize: bool = False,
                 decode: Callable[[Any], np.ndarray] | None = None):
        super().__init__(name="rtstyle-infer", daemon=True)
        self.frames, self.outputs = frames, outputs
        self.engines, self.controls = engines, controls
        self.max_frames, self.decode = max_frames, decode
        self.stabilizer = Stabilizer(flow_scale=STABILIZE_FLOW_SCALE) if stabilize else None
        self._stabilized_style: str | None = None
        self.stopping = threading.Event()
        self.processed = 0
        self.failed = 0  # taken but not finished because of an error (counted as dropped)
        self.engine_s = 0.0  # time inside the stylise step, for engine-only FPS
        self.engine_frames = 0
        self.frame_s = 0.0  # smoothed time per frame, to tell capture when we want the next
        self.busy_since: float | None = None  # when the frame in hand was taken
        self.error: str | None = None
        self._last_input: np.ndarray | None = None  # the newest camera frame, unmirrored

    def last_input(self) -> np.ndarray | None:
        """The newest frame as the camera gave it (e.g. to train an instant net on)."""
        return self._last_input

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                frame = self.frames.take(timeout=0.1)
                if frame is None:
                    if self.frames.closed:
                        return
                    continue
                t0 = self.busy_since = time.monotonic()
                self.frames.expect_taker_at(t0 + self.frame_s)
                try:
                    self.outputs.put(self.step(frame))
                except Exception:
                    self.failed, self.busy_since = self.failed + 1, None
                    raise
                self.frame_s += 0.3 * (time.monotonic() - t0 - self.frame_s)
                self.processed += 1
                self.busy_since = None
                if self.max_frames and self.processed >= self.max_frames:
                    return
        except Exception as e:  # surfaced by the pipeline as a one-line error
            self.error = f"stylising failed: {str(e).splitlines()[0] if str(e) else repr(e)}"
        finally:
            self.outputs.close()

    def step(self, frame: Frame) -> Output:
        """The frame step. The controls are read once, so a change mid-frame never mixes."""
        c = self.controls
        mirror, strength, keep, on = c.mirror, c.strength, c.preserve_colors, c.stylise
        image = frame.image if self.decode is None else self.decode(frame.image)
        self._last_input = image
        image = cv2.flip(image, 1) if mirror else image
        label, engine = self.engines.current() if on else ("original", None)
        if engine is None:
            self._stabilized_style = None  # the past output is stale when stylising resumes
            return Output(image, frame.index, frame.t_capture, label, "-")
        t0 = time.perf_counter()
        styled = stylise(engine, image[None], strength, keep)[0]
        self.engine_s += time.perf_counter() - t0
        self.engine_frames += 1
        if self.stabilizer is not None:
            if label != self._stabilized_style:  # a new style: nothing to carry over
                self.stabilizer.reset()
                self._stabilized_style = label
            styled = self.stabilizer(image, styled)
        return Output(styled, frame.index, frame.t_capture, label, engine.backend)
