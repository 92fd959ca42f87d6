"""Recordings of what is shown: a sink that the record action starts and stops.

Each recording is a constant-rate video written in real time: a frame is repeated until
the next one's capture time, so the file plays at the speed things happened however slow
stylisation was. MP4/MOV are written fragmented under their final name, so even a killed
run leaves a playable file; other containers appear when closed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from rtstyle.errors import RtstyleError
from rtstyle.sinks.base import Sink
from rtstyle.video.encode import VideoFileWriter


class Recording:
    """One file being written."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
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


class Recorder(Sink):
    """Records while on. `first` (--record) starts at open and must work; later
    recordings (the r key) get numbered names in `output_dir` and only notify on failure."""

    name = "record"

    def __init__(self, first: Path | None, output_dir: Path,
                 notify: Callable[[str], None] = lambda m: None):
        self.first, self.notify = first, notify
        self._names = self._numbered(first, output_dir)
        self.recording: Recording | None = None
        self.recorded: list[tuple[str, int]] = []  # (path, frames) of finished recordings
        self.size: tuple[int, int] | None = None
        self.fps = 30.0

    @staticmethod
    def _numbered(first: Path | None, output_dir: Path) -> Iterator[Path]:
        """Recording file names: --record's name first, then numbered siblings."""
        base = first or output_dir / f"rtstyle-{time.strftime('%Y%m%d-%H%M%S')}.mp4"
        yield base
        for i in itertools.count(2):
            yield base.with_name(f"{base.stem}-{i}{base.suffix}")

    def open(self, size: tuple[int, int], fps: float) -> None:
        self.size, self.fps = size, fps
        if self.first is not None:  # asked for on the command line: fail now if it cannot
            self.toggle()

    def toggle(self) -> None:
        if self.recording is not None:
            self.finish()
            return
        path = next(self._names)
        try:
            self.recording = Recording(path, self.fps, self.size)
        except RtstyleError as e:
            if self.first is not None and not self.recorded:
                raise  # the recording asked for on the command line cannot start
            self.notify(f"cannot record: {e}")
            return
        self.notify(f"recording to {path}")

    def write(self, frame: np.ndarray, capture_time: float) -> None:
        if self.recording is not None:
            self.recording.add(frame, capture_time)

    def seconds(self) -> float | None:
        """Length of the recording in progress, for the HUD; None when not recording."""
        rec = self.recording
        return rec.frames / rec.fps if rec is not None else None

    def finish(self) -> None:
        rec, self.recording = self.recording, None
        if rec is None:
            return
        if rec.frames == 0:
            rec.writer.abort()
            self.notify(f"nothing was recorded to {rec.path}")
            return
        rec.writer.close()
        self.recorded.append((str(rec.path), rec.frames))
        self.notify(f"recorded {rec.frames} frames ({rec.frames / rec.fps:.1f} s) "
                    f"to {rec.path}")

    def close(self) -> None:
        self.finish()
