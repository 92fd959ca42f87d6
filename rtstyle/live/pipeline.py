"""The real-time pipeline: capture thread -> inference worker -> display / recording.

Three threads, each doing one thing: the capture thread keeps only the newest frame
(capture.NewestSlot), the inference worker stylises whatever is newest when it is free,
and the caller's thread (the main thread, which OpenCV's highgui needs) shows, records
and handles keys. Style switches load the next engine in the background and swap it in
between two frames, so the display never waits for a model to load.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rtstyle.engines.adjust import adjust
from rtstyle.engines.base import Engine
from rtstyle.errors import RtstyleError
from rtstyle.live.capture import CaptureThread
from rtstyle.live.slot import Frame, NewestSlot
from rtstyle.live.sources import Source

# Opens an engine for a style spec (name, model file or painting) with the run's backend,
# threads and style-swap budget: `functools.partial(open_engine, backend=..., ...)`.
EngineLoader = Callable[[str | Path], Engine]

STRENGTH_STEP = 0.1
ENGINE_CACHE = 4  # loaded engines kept, so switching back is instant
NOTICE_S = 3.0  # how long a status message stays in the HUD


@dataclass
class Controls:
    """What the user changes while it runs: the main thread writes, the worker reads."""

    strength: float = 1.0
    preserve_colors: bool = False
    mirror: bool = False
    stylise: bool = True


@dataclass
class Output:
    """One stylised frame on its way to the window and the recording."""

    image: np.ndarray
    index: int  # the capture sequence number of the frame it came from
    t_capture: float
    style: str
    backend: str


@dataclass
class StyleMenu:
    """The styles a key cycles through, in two families: transform nets (catalogue
    names or model files) and style-swap paintings. `label -> spec for open_engine`."""

    nets: list[tuple[str, str | Path]]
    paintings: list[tuple[str, str | Path]] = field(default_factory=list)
    family: str = "nets"
    index: int = 0

    def current(self) -> tuple[str, str | Path]:
        return self._items()[self.index]

    def _items(self) -> list[tuple[str, str | Path]]:
        return self.nets if self.family == "nets" else self.paintings

    def step(self, delta: int) -> tuple[str, str | Path] | None:
        """Move to the next/previous style in the family; None when there is no other."""
        items = self._items()
        if len(items) < 2:
            return None
        self.index = (self.index + delta) % len(items)
        return items[self.index]

    def toggle_family(self) -> tuple[str, str | Path] | None:
        """Switch between transform nets and paintings; None when the other is empty."""
        other = "paintings" if self.family == "nets" else "nets"
        if not getattr(self, other):
            return None
        self.family, self.index = other, 0
        return self.current()


class EngineSwitcher:
    """The engine the worker runs, plus the next one, loaded and warmed up in a
    background thread and handed over between two frames."""

    def __init__(self, label: str, engine: Engine, load: EngineLoader,
                 frame_hw: tuple[int, int], notify: Callable[[str], None]):
        self.load, self.frame_hw, self.notify = load, frame_hw, notify
        self._lock = threading.Lock()
        self._active = (label, engine)
        self._cache: OrderedDict[str, Engine] = OrderedDict({label: engine})
        self._wanted: tuple[str, str | Path] | None = None
        self._loader: threading.Thread | None = None
        self.loading: str | None = None  # label being loaded, for the HUD

    def request(self, label: str, spec: str | Path) -> None:
        """Switch to `label` as soon as it is loaded; the latest request wins."""
        with self._lock:
            self._wanted = (label, spec)
            if label in self._cache:
                self._cache.move_to_end(label)
                return
            if self._loader is None:
                self._start_loader()

    def _start_loader(self) -> None:
        self.loading = self._wanted[0]
        self._loader = threading.Thread(target=self._load, args=self._wanted,
                                        name="rtstyle-loader", daemon=True)
        self._loader.start()

    def _load(self, label: str, spec: str | Path) -> None:
        t0 = time.monotonic()
        engine = None
        try:
            engine = self.load(spec)
            engine.warmup(*self.frame_hw, runs=1)
        except (RtstyleError, ImportError, OSError, RuntimeError, ValueError) as e:
            self.notify(f"cannot load {label}: {e}")
        with self._lock:
            if engine is not None:
                self._cache[label] = engine
                while len(self._cache) > ENGINE_CACHE:  # the worker may still hold an
                    self._cache.popitem(last=False)  # evicted one; GC frees it after
                self.notify(f"{label} ready in {time.monotonic() - t0:.1f} s")
            elif self._wanted and self._wanted[0] == label:
                self._wanted = None
            self._loader, self.loading = None, None
            if self._wanted and self._wanted[0] not in self._cache:
                self._start_loader()

    def current(self) -> tuple[str, Engine]:
        """The (label, engine) to run now; takes over a requested engine once it is ready."""
        with self._lock:
            if self._wanted and self._wanted[0] in self._cache:
                label = self._wanted[0]
                self._active, self._wanted = (label, self._cache[label]), None
            return self._active

    def close(self) -> None:
        if self._loader is not None:
            self._loader.join(timeout=30)
        for engine in self._cache.values():
            engine.close()
        self._cache.clear()


class InferWorker(threading.Thread):
    """Takes the newest frame, stylises it with the switcher's engine, applies the
    controls (mirror, strength, colours) and offers the result, newest only."""

    def __init__(self, frames: NewestSlot, outputs: NewestSlot, switcher: EngineSwitcher,
                 controls: Controls, max_frames: int | None = None):
        super().__init__(name="rtstyle-infer", daemon=True)
        self.frames, self.outputs = frames, outputs
        self.switcher, self.controls = switcher, controls
        self.max_frames = max_frames
        self.stopping = threading.Event()
        self.processed = 0
        self.failed = 0  # taken but not finished because of an error (counted as dropped)
        self.engine_s = 0.0  # time inside engine.run, for engine-only FPS
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
        label, engine = self.switcher.current()
        if c.stylise:
            t0 = time.perf_counter()
            styled = engine.run(image[None])[0]
            self.engine_s += time.perf_counter() - t0
            self.engine_frames += 1
            image = adjust(image, styled, c.strength, c.preserve_colors)
            return Output(image, frame.index, frame.t_capture, label, engine.backend)
        return Output(image, frame.index, frame.t_capture, "original", "-")


class Recording:
    """Writes shown frames to a constant-rate video in real time: each frame is repeated
    until the next one's capture time, so the file plays at the speed things happened
    however slow stylisation was. MP4/MOV are written fragmented under their final name,
    so even a killed run leaves a playable file; other containers appear when closed."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        from rtstyle.video.encode import VideoFileWriter

        fragmented = path.suffix.lower() in (".mp4", ".m4v", ".mov")
        self.path, self.fps = path, fps
        self.writer = VideoFileWriter(path, fps, size, crf=20, preset="veryfast",
                                      fragmented=fragmented, atomic=not fragmented)
        self.t0: float | None = None

    def add(self, image: np.ndarray, t_capture: float) -> None:
        if self.t0 is None:
            self.t0 = t_capture
        due = round((t_capture - self.t0) * self.fps) + 1  # frames up to this one
        for _ in range(max(due - self.writer.frames_written, 0)):
            self.writer.write(image)

    @property
    def frames(self) -> int:
        return self.writer.frames_written

    def close(self) -> None:
        self.writer.close()


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


class Pipeline:
    """Runs source -> engine -> sinks until the source ends, `max_frames` frames are
    processed, the user quits, or something fails. Use as a context manager: leaving it
    always stops the threads, releases the camera and finalises the recording."""

    def __init__(self, source: Source, menu: StyleMenu, engine: Engine, *, load: EngineLoader,
                 size: tuple[int, int], controls: Controls,
                 loop: bool = False, max_frames: int | None = None,
                 reconnect_timeout: float = 10.0, stall_timeout: float = 60.0,
                 record_to: Path | None = None,
                 output_dir: Path = Path("."), log: Callable[[str], None] = print):
        self.source, self.menu, self.size, self.controls = source, menu, size, controls
        self.record_to, self.output_dir, self.log = record_to, output_dir, log
        self.notices: deque[tuple[float, str]] = deque(maxlen=3)
        self.frames, self.outputs = NewestSlot(), NewestSlot()
        self.switcher = EngineSwitcher(menu.current()[0], engine, load, (size[1], size[0]),
                                       self.notify)
        self.capture = CaptureThread(source, self.frames, size, loop, reconnect_timeout,
                                     self.notify)
        self.worker = InferWorker(self.frames, self.outputs, self.switcher, controls,
                                  max_frames)
        self.recording: Recording | None = None
        self.recorded: list[tuple[str, int]] = []  # (path, frames) of finished recordings
        self._record_names = self._names(record_to)
        self.shown_times: list[float] = []
        self.latencies_ms: list[float] = []
        self.last: Output | None = None
        # A key press -> the first frame shown in the new style (loading, encoding a
        # painting, warm-up and the frame itself): what a user waits for.
        self.switch_t0: float | None = None  # when the pending switch (to menu.current()) began
        self.switches: list[dict[str, Any]] = []
        self.t_start = time.monotonic()
        self.stopped = False
        self.stall_timeout = stall_timeout  # a frame taking longer than this is a hung engine
        self.stalled: str | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Pipeline:
        if self.record_to is not None:  # first, so a recording that cannot start stops
            self.toggle_recording()  # everything before any thread runs
        self.t_start = time.monotonic()
        self.capture.start()
        self.worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop capture first, then the worker, so every captured frame ends up counted
        as processed or dropped; then close the recording and the engines."""
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
        try:
            self._finish_recording()
        finally:
            self.switcher.close()

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
        """Record a frame that is being shown, and count it (call right after showing)."""
        now = time.monotonic()
        if self.recording is not None:
            self.recording.add(out.image, out.t_capture)
        self.shown_times.append(now)
        self.latencies_ms.append((now - out.t_capture) * 1000.0)
        self.last = out
        if self.switch_t0 is not None and out.style == self.menu.current()[0]:
            label, t0 = out.style, self.switch_t0
            self.switches.append({"to": label, "seconds": round(now - t0, 3)})
            self.switch_t0 = None
            self.notify(f"switched to {label} in {now - t0:.2f} s")

    # -- user actions --------------------------------------------------------------------
    def notify(self, message: str) -> None:
        self.notices.append((time.monotonic(), message))
        self.log(message)

    def switch(self, choice: tuple[str, str | Path] | None, why_not: str) -> None:
        if choice is None:
            self.notify(why_not)
        else:
            self.switch_t0 = time.monotonic()
            self.switcher.request(*choice)

    def handle(self, action: str) -> bool:
        """Apply a hot-key action; False means quit."""
        c = self.controls
        if action == "quit":
            return False
        if action in ("next", "previous"):
            self.switch(self.menu.step(1 if action == "next" else -1),
                        "no other style in this family; add some with `rtstyle styles import`")
        elif action == "family":
            self.switch(self.menu.toggle_family(),
                        "no style-swap paintings; start with --style-dir DIR or --style-image")
        elif action == "original":
            c.stylise = not c.stylise
        elif action in ("stronger", "weaker"):
            step = STRENGTH_STEP if action == "stronger" else -STRENGTH_STEP
            c.strength = round(min(1.0, max(0.0, c.strength + step)), 2)
        elif action == "mirror":
            c.mirror = not c.mirror
        elif action == "screenshot":
            self.screenshot()
        elif action == "record":
            self.toggle_recording()
        return True

    def screenshot(self) -> Path | None:
        """Save the frame on screen (without the HUD) as PNG, atomically."""
        from rtstyle.images import write_image

        if self.last is None:
            self.notify("nothing to save yet")
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = next(p for i in itertools.count(1)
                    if not (p := self.output_dir / f"rtstyle-{stamp}-{i}.png").exists())
        try:
            write_image(path, self.last.image)
        except RtstyleError as e:
            self.notify(f"screenshot failed: {e}")
            return None
        self.notify(f"saved {path}")
        return path

    def _names(self, first: Path | None):
        """Recording file names: --record's name first, then numbered siblings."""
        base = first or self.output_dir / f"rtstyle-{time.strftime('%Y%m%d-%H%M%S')}.mp4"
        yield base
        for i in itertools.count(2):
            yield base.with_name(f"{base.stem}-{i}{base.suffix}")

    def toggle_recording(self) -> None:
        if self.recording is not None:
            self._finish_recording()
            return
        path = next(self._record_names)
        try:
            self.recording = Recording(path, self.source.fps, self.size)
        except RtstyleError as e:
            if self.record_to is not None and not self.recorded:
                raise  # the recording asked for on the command line cannot start: fail now
            self.notify(f"cannot record: {e}")
            return
        self.notify(f"recording to {path}")

    def _finish_recording(self) -> None:
        rec, self.recording = self.recording, None
        if rec is None:
            return
        if rec.frames == 0:
            rec.writer.abort()
            self.notify(f"nothing was recorded to {rec.path}")
            return
        rec.close()
        self.recorded.append((str(rec.path), rec.frames))
        self.notify(f"recorded {rec.frames} frames ({rec.frames / rec.fps:.1f} s) "
                    f"to {rec.path}")

    # -- reporting -----------------------------------------------------------------------
    def hud_lines(self) -> list[str]:
        """What the HUD shows: style, engine, FPS, latency, controls, recent notices."""
        c, out = self.controls, self.last
        if out is None or not c.stylise:
            lines = [f"{self.menu.current()[0]}" + ("" if c.stylise else "  (showing original)")]
        else:
            lines = [f"{out.style}  [{out.backend}]"]
        lines.append(f"{self.recent_fps():5.1f} FPS   latency {self.recent_latency():4.0f} ms")
        lines.append(f"strength {c.strength:.1f}" + ("  colours kept" if c.preserve_colors
                                                     else "") + ("  mirror" if c.mirror else ""))
        if self.switcher.loading:
            lines.append(f"loading {self.switcher.loading}...")
        if self.recording is not None:
            lines.append(f"REC {self.recording.frames / self.recording.fps:.0f} s")
        now = time.monotonic()
        lines += [m for t, m in self.notices if now - t < NOTICE_S]
        return lines

    def recent_fps(self, frames: int = 10) -> float:
        recent = self.shown_times[-frames:]
        return (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 else 0.0

    def recent_latency(self) -> float:
        return float(np.median(self.latencies_ms[-15:])) if self.latencies_ms else 0.0

    def stats(self) -> dict[str, Any]:
        """Counts and timings of the run; processed + dropped == captured."""
        shown = len(self.shown_times)
        span = self.shown_times[-1] - self.shown_times[0] if shown > 1 else 0.0
        w = self.worker
        return {
            "source": self.source.description,
            "size": f"{self.size[0]}x{self.size[1]}",
            "style": self.last.style if self.last else self.menu.current()[0],
            "backend": self.last.backend if self.last else None,
            "frames_captured": self.capture.captured,
            "frames_processed": w.processed,
            "frames_shown": shown,
            # A frame still in a hung engine's hands is lost too.
            "frames_dropped": (self.frames.dropped + self.capture.skipped + w.failed
                               + (self.stalled is not None)),
            "fps_end_to_end": (shown - 1) / span if span > 0 else None,
            "fps_engine": w.engine_frames / w.engine_s if w.engine_s > 0 else None,
            "latency_ms_p50": percentile(self.latencies_ms, 50),
            "latency_ms_p95": percentile(self.latencies_ms, 95),
            "duration_s": time.monotonic() - self.t_start,
            "reconnects": self.capture.reconnects,
            "recordings": [{"path": p, "frames": n} for p, n in self.recorded],
            "switches": self.switches,
            "error": self.error,
        }

    # -- the main loop -------------------------------------------------------------------
    def run(self, window: Any = None) -> None:
        """Show / record until done. `window` (sinks.window.Window) adds display and keys;
        without it this is the headless loop."""
        show_hud, show_help = True, False
        while True:
            # Wakes as soon as a frame is ready; otherwise pumps the GUI ~30 times a second.
            out = self.next_output(timeout=0.03 if window else 0.5)
            if out is not None:
                self.last = out
                if window is not None:
                    window.show(out.image, self.hud_lines() if show_hud else None, show_help)
                self.deliver(out)
            elif self.finished or self.check_stall():
                return
            if window is None:
                continue
            action = window.poll()
            if action == "hud":
                show_hud = not show_hud
            elif action == "help":
                show_help = not show_help
            elif action is not None and not self.handle(action):
                return
            if action in ("hud", "help") and self.last is not None:  # redraw at once
                window.show(self.last.image, self.hud_lines() if show_hud else None, show_help)
