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

import numpy as np

from rtstyle.engines.adjust import adjust
from rtstyle.live.slot import Frame, NewestSlot
from rtstyle.serve.pool import EnginePool
from rtstyle.video.stabilize import Stabilizer

FLOW_SCALE = 0.5  # the stabiliser's flow at half size: most of its cost, a quarter left


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
        self.stabilizer = Stabilizer(flow_scale=FLOW_SCALE) if stabilize else None
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
