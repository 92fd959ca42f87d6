"""Stylise one video file: decode, batched inference and encode overlap in three threads.

decode (PyAV, in-process) --queue--> infer (engine batch, adjust, stabilise) --queue-->
encode (PyAV). One pass over the input: the decoder also hands over the audio packets,
which go straight to the muxer. The queues are short, so memory stays flat, and the slowest
stage (the net) sets the pace while the other two, at a lower thread priority, hide behind
it. The output appears only when it is complete; any failure, Ctrl-C or SIGTERM (the
command turns it into Ctrl-C) removes the unfinished file.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rtstyle.engines.adjust import stylise
from rtstyle.engines.base import Engine
from rtstyle.errors import RtstyleError
from rtstyle.limits import MAX_SIDE, MIN_SIDE
from rtstyle.progress import progress_bar
from rtstyle.video.decode import DecodedFrame, FrameReader
from rtstyle.video.encode import DEFAULT_PRESET, VideoFileWriter
from rtstyle.video.ffmpeg import lower_priority
from rtstyle.video.probe import VideoInfo, probe_video
from rtstyle.video.stabilize import Stabilizer

tqdm.monitor_interval = 0  # no tqdm monitor thread: every thread ends before we return
_END = object()  # end-of-stream marker passed down the queues


class VideoInterrupted(KeyboardInterrupt):
    """Ctrl-C during a video: says how far it got; nothing was written."""

    def __init__(self, path: Path, done: int, total: int | None) -> None:
        of = f" of {total} of {path} ({100 * done / max(1, total):.0f}%)" if total else \
            f" of {path}"
        super().__init__(f"interrupted at frame {done}{of}; no output was written")


@dataclass
class VideoResult:
    src: Path
    dst: Path
    size: tuple[int, int]
    frames: int
    skipped: int
    audio_streams: int
    seconds: float
    startup: float = 0.0  # seconds from the start to the first frame encoded
    encoder: str = ""

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
    side is at most `max_size` (never upscaled); sides rounded to even for 4:2:0 video.
    Without --size a video is held to the bounds an image is (MIN_SIDE..MAX_SIDE a side,
    after --max-size): a 1x1 video is refused, not upscaled into nothing."""
    if size is not None:
        w, h = size
    else:
        if min(width, height) < MIN_SIDE:
            raise RtstyleError(f"the video is {width}x{height} px, smaller than {MIN_SIDE} px "
                               "a side; give --size WxH to upscale it")
        w, h = width, height
        if max_size and max(width, height) > max_size:
            scale = max_size / max(width, height)
            w, h = width * scale, height * scale
        if max(w, h) > MAX_SIDE:
            raise RtstyleError(f"the video is {width}x{height} px, larger than {MAX_SIDE} px "
                               "a side; add --max-size (e.g. --max-size 1920)")
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


@dataclass(frozen=True)
class _Paint:
    """What the infer stage does to each batch of frames."""

    engine: Engine
    strength: float
    keep_colors: bool
    stabilize: bool
    batch: int


class _Stages:
    """decode -> infer -> encode on three threads joined by two short queues; a stage's
    error (or Ctrl-C in the main thread) sets `stop`, which every stage checks."""

    def __init__(self, reader: FrameReader, writer: VideoFileWriter, paint: _Paint, bar):
        self.reader, self.writer, self.paint, self.bar = reader, writer, paint, bar
        self.stab = Stabilizer() if paint.stabilize else None
        self.decoded: queue.Queue = queue.Queue(maxsize=2 * paint.batch)
        self.styled: queue.Queue = queue.Queue(maxsize=2 * paint.batch)
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.done = 0
        self.first: float | None = None  # when the first frame was encoded

    def _thread(self, fn) -> threading.Thread:
        def body() -> None:
            try:
                fn()
            except _Stop:
                pass
            except BaseException as e:  # noqa: BLE001 (handed to the main thread)
                self.errors.append(e)
                self.stop.set()
        return threading.Thread(target=body, name=fn.__name__, daemon=True)

    def decode(self) -> None:
        lower_priority()  # the net's threads come first; decoding fills their gaps
        for item in self.reader.frames(audio=True):
            _put(self.decoded, item, self.stop)
        _put(self.decoded, _END, self.stop)

    def _next_batch(self) -> tuple[list[DecodedFrame], bool]:
        """Up to `batch` frames, and whether the stream ended; audio packets pass on."""
        frames: list[DecodedFrame] = []
        while len(frames) < self.paint.batch:
            item = _get(self.decoded, self.stop)
            if item is _END:
                return frames, True
            if isinstance(item, DecodedFrame):
                frames.append(item)
            else:  # an audio packet: straight on to the muxer
                _put(self.styled, item, self.stop)
        return frames, False

    def infer(self) -> None:
        p, ended = self.paint, False
        while not ended:
            frames, ended = self._next_batch()
            if frames:
                out = stylise(p.engine, np.stack([f.image for f in frames]), p.strength,
                              p.keep_colors)
                for f, s in zip(frames, out, strict=True):
                    _put(self.styled, (f.time, self.stab(f.image, s) if self.stab else s),
                         self.stop)
        _put(self.styled, _END, self.stop)

    def encode(self) -> None:
        while (item := _get(self.styled, self.stop)) is not _END:
            if not isinstance(item, tuple):
                self.writer.write_audio(item)
                continue
            self.writer.write(item[1], item[0])
            self.done += 1
            if self.first is None:
                self.first = time.perf_counter()
            if self.bar.total is not None and self.done > self.bar.total:
                self.bar.total = self.done  # the container's estimate was low
            self.bar.update(1)

    def run(self, src: Path, total: int | None) -> None:
        """All three stages to the end, then the file closed; on failure or Ctrl-C every
        stage is stopped and the unfinished file dropped (VideoInterrupted for Ctrl-C)."""
        threads = [self._thread(self.decode), self._thread(self.infer),
                   self._thread(self.encode)]
        try:
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(0.1)  # short waits keep the main thread responsive to Ctrl-C
            if self.errors:
                raise self.errors[0]
            self.writer.close()
        except KeyboardInterrupt:
            self.stop.set()
            _finish(threads, self.reader, self.writer, self.bar)
            raise VideoInterrupted(src, self.done, total) from None
        except BaseException:
            self.stop.set()
            _finish(threads, self.reader, self.writer, self.bar)
            raise
        self.bar.close()
        self.reader.close()


def _open(src: Path, dst: Path, info: VideoInfo, span: tuple[float | None, float | None],
          size: tuple[int, int], crf: int, preset: str, encoder: str,
          threads: tuple[int, int], out_scale: int) -> tuple[FrameReader, VideoFileWriter]:
    """The reader of `span` (start, end) at the working `size`, and the writer at `size` x
    `out_scale`."""
    w, h = size
    reader = FrameReader(src, (w, h), (info.width, info.height), *span, threads=threads[0])
    try:
        writer = VideoFileWriter(dst, info.fps, (w * out_scale, h * out_scale), crf,
                                 preset=preset, time_base=info.time_base,
                                 audio=reader.audio_streams, low_priority=True,
                                 encoder=encoder, threads=threads[1])
    except BaseException:
        reader.close()
        raise
    return reader, writer


def stylise_video(engine: Engine, src: Path, dst: Path, *, max_size: int | None = None,
                  size: tuple[int, int] | None = None, start: float | None = None,
                  end: float | None = None, crf: int = 18, strength: float = 1.0,
                  keep_colors: bool = False, stabilize: bool = False, batch: int = 4,
                  progress: bool | None = None, info: VideoInfo | None = None,
                  preset: str = DEFAULT_PRESET, encoder: str = "libx264",
                  decode_threads: int = 1, encode_threads: int = 1,
                  out_scale: int = 1) -> VideoResult:
    """Stylise `src` into `dst` with `engine`, keeping audio, frame count and timing.

    progress: False for none; else a bar on a terminal, a line every few seconds on a pipe.
    info: `probe_video(src, start, end)`, if the caller already has it.
    preset, encoder: x264 preset; "libx264", "nvenc" or "auto" (see VideoFileWriter).
    out_scale: the engine's output is this many times the frame size (an upscaler)."""
    src, dst = Path(src), Path(dst)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise RtstyleError(f"output {dst} is the input; choose another output name")
    if batch < 1:
        raise RtstyleError(f"--batch {batch} must be at least 1")
    t0 = time.perf_counter()
    if info is None:
        info = probe_video(src, start, end)
    w, h = frame_size(info.width, info.height, max_size, size)
    reader, writer = _open(src, dst, info, (start, end), (w, h), crf, preset, encoder,
                           (decode_threads, encode_threads), out_scale)
    bar = progress_bar(info.frames, "frame", src.name, progress, smoothing=0.05)
    stages = _Stages(reader, writer, _Paint(engine, strength, keep_colors, stabilize, batch),
                     bar)
    stages.run(src, info.frames)
    t1 = time.perf_counter()
    return VideoResult(src, dst, (w, h), stages.done, reader.skipped, len(info.audio_codecs),
                       t1 - t0, (stages.first or t1) - t0, writer.codec)


def _finish(threads, reader: FrameReader, writer: VideoFileWriter, bar) -> None:
    """Tear down after a failure or interrupt: wait for every stage to end (each checks
    `stop` at least every 0.1 s; a stage still inside the engine when Python exits would
    crash the interpreter, and a file closed under a running codec would too), then drop
    the unfinished file and release the input."""
    for t in threads:
        t.join()
    writer.abort()
    reader.close()
    bar.close()
