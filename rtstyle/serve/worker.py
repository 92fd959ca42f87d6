"""Per-viewer processing: newest frame in, stylised frame out, on a thread of its own.

Each browser client and the MJPEG broadcast has one `FrameWorker`. Frames arrive in a
`NewestSlot` (stale ones are dropped, never queued); the worker stylises with the shared
engine its `Controls` name, applies strength, optionally stabilises, and hands the result
on. While the chosen style still loads, the camera passes through unstylised.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from rtstyle.engines.adjust import adjust
from rtstyle.live.slot import Frame, NewestSlot
from rtstyle.serve.pool import EnginePool
from rtstyle.video.stabilize import Stabilizer

FLOW_SIDE = 320  # the stabiliser's optical flow runs at most this wide (cost ~ area)


class ReducedFlowStabilizer(Stabilizer):
    """The flow-based Stabilizer with its flow and trust computed on a downscaled frame:
    at 640x480 the full-size flow costs more than a lite net, a half-size one a quarter."""

    def __init__(self, max_side: int = FLOW_SIDE, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_side = max_side

    def trust(self, content: np.ndarray, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = grey.shape
        scale = self.max_side / max(h, w)
        if scale >= 1.0:
            return super().trust(content, grey)
        small = (max(16, round(w * scale)), max(16, round(h * scale)))
        full_prev = self._prev_content, self._prev_grey
        self._prev_content = cv2.resize(full_prev[0], small, interpolation=cv2.INTER_AREA)
        self._prev_grey = cv2.resize(full_prev[1], small, interpolation=cv2.INTER_AREA)
        try:
            where, trust = super().trust(cv2.resize(content, small, interpolation=cv2.INTER_AREA),
                                         cv2.resize(grey, small, interpolation=cv2.INTER_AREA))
        finally:
            self._prev_content, self._prev_grey = full_prev
        sx, sy = w / small[0], h / small[1]
        where = cv2.resize(where, (w, h), interpolation=cv2.INTER_LINEAR)
        where[..., 0] = (where[..., 0] + 0.5) * sx - 0.5  # pixel centres, small -> full
        where[..., 1] = (where[..., 1] + 0.5) * sy - 0.5
        return where, cv2.resize(trust, (w, h), interpolation=cv2.INTER_LINEAR)


@dataclass
class Controls:
    """What one viewer asked for; the page's controls set it (the webcam's action API can
    drive it the same way later)."""

    style: str  # pool key, e.g. "style:udnie-lite"
    strength: float = 1.0
    stylised: bool = True


class FrameWorker(threading.Thread):
    """Takes the newest Frame from `slot` (fed by `put` or a CaptureThread), stylises it,
    and calls `deliver(frame, capture_time)`.

    `decode` turns what was put in the slot into a BGR array on this thread (e.g. a
    WebRTC frame's colour conversion), so the producer stays cheap.
    """

    def __init__(self, pool: EnginePool, controls: Controls,
                 deliver: Callable[[np.ndarray, float], None], stabilize: bool = False,
                 decode: Callable[[Any], np.ndarray] = lambda x: x) -> None:
        super().__init__(daemon=True, name="rtstyle-serve-worker")
        self.pool, self.controls, self.deliver, self.decode = pool, controls, deliver, decode
        self.slot = NewestSlot()
        self.stabilizer = ReducedFlowStabilizer() if stabilize else None
        self.showing = "original"
        self.frames = 0
        self.work_ms: deque[float] = deque(maxlen=300)
        self._last_style: str | None = None

    def put(self, item: Any, t_in: float, index: int = 0) -> None:
        self.slot.put(Frame(item, index, t_in))

    def stop(self) -> None:
        self.slot.close()

    def run(self) -> None:
        while True:
            got = self.slot.take(timeout=0.5)
            if got is None:
                if self.slot.closed:
                    return
                continue
            t0 = time.monotonic()
            out = self.process(self.decode(got.image))
            self.work_ms.append((time.monotonic() - t0) * 1000)
            self.frames += 1
            self.deliver(out, got.t_capture)

    def process(self, image: np.ndarray) -> np.ndarray:
        # Read the controls once: the page may change them while this frame is worked on,
        # and the label must name the style this frame was really made with.
        c = self.controls
        style, strength, stylised = c.style, c.strength, c.stylised
        if not stylised:
            self.showing = "original"
            return image
        styled = self.pool.run(style, image)
        if styled is None:
            state = self.pool.state(style)
            self.showing = "original (style loading)" if state == "loading" else \
                f"original ({state})"
            return image
        out = adjust(image, styled, strength)
        if self.stabilizer is not None:
            if self._last_style != style:
                self.stabilizer.reset()
            out = self.stabilizer(image, out)
        self._last_style = style
        self.showing = style
        return out
