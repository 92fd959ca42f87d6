"""The server-side source behind /stream.mjpg: the webcam's own live pipeline, run on a
thread of its own with the MJPEG sink as its output.

It is `rtstyle webcam --loop` with no window: the same capture, frame step, controls
and engine switching (rtstyle.live), so a camera, file or URL behaves here as there.
"""

from __future__ import annotations

import threading

from rtstyle.engines.swap import Budget
from rtstyle.live import ActionQueue, LiveRun, StyleMenu, open_live
from rtstyle.sinks.mjpeg import MjpegSink


class Broadcast:
    """Stylise `source` with `style` for every /stream.mjpg viewer."""

    def __init__(self, source: str, style: str, size: tuple[int, int] | None = None,
                 stabilize: bool = False, backend: str = "auto", threads: int | None = None,
                 swap: Budget | None = None) -> None:
        self.sink = MjpegSink()
        self._quit = ActionQueue()
        # A bad --source or style fails here, at start, with a one-line error.
        self.pipeline = open_live(LiveRun(
            menu=StyleMenu([(style, style)]), source=source, size=size, backend=backend,
            threads=threads, swap=swap, loop=True, stabilize=stabilize,
            make_sinks=lambda source, hud: [self.sink], controllers=[self._quit]))
        self._thread = threading.Thread(target=self._run, name="rtstyle-broadcast",
                                        daemon=True)

    @property
    def controls(self):
        return self.pipeline.controls

    @property
    def showing(self) -> str | None:
        """What the stream shows, named as the clients' styles are (a menu id)."""
        last = self.pipeline.last
        if last is None:
            return None
        return last.style if last.style.startswith("original") else f"style:{last.style}"

    def _run(self) -> None:
        try:
            with self.pipeline:
                self.pipeline.run()
        finally:
            self.pipeline.release()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._quit.put("quit")
        self._thread.join(60)
        self.sink.close()
