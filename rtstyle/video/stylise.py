"""Stylise one video file: decode, batched inference and encode overlap in three threads.

decode (ffmpeg pipe) --queue--> infer (engine batch, adjust, stabilise) --queue--> encode
(ffmpeg pipe). The queues are short, so memory stays flat and the slowest stage (the
net) sets the pace while the other two hide behind it. The output appears only when it
is complete; any failure or Ctrl-C removes the unfinished file.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rtstyle.engines.adjust import adjust
from rtstyle.engines.base import Engine
from rtstyle.errors import RtstyleError
from rtstyle.limits import MIN_SIDE
from rtstyle.video.decode import FrameReader
from rtstyle.video.encode import VideoFileWriter
from rtstyle.video.probe import VideoInfo, probe_video
from rtstyle.video.stabilize import Stabilizer

tqdm.monitor_interval = 0  # no tqdm monitor thread: every thread ends before we return
_END = object()  # end-of-stream marker passed down the queues


class VideoInterrupted(KeyboardInterrupt):
    """Ctrl-C during a video: says how far it got; nothing was written."""

    def __init__(self, path: Path, done: int, total: int) -> None:
        super().__init__(f"interrupted at frame {done} of {total} of {path}"
                         f" ({100 * done / max(1, total):.0f}%); no output was written")


@dataclass
class VideoResult:
    src: Path
    dst: Path
    size: tuple[int, int]
    frames: int
    skipped: int
    audio_streams: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        w, h = self.size
        text = (f"{self.src} -> {self.dst}: {self.frames} frames at {w}x{h} in "
                f"{self.seconds:.1f} s ({self.fps:.2f} fps)")
        if self.skipped:
            text += f", {self.skipped} undecodable frame{'s' * (self.skipped > 1)} skipped"
        if self.audio_streams:
            text += f", {self.audio_streams} audio stream{'s' * (self.audio_streams > 1)} kept"
        return text


def frame_size(width: int, height: int, max_size: int | None = None,
               size: tuple[int, int] | None = None) -> tuple[int, int]:
    """The working (and output) size: `size` as given, else downscaled so the longer
    side is at most `max_size` (never upscaled); sides rounded to even for 4:2:0 video."""
    if size is not None:
        w, h = size
    elif max_size and max(width, height) > max_size:
        scale = max_size / max(width, height)
        w, h = width * scale, height * scale
    else:
        w, h = width, height
    w, h = max(MIN_SIDE, 2 * round(w / 2)), max(MIN_SIDE, 2 * round(h / 2))
    return w, h


class _Stop(Exception):
    """Raised inside a stage when another stage failed or the user interrupted."""


def _put(q: queue.Queue, item: object, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event) -> object:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue


def stylise_video(engine: Engine, src: Path, dst: Path, *, max_size: int | None = None,
                  size: tuple[int, int] | None = None, start: float | None = None,
                  end: float | None = None, crf: int = 18, strength: float = 1.0,
                  keep_colors: bool = False, stabilize: bool = False, batch: int = 4,
                  progress: bool | None = None, info: VideoInfo | None = None) -> VideoResult:
    """Stylise `src` into `dst` with `engine`, keeping audio, frame count and timing.

    progress: show a progress bar (None: only on a terminal).
    info: `probe_video(src, start, end)`, if the caller already has it."""
    src, dst = Path(src), Path(dst)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise RtstyleError(f"output {dst} is the input; choose another output name")
    if batch < 1:
        raise RtstyleError(f"--batch {batch} must be at least 1")
    if info is None:
        info = probe_video(src, start, end)
    w, h = frame_size(info.width, info.height, max_size, size)
    timing = {} if info.is_constant_rate else {"timestamps": info.frame_times,
                                              "time_base": info.time_base}
    writer = VideoFileWriter(dst, info.fps, (w, h), crf, audio_from=src,
                             audio_codecs=info.audio_codecs, audio_start=start,
                             audio_end=end, low_priority=True, **timing)
    try:
        reader = FrameReader(src, (w, h), (info.width, info.height), start, end)
    except BaseException:
        writer.abort()
        raise
    stab = Stabilizer() if stabilize else None
    decoded: queue.Queue = queue.Queue(maxsize=2 * batch)
    styled: queue.Queue = queue.Queue(maxsize=2 * batch)
    stop = threading.Event()
    errors: list[BaseException] = []
    done = 0
    bar = tqdm(total=info.frames, unit="frame", desc=src.name, dynamic_ncols=True,
               disable=None if progress is None else not progress, smoothing=0.05)

    def stage(fn):
        def body() -> None:
            try:
                fn()
            except _Stop:
                pass
            except BaseException as e:  # noqa: BLE001 (handed to the main thread)
                errors.append(e)
                stop.set()
        return threading.Thread(target=body, name=fn.__name__, daemon=True)

    def decode() -> None:
        for frame in reader:
            _put(decoded, frame, stop)
        _put(decoded, _END, stop)

    def infer() -> None:
        ended = False
        while not ended:
            frames = []
            while len(frames) < batch:
                item = _get(decoded, stop)
                if item is _END:
                    ended = True
                    break
                frames.append(item)
            if frames:
                out = engine.run(np.stack(frames))
                for content, s in zip(frames, out, strict=True):
                    s = adjust(content, s, strength, keep_colors)
                    _put(styled, stab(content, s) if stab else s, stop)
        _put(styled, _END, stop)

    def encode() -> None:
        nonlocal done
        while (item := _get(styled, stop)) is not _END:
            writer.write(item)
            done += 1
            bar.update(1)

    threads = [stage(decode), stage(infer), stage(encode)]
    t0 = time.perf_counter()
    try:
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.1)  # short waits keep the main thread responsive to Ctrl-C
        if errors:
            raise errors[0]
        writer.close()
    except KeyboardInterrupt:
        stop.set()
        _finish(threads, reader, writer, bar)
        raise VideoInterrupted(src, done, info.frames) from None
    except BaseException:
        stop.set()
        _finish(threads, reader, writer, bar)
        raise
    bar.close()
    reader.close()
    return VideoResult(src, dst, (w, h), done, info.skipped, len(info.audio_codecs),
                       time.perf_counter() - t0)


def _finish(threads, reader: FrameReader, writer: VideoFileWriter, bar) -> None:
    """Tear down after a failure or interrupt: stop both ffmpeg processes (which unblocks
    any stage waiting on them), drop the unfinished file, and wait for every stage to end:
    a stage still inside the engine when Python exits would crash the interpreter."""
    reader.close()
    writer.abort()
    for t in threads:
        t.join()
    bar.close()
