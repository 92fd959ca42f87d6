"""The MJPEG sink: stylised frames as JPEGs for any number of HTTP viewers.

`write` (one producer thread) encodes each frame once and keeps only the newest, so a
slow viewer skips frames instead of making anything queue. Viewers live on an asyncio
loop and wait with `next_jpeg`; the producer wakes them thread-safely.
"""

from __future__ import annotations

import asyncio
import threading

import cv2
import numpy as np

from rtstyle.sinks.base import Sink


class MjpegSink(Sink):
    name = "mjpeg"

    def __init__(self, quality: int = 80) -> None:
        self.quality = quality
        self._jpeg: bytes | None = None
        self._seq = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.closed = False

    def write(self, frame: np.ndarray, capture_time: float) -> None:
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return
        with self._lock:
            self._jpeg, self._seq = buf.tobytes(), self._seq + 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def next_jpeg(self, after: int, timeout: float = 5.0) -> tuple[int, bytes | None]:
        """The newest JPEG newer than sequence number `after` (0: any), as (seq, bytes);
        (after, None) when none came within `timeout` or the sink closed."""
        event = asyncio.Event()
        key = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._seq > after and self._jpeg is not None:
                return self._seq, self._jpeg
            self._waiters.add(key)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(key)
        with self._lock:
            if self._seq > after and self._jpeg is not None and not self.closed:
                return self._seq, self._jpeg
            return after, None

    def close(self) -> None:
        self.closed = True
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)
