"""The capture thread: reads a source continuously into the newest-frame slot.

Files and the demo clip are paced at their native frame rate, so they stand in for a
camera. Only frames the worker will take are converted to BGR (colour-converted,
resized), and files are read in short batches while the worker is busy: dropped frames,
and wake-ups that would preempt the engine's threads, cost as little as possible.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import cv2

from rtstyle.live.slot import Frame, NewestSlot
from rtstyle.live.sources import Source

BATCH_S = 0.25  # files: while the worker is busy, grab due frames this often, not each one


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
