"""The inference worker: the newest frame in, a stylised and adjusted frame out."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from rtstyle.engines.adjust import stylise
from rtstyle.live.controls import Controls
from rtstyle.live.slot import Frame, NewestSlot
from rtstyle.live.switcher import EngineSwitcher
from rtstyle.video.stabilize import Stabilizer

STABILIZE_FLOW_SCALE = 0.5  # live: flow at half size keeps a lite net real time


@dataclass
class Output:
    """One stylised frame on its way to the sinks."""

    image: np.ndarray
    index: int  # the capture sequence number of the frame it came from
    t_capture: float
    style: str
    backend: str


class InferWorker(threading.Thread):
    """Takes the newest frame, stylises it with the switcher's engine, applies the
    controls (mirror, strength, colours, stabilisation) and offers the result, newest only."""

    def __init__(self, frames: NewestSlot, outputs: NewestSlot, switcher: EngineSwitcher,
                 controls: Controls, max_frames: int | None = None, stabilize: bool = False):
        super().__init__(name="rtstyle-infer", daemon=True)
        self.frames, self.outputs = frames, outputs
        self.switcher, self.controls = switcher, controls
        self.max_frames = max_frames
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
                    self.outputs.put(self._stylise(frame))
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

    def _stylise(self, frame: Frame) -> Output:
        c = self.controls
        image = cv2.flip(frame.image, 1) if c.mirror else frame.image
        if not c.stylise:
            self._stabilized_style = None  # the past output is stale when stylising resumes
            return Output(image, frame.index, frame.t_capture, "original", "-")
        label, engine = self.switcher.current()
        t0 = time.perf_counter()
        styled = stylise(engine, image[None], c.strength, c.preserve_colors)[0]
        self.engine_s += time.perf_counter() - t0
        self.engine_frames += 1
        if self.stabilizer is not None:
            if label != self._stabilized_style:  # a new style: nothing to carry over
                self.stabilizer.reset()
                self._stabilized_style = label
            styled = self.stabilizer(image, styled)
        return Output(styled, frame.index, frame.t_capture, label, engine.backend)
