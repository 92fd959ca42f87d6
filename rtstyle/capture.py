"""Frame sources (camera, video file, URL, demo clip) and the capture thread.

The capture thread reads continuously and hands frames over through `NewestSlot`, which
holds only the newest one: when inference is slower than the source, old frames are
dropped (and counted), never queued, so what the user sees is always as fresh as possible.
Files and the demo clip are paced at their native frame rate, so they stand in for a camera.
Only frames the worker will take are converted to BGR (colour-converted, resized), and
files are read in short batches while the worker is busy: dropped frames, and wake-ups
that would preempt the engine's threads, cost as little as possible.
"""

from __future__ import annotations

import glob
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rtstyle.errors import RtstyleError

DEFAULT_CAMERA_SIZE = (640, 480)
DEFAULT_FPS = 30.0  # for sources that do not say (many webcams report 0)
READ_TIMEOUT_MS = 5000  # a blocked camera/stream read gives up after this, so nothing hangs
BATCH_S = 0.25  # files: while the worker is busy, grab due frames this often, not each one
MIN_SIDE = 16


def parse_size(text: str) -> tuple[int, int]:
    """'640x480' -> (640, 480), or a one-line error."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise RtstyleError(f"--size '{text}' is not WIDTHxHEIGHT; use e.g. 640x480") from None
    if min(w, h) < MIN_SIDE:
        raise RtstyleError(f"--size {text} is too small; use at least {MIN_SIDE}x{MIN_SIDE}")
    return w, h


@dataclass
class Frame:
    image: np.ndarray  # uint8 BGR
    index: int  # capture sequence number, from 0
    t_capture: float  # time.monotonic() when it was read


class NewestSlot:
    """A one-item buffer between threads: `put` replaces what is held (counting it as
    dropped), `take` waits for an item and empties the slot. Never grows, never blocks `put`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._closed = False
        self.dropped = 0
        self._wanted_at = 0.0  # when the taker expects to want the next item; 0: now
        self._takers = 0  # threads waiting in take()

    def expect_taker_at(self, t: float) -> None:
        """The taker says when (time.monotonic()) it will next call `take`."""
        self._wanted_at = t

    def wanted_within(self, seconds: float) -> bool:
        """Will the taker want an item within `seconds`? Lets the producer skip the cost
        of preparing items that would only be replaced before anyone took them."""
        return self._wanted_at - time.monotonic() <= seconds

    def put(self, item: Any) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> Any:
        """The newest item, or None when the timeout passes or the slot is closed and empty."""
        self._wanted_at = 0.0
        with self._cond:
            self._takers += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            finally:
                self._takers -= 1
            item, self._item = self._item, None
            return item

    def wait_for_taker(self, timeout: float) -> bool:
        """Wait until someone is waiting in `take` on an empty slot; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (self._takers and self._item is None) or self._closed,
                timeout) and not self._closed

    def close(self) -> None:
        """No more items will come; wake anyone waiting."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def discard(self) -> None:
        """Drop whatever is still held (at shutdown), counting it."""
        with self._cond:
            if self._item is not None:
                self.dropped += 1
                self._item = None


class Source:
    """Something frames come from. `live` sources (cameras, streams) pace themselves;
    the others are played at `fps` by the capture thread."""

    description = "?"
    fps = DEFAULT_FPS
    live = True

    def grab(self) -> bool:
        """Advance to the next frame without converting it; False at the end of a file or
        when a live source fails."""
        raise NotImplementedError

    def retrieve(self) -> np.ndarray | None:
        """The grabbed frame as BGR (the costly part: decoding / colour conversion)."""
        raise NotImplementedError

    def read(self) -> np.ndarray | None:
        """The next BGR frame, or None at the end of a file or when a live source fails."""
        return self.retrieve() if self.grab() else None

    def reopen(self) -> bool:
        """Start again: reconnect a live source, rewind a file. True if it worked."""
        raise NotImplementedError

    def release(self) -> None:
        """Let go of the device or file; safe to call twice."""


def _quiet_opencv() -> Callable[[], None]:
    """Silence OpenCV's own warnings while probing backends; returns the undo."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    return lambda: cv2.utils.logging.setLogLevel(level)


def camera_backends() -> list[int]:
    """The camera APIs this OpenCV build really has, the platform's native one first."""
    native = {"linux": cv2.CAP_V4L2, "win32": cv2.CAP_MSMF, "darwin": cv2.CAP_AVFOUNDATION}
    apis = [a for a in cv2.videoio_registry.getCameraBackends()
            if cv2.videoio_registry.hasBackend(a)]
    first = native.get(sys.platform)
    return sorted(apis, key=lambda a: a != first)


def api_name(api: int) -> str:
    return cv2.videoio_registry.getBackendName(api)


class CaptureSource(Source):
    """A cv2.VideoCapture on a camera index, a video file or a stream URL."""

    def __init__(self, target: int | str, kind: str, apis: list[int],
                 size: tuple[int, int] | None):
        self.target, self.kind, self.apis, self.size = target, kind, apis, size
        self.description = {"camera": f"camera {target}", "file": f"file {target}",
                            "url": f"stream {target}"}[kind]
        self.cap: cv2.VideoCapture | None = None
        self.api_used = ""
        if not self._open():
            raise RtstyleError(self._open_error())
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps <= 240 else DEFAULT_FPS
        # A stream with a known length is a file served over the network: it ends, it does
        # not get "lost".
        self.live = kind == "camera" or (
            kind == "url" and self.cap.get(cv2.CAP_PROP_FRAME_COUNT) <= 0)

    def _open(self) -> bool:
        undo = _quiet_opencv()
        try:
            for api in self.apis:
                # Backends refuse to open with parameters they do not know, so only
                # FFmpeg gets the timeouts; camera sizes are requested after opening.
                params = ([cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, READ_TIMEOUT_MS,
                           cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
                          if api == cv2.CAP_FFMPEG else [])
                try:
                    cap = cv2.VideoCapture(self.target, api, params)
                except cv2.error:
                    continue
                if cap.isOpened():
                    if self.kind == "camera":  # unsupported settings are ignored
                        if self.size:
                            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
                            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
                        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fewer stale frames queued
                        cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS)
                    self.cap, self.api_used = cap, api_name(api)
                    return True
                cap.release()
            return False
        finally:
            undo()

    def _open_error(self) -> str:
        tried = ", ".join(api_name(a) for a in self.apis)
        if self.kind == "camera":
            return (f"cannot open camera {self.target} (tried OpenCV backends: {tried}); check "
                    "that it is connected and not in use, or use --source FILE or --demo")
        if self.kind == "file":
            return (f"cannot open {self.target} as a video (tried OpenCV backends: {tried}); "
                    "give a video file OpenCV can decode, e.g. .mp4 or .avi")
        return (f"cannot open stream {self.target} (tried OpenCV backends: {tried}); check "
                "the URL and that the server is up")

    def grab(self) -> bool:
        try:
            return self.cap is not None and self.cap.grab()
        except cv2.error:
            return False

    def retrieve(self) -> np.ndarray | None:
        try:
            ok, frame = self.cap.retrieve()
        except cv2.error:
            return None
        return frame if ok and frame is not None and frame.size else None

    def reopen(self) -> bool:
        if self.kind == "file" and self.cap is not None:
            if self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
                return True
        self.release()
        return self._open()

    def release(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


def video_devices() -> list[str]:
    """The camera device nodes on this machine (Linux); [] elsewhere or when there are none."""
    return sorted(glob.glob("/dev/video*"))


def open_source(spec: str | None, size: tuple[int, int] | None = None,
                demo: bool = False) -> Source:
    """Open `spec`: a camera index ('0'), '/dev/videoN', a video file or a URL.
    None means the default camera. `demo` gives the built-in generated clip instead."""
    if demo:
        from rtstyle.demo import DemoClip

        return DemoClip(size or DEFAULT_CAMERA_SIZE)
    spec = "0" if spec is None else spec
    if "://" in spec:
        return CaptureSource(spec, "url", [cv2.CAP_FFMPEG], size)
    device = spec.isdigit() or spec.startswith("/dev/video")
    if device:
        if sys.platform.startswith("linux") and not video_devices():
            raise RtstyleError("no camera found on this machine (no /dev/video* devices); "
                               "stylise a video as if it were a camera with --source FILE, "
                               "or try the built-in clip with --demo")
        if spec.startswith("/dev/video") and not Path(spec).exists():
            raise RtstyleError(f"camera {spec} does not exist; cameras here: "
                               + ", ".join(video_devices()))
        target: int | str = int(spec) if spec.isdigit() else spec
        return CaptureSource(target, "camera", camera_backends(), size or DEFAULT_CAMERA_SIZE)
    path = Path(spec)
    if not path.exists():
        raise RtstyleError(f"source {spec} does not exist; give a camera index (0), "
                           "/dev/videoN, a video file or a URL")
    if path.is_dir():
        raise RtstyleError(f"source {spec} is a folder; give a video file")
    return CaptureSource(str(path), "file", [cv2.CAP_FFMPEG, cv2.CAP_ANY], size)


class CaptureThread(threading.Thread):
    """Reads `source` into `slot` until stopped, the file ends, or a lost live source
    does not come back within `reconnect_timeout` seconds (then `error` says so).

    Frames are resized to `size` when given. `notify` receives one-line status messages
    (lost, reconnected) for the user. The source is always released when the thread ends.
    """

    def __init__(self, source: Source, slot: NewestSlot, size: tuple[int, int] | None = None,
                 loop: bool = False, reconnect_timeout: float = 10.0,
                 notify: Callable[[str], None] = lambda msg: None):
        super().__init__(name="rtstyle-capture", daemon=True)
        self.source, self.slot, self.size, self.loop = source, slot, size, loop
        self.reconnect_timeout, self.notify = reconnect_timeout, notify
        self.stopping = threading.Event()
        self.captured = 0
        self.skipped = 0  # grabbed but never converted: the consumer was busy (dropped)
        self.reconnects = 0
        self.error: str | None = None
        self.ended = False  # the source ran out (end of file), as opposed to being stopped

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        try:
            self._loop()
        except Exception as e:  # surfaced by the pipeline as a one-line error
            self.error = f"capture from {self.source.description} failed: {e}"
        finally:
            self.source.release()
            self.slot.close()

    def _loop(self) -> None:
        if self.source.live:
            self._follow()
        else:
            self._play()

    def _follow(self) -> None:
        """A live source paces itself: grab every frame as it arrives, so none go stale
        in the driver; convert only if the worker will want it before the next one."""
        period = 1.0 / self.source.fps
        while not self.stopping.is_set():
            if not self.source.grab():
                if not self._recover():
                    return
                continue
            held = (self.captured, time.monotonic())
            self.captured += 1
            if self.slot.wanted_within(1.5 * period):
                self._deliver(held)
            else:
                self.skipped += 1

    def _play(self) -> None:
        """Play a file (or the demo clip) on the clock: frame i is due at t0 + i/fps and
        is the newest frame until frame i+1 is due. While the worker is busy, due frames
        are grabbed in batches (fewer wake-ups to disturb the engine's threads); when it
        is about to want one, the thread catches up and hands over the newest."""
        period = 1.0 / self.source.fps
        t0 = time.monotonic()
        held: tuple[int, float] | None = None
        try:
            while not self.stopping.is_set():
                now = time.monotonic()
                behind = int((now - t0) / period) + 1 - self.captured
                if behind > self.source.fps:  # after a stall, restart the clock, not burst
                    t0 += (behind - 1) * period
                    behind = 1
                for _ in range(behind):
                    if held is not None:  # replaced before anyone wanted it
                        self.skipped, held = self.skipped + 1, None
                    if not self.source.grab():
                        if not self._recover():
                            return
                        t0 = time.monotonic() - self.captured * period
                        break
                    held = (self.captured, t0 + self.captured * period)
                    self.captured += 1
                if held is not None and self.slot.wanted_within(1.5 * period):
                    self._deliver(held)
                    held = None
                next_due = t0 + self.captured * period
                soon = self.slot.wanted_within(BATCH_S)
                delay = (next_due if soon else max(next_due, now + BATCH_S)) - time.monotonic()
                if delay <= 0:
                    continue
                if held is None:
                    self.stopping.wait(delay)
                else:  # a worker that starts waiting wakes us at once
                    self.slot.wait_for_taker(delay)
        finally:
            if held is not None:
                self.skipped += 1

    def _deliver(self, held: tuple[int, float]) -> None:
        """Convert the grabbed frame (decode, colour, resize) and offer it."""
        index, t_capture = held
        image = self.source.retrieve()
        if image is None:
            self.skipped += 1
            return
        if self.size and (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self.slot.put(Frame(image, index, t_capture))

    def _recover(self) -> bool:
        """After a failed read: rewind a looping file, reconnect a live source. False = stop."""
        src = self.source
        if not src.live:
            if self.loop and self.captured and src.reopen():
                return True
            self.ended = True
            return False
        self.notify(f"{src.description} lost; reconnecting for up to "
                    f"{self.reconnect_timeout:g} s")
        deadline = time.monotonic() + self.reconnect_timeout
        while not self.stopping.is_set() and time.monotonic() < deadline:
            if src.reopen() and src.grab():
                self.reconnects += 1
                self.notify(f"{src.description} is back")
                return True
            self.stopping.wait(0.5)
        if not self.stopping.is_set():
            self.error = (f"{src.description} was lost and did not come back within "
                          f"{self.reconnect_timeout:g} s")
        return False
