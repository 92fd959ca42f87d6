"""The server-side source behind /stream.mjpg: capture -> worker -> MJPEG sink.

The capture thread and slot are the webcam's own (rtstyle.live), so a camera, file or URL
behaves here as it does in `rtstyle webcam`; files loop.
"""

from __future__ import annotations

from rtstyle.live.capture import CaptureThread
from rtstyle.live.sources import open_source
from rtstyle.serve.pool import EnginePool
from rtstyle.serve.worker import Controls, FrameWorker
from rtstyle.sinks.mjpeg import MjpegSink


class Broadcast:
    """Stylise `source` with `style_key` for every /stream.mjpg viewer."""

    def __init__(self, source: str, pool: EnginePool, style_key: str, style_spec,
                 size: tuple[int, int] | None = None, stabilize: bool = False) -> None:
        self.sink = MjpegSink()
        self.pool, self.style_key = pool, style_key
        self.source = open_source(source, size)  # a bad --source fails here, at start
        self.controls = Controls(style_key)
        pool.acquire(style_key, style_spec)
        self.worker = FrameWorker(pool, self.controls, self._deliver, stabilize)
        self.capture = CaptureThread(self.source, self.worker.slot, size, loop=True)
        self.sink.open(size or (0, 0), self.source.fps)

    def _deliver(self, frame, capture_time: float) -> None:
        self.sink.write(frame, capture_time)

    def start(self) -> None:
        self.worker.start()
        self.capture.start()

    def stop(self) -> None:
        self.capture.stop()
        self.worker.stop()
        self.capture.join(2)
        self.worker.join(5)
        self.sink.close()
        self.pool.release(self.style_key)
