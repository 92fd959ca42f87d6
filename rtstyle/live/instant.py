"""The live hand-over: style-swap shows a painting at once while `--instant` trains a
lite net for it in the background; the caller switches to the net when it is ready.

Training runs in its own process (spawned, so no thread or lock of the live run is
copied) at a lower priority (os.nice) with one torch thread, so the camera loop and
other clients keep their cores; progress comes back over a queue that `poll` drains
without blocking. The net trains on the live frame the user is looking at (random crops
of it) plus the package's sample photo.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from rtstyle.images import write_image

NICE = 10  # lower priority than the live loop
THREADS = 1  # torch threads for training: leave the other cores to the engine
SAMPLE_PHOTO = Path(__file__).resolve().parents[1] / "builtin" / "sample_photo.jpg"


def instant_name(painting: Path) -> str:
    """The user style an instant run of `painting` registers: `<stem>-instant`."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(painting).stem).lstrip("._-") or "painting"
    return f"{stem[:48]}-instant"


def _train(painting: str, data: str, name: str, seconds: float, steps: int,
           out: mp.Queue) -> None:
    """The child process: train, reporting ("progress", fraction, seconds left), then
    ("done", name) or ("error", one line)."""
    os.nice(NICE)
    import torch

    from rtstyle.errors import RtstyleError
    from rtstyle.train.instant import train_instant

    torch.set_num_threads(THREADS)
    try:
        result = train_instant(Path(painting), Path(data), name, seconds, bar=False,
                               steps=steps, on_progress=lambda f, s: out.put(("progress", f, s)))
        out.put(("error", "stopped") if result.interrupted else ("done", name))
    except RtstyleError as e:
        out.put(("error", str(e)))
    except Exception as e:  # the live run goes on with swap; say why in one line
        out.put(("error", f"{type(e).__name__}: {e}".splitlines()[0]))


class InstantJob:
    """One background `--instant` training; `poll()` updates `fraction`, `seconds_left`,
    `ready` (the style name, once registered) and `error`."""

    def __init__(self, painting: Path, photos: list[np.ndarray], seconds: float | None = None,
                 steps: int = 10**6, name: str | None = None):
        from rtstyle.train.instant import INSTANT_SECONDS

        self.painting, self.name = Path(painting), name or instant_name(painting)
        self.seconds = INSTANT_SECONDS if seconds is None else seconds
        self.fraction, self.seconds_left = 0.0, self.seconds
        self.ready: str | None = None
        self.error: str | None = None
        self.started = time.monotonic()
        self._data = Path(tempfile.mkdtemp(prefix="rtstyle-instant-"))
        for i, photo in enumerate(photos):
            write_image(self._data / f"frame_{i}.png", photo)
        shutil.copyfile(SAMPLE_PHOTO, self._data / SAMPLE_PHOTO.name)
        ctx = mp.get_context("spawn")
        self._queue: mp.Queue = ctx.Queue()
        self._process = ctx.Process(
            target=_train, name="rtstyle-instant", daemon=True,
            args=(str(self.painting), str(self._data), self.name, self.seconds, steps,
                  self._queue))
        self._process.start()

    @property
    def running(self) -> bool:
        return self.ready is None and self.error is None

    def poll(self) -> None:
        """Take every message that has come; never blocks."""
        while self.running:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                if not self._process.is_alive() and self._queue.empty():
                    self.error = f"training ended without a result (exit {self._process.exitcode})"
                break
            if msg[0] == "progress":
                self.fraction, self.seconds_left = msg[1], msg[2]
            elif msg[0] == "done":
                self.ready, self.fraction = msg[1], 1.0
            else:
                self.error = msg[1]
        if not self.running:
            self._cleanup()

    def state(self) -> dict:
        """For the serve page: the line, how far, and the style once it is ready."""
        return {"status": self.status(), "fraction": round(self.fraction, 3),
                "ready": self.ready, "error": self.error}

    def status(self) -> str:
        """One line for the HUD or the page."""
        if self.ready:
            return f"{self.name} ready"
        if self.error:
            return f"{self.name} failed: {self.error}"
        return f"training {self.name}: {self.fraction:.0%}, {self.seconds_left:.0f} s left"

    def cancel(self) -> None:
        if not self.running:
            return
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=10)
        self.error = "cancelled"
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self._data, ignore_errors=True)


class Handover:
    """The webcam's side: `start` trains the painting on screen, `poll` (once a loop)
    adds the finished net to the menu and switches to it; `status` is the HUD line."""

    def __init__(self, menu, actions, notify, frame, seconds: float | None = None,
                 steps: int = 10**6):
        self.menu, self.actions, self.notify, self.frame = menu, actions, notify, frame
        self.seconds, self.steps = seconds, steps
        self.job: InstantJob | None = None
        self.pending = False  # start once the first frame has come (--instant at start)

    def start_when_framed(self) -> None:
        self.pending = True

    def start(self) -> None:
        """Train the current painting (the `i` key); the latest press wins."""
        label, spec = self.menu.current()
        if self.menu.family != "paintings":
            self.notify("i trains the style-swap painting on screen; Tab to a painting first")
            return
        frame = self.frame()
        if self.job is not None and self.job.running:
            self.job.cancel()
        self.job = InstantJob(Path(spec), [] if frame is None else [frame], self.seconds,
                              self.steps)
        self.notify(f"training a real-time net for {label} in the background")

    def poll(self) -> None:
        if self.pending and self.frame() is not None:
            self.pending = False
            self.start()
        job = self.job
        if job is None or not job.running:
            return
        job.poll()
        if job.ready:
            self.menu.nets = [c for c in self.menu.nets if c[0] != job.ready]
            self.menu.nets.append((job.ready, job.ready))
            self.notify(f"{job.ready} is ready: switching from swap to the real-time net")
            self.actions.choose(job.ready)
        elif job.error:
            self.notify(job.status())

    def status(self) -> str | None:
        return self.job.status() if self.job is not None and self.job.running else None

    def close(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
