"""The live pipeline's lifecycle: source -> capture thread -> worker -> sinks.

Three threads, each doing one thing: the capture thread keeps only the newest frame
(live.slot.NewestSlot), the inference worker stylises whatever is newest when it is free,
and the caller's thread (the main thread, which OpenCV's highgui needs) fans each
stylised frame out to the sinks and polls the controllers for actions. Style switches
load the next engine in the background (live.switcher), so output never waits for a
model to load. Stats, HUD text, actions and outputs live in modules of their own.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from rtstyle.engines.base import Engine
from rtstyle.live.capture import CaptureThread
from rtstyle.live.controls import Actions, Controls
from rtstyle.live.hud import Notices, hud_lines
from rtstyle.live.instant import Handover
from rtstyle.live.menu import StyleMenu
from rtstyle.live.slot import NewestSlot
from rtstyle.live.sources import Source
from rtstyle.live.stats import RunStats
from rtstyle.live.switcher import EngineLoader, EngineSwitcher
from rtstyle.live.worker import InferWorker, Output
from rtstyle.sinks.base import Sink
from rtstyle.sinks.recording import Recorder
from rtstyle.sinks.screenshot import Screenshots

POLL_S = 0.004  # how often controllers (window keys) are polled while no frame comes


class Controller(Protocol):
    """Anything that hands the pipeline action names: window keys, a web page's queue."""

    def poll(self) -> str | None: ...


class Pipeline:
    """Runs source -> engine -> sinks until the source ends, `max_frames` frames are
    processed, a controller quits, or something fails. Use as a context manager: leaving
    it always stops the threads, releases the camera and closes every sink."""

    def __init__(self, source: Source, menu: StyleMenu, engine: Engine, *, load: EngineLoader,
                 size: tuple[int, int], controls: Controls, sinks: Sequence[Sink] = (),
                 controllers: Sequence[Controller] = (), loop: bool = False,
                 max_frames: int | None = None, reconnect_timeout: float = 10.0,
                 stall_timeout: float = 60.0, record_to: Path | None = None,
                 output_dir: Path = Path("."), stabilize: bool = False,
                 instant: dict[str, Any] | None = None, log: Callable[[str], None] = print):
        """instant: options of live.instant.Handover (seconds, steps) for the `i` key;
        {"start": True} in it starts training the first painting at once."""
        self.source, self.menu, self.size, self.controls = source, menu, size, controls
        self.notices = Notices(log)
        self.counts = RunStats()
        self.frames, self.outputs = NewestSlot(), NewestSlot()
        self.switcher = EngineSwitcher(menu.current()[0], engine, load, (size[1], size[0]),
                                       self.notices)
        self.capture = CaptureThread(source, self.frames, size, loop, reconnect_timeout,
                                     self.notices)
        self.worker = InferWorker(self.frames, self.outputs, self.switcher, controls,
                                  max_frames, stabilize)
        self.recorder = Recorder(record_to, output_dir, self.notices)
        self.screenshots = Screenshots(output_dir, self.notices)
        self.actions = Actions(controls, menu, self.switcher, self.notices,
                               self.counts.switch_started, self.recorder, self.screenshots)
        options = dict(instant or {})
        self.start_instant = options.pop("start", False)
        self.handover = Handover(menu, self.actions, self.notices, self.worker.last_input,
                                 **options)
        self.actions.handover = self.handover
        # Recording first: a recording that cannot start stops everything before any
        # thread runs.
        self.sinks: list[Sink] = [self.recorder, self.screenshots, *sinks]
        self.controllers = list(controllers)
        self.last: Output | None = None
        self.stopped = False
        self.stall_timeout = stall_timeout  # a frame taking longer than this is a hung engine
        self.stalled: str | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Pipeline:
        opened: list[Sink] = []
        try:
            for sink in self.sinks:
                sink.open(self.size, self.source.fps)
                opened.append(sink)
        except BaseException:
            for sink in opened:
                sink.close()
            raise
        self.counts = RunStats()  # the run starts now, not when it was set up
        self.actions.on_switch = self.counts.switch_started
        self.capture.start()
        self.worker.start()
        if self.start_instant:
            self.handover.start_when_framed()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop capture first, then the worker, so every captured frame ends up counted
        as processed or dropped; then close the sinks and the engines."""
        if self.stopped:
            return
        self.stopped = True
        self.capture.stop()
        self.capture.join(timeout=7.0)  # a blocked read gives up after READ_TIMEOUT_MS
        self.worker.stop()
        self.worker.join(timeout=1.0 if self.stalled else 60.0)
        self.frames.discard()
        if not self.capture.is_alive():
            self.source.release()
        self.handover.close()
        try:
            for sink in self.sinks:
                sink.close()
        finally:
            self.switcher.close()

    def release(self) -> None:
        """After leaving the context (or failing to enter it): close every sink and let go
        of the source unless the capture thread still holds it."""
        for sink in self.sinks:
            sink.close()
        if not self.capture.is_alive():
            self.source.release()

    @property
    def error(self) -> str | None:
        return self.capture.error or self.worker.error or self.stalled

    def check_stall(self) -> bool:
        """True (and `error` says so) when the engine has been on one frame for longer than
        `stall_timeout` plus 20 frame times: never wait forever on a hung backend."""
        since = self.worker.busy_since
        limit = self.stall_timeout + 20 * self.worker.frame_s
        if since is not None and time.monotonic() - since > limit:
            self.stalled = (f"the engine has not returned a frame for {limit:.0f} s; it may "
                            "be stuck: try another --backend")
        return self.stalled is not None

    def next_output(self, timeout: float) -> Output | None:
        """The newest stylised frame, or None if none came within `timeout`."""
        return self.outputs.take(timeout)

    @property
    def finished(self) -> bool:
        """Nothing more will come: the worker has stopped and its output was taken."""
        return self.outputs.closed and not self.worker.is_alive()

    def deliver(self, out: Output) -> None:
        """Fan a stylised frame out to every sink, and count it."""
        self.last = out
        for sink in self.sinks:
            sink.write(out.image, out.t_capture)
        done = self.counts.frame_shown(out.style, out.t_capture)
        if done:
            self.notices(done)

    def handle(self, action: str) -> bool:
        """Apply an action by name (see live.controls.Actions); False means quit."""
        return self.actions.apply(action)

    def hud_lines(self) -> list[str]:
        return hud_lines(self)

    def stats(self) -> dict[str, Any]:
        """Counts and timings of the run; processed + dropped == captured."""
        w = self.worker
        return {
            "source": self.source.description,
            "size": f"{self.size[0]}x{self.size[1]}",
            "style": self.last.style if self.last else self.menu.current()[0],
            "backend": self.last.backend if self.last else None,
            "frames_captured": self.capture.captured,
            "frames_processed": w.processed,
            # A frame still in a hung engine's hands is lost too.
            "frames_dropped": (self.frames.dropped + self.capture.skipped + w.failed
                               + (self.stalled is not None)),
            "fps_engine": w.engine_frames / w.engine_s if w.engine_s > 0 else None,
            "reconnects": self.capture.reconnects,
            "controls": dataclasses.asdict(self.controls),
            "recordings": [{"path": p, "frames": n} for p, n in self.recorder.recorded],
            **self.counts.summary(),
            "error": self.error,
        }

    # -- the main loop -------------------------------------------------------------------
    def run(self) -> None:
        """Deliver frames and apply controllers' actions until done. With no controllers
        this is the headless loop."""
        while True:
            # Wakes as soon as a frame is ready, and polls the controllers every few ms:
            # highgui keeps only the last key pressed between two polls, so a slow poll
            # loses quick presses (5 quick `+` must move the strength 5 steps).
            out = self.next_output(timeout=POLL_S if self.controllers else 0.5)
            self.handover.poll()
            if out is not None:
                self.deliver(out)
            elif self.finished or self.check_stall():
                return
            for controller in self.controllers:
                action = controller.poll()
                if action is not None and not self.handle(action):
                    return
