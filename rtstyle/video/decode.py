"""Decode a video file in-process (PyAV) into uint8 BGR frames of a chosen size, each with
its presentation time, in one pass that also hands over the audio packets untouched.

Every decodable frame is passed through once, at its own time (no frame is duplicated or
dropped to fit a rate); undecodable ones are absent and counted in `skipped`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtstyle.errors import RtstyleError
from rtstyle.video.ffmpeg import av, av_message
from rtstyle.video.probe import open_input, stated_end, video_stream


@dataclass
class DecodedFrame:
    time: float  # seconds from the range start (the file's start without --start)
    image: np.ndarray  # (height, width, 3) uint8 BGR


class FrameReader:
    """Iterate over the frames of `path` (between `start` and `end` seconds) as
    (height, width, 3) uint8 BGR arrays of `size` = (width, height).

    `frames()` yields them with their times; with `audio=True` it also yields the audio
    packets in the range (av.Packet, times shifted by the same amount), in file order.
    source_size: the displayed size, when the caller has it (only used to pick the filter).
    threads: decoder threads (frame threading; 1 leaves the net its cores)."""

    def __init__(self, path: Path, size: tuple[int, int],
                 source_size: tuple[int, int] | None = None,
                 start: float | None = None, end: float | None = None,
                 threads: int = 1) -> None:
        self.path, self.size = Path(path), (int(size[0]), int(size[1]))
        self.start, self.end = start or 0.0, end
        self.packets = 0  # video packets in the range
        self.decoded = 0  # frames decoded in the range
        self._container = open_input(self.path)
        self._video = video_stream(self._container)
        if self._video is None:
            self.close()
            raise RtstyleError(f"{self.path} has no video stream; give a video file")
        self._video.thread_type = "FRAME" if threads > 1 else "SLICE"
        self._video.codec_context.thread_count = max(1, threads)
        self.audio_streams = list(self._container.streams.audio)
        src = source_size or (self._video.codec_context.width, self._video.codec_context.height)
        shrink = self.size[0] * self.size[1] < src[0] * src[1]
        self._interp = "AREA" if shrink else "BICUBIC"
        # Times are measured from the container's start, as the ffmpeg command line does.
        start_time = self._container.start_time
        self._origin = (start_time / 1e6 if start_time is not None else 0.0) + self.start

    @property
    def skipped(self) -> int:
        """Frames present in the range that could not be decoded."""
        return max(0, self.packets - self.decoded)

    def __iter__(self) -> Iterator[np.ndarray]:
        for item in self.frames():
            yield item.image

    def frames(self, audio: bool = False) -> Iterator[DecodedFrame | object]:
        """Frames (DecodedFrame) in the range, and with `audio` the audio packets too."""
        video, container = self._video, self._container
        tb = video.time_base
        if self.start:
            container.seek(int(self._origin * 1e6), backward=True)
        streams = [video, *self.audio_streams] if audio else [video]
        span = None if self.end is None else self.end - self.start
        eps = 1e-6  # a frame exactly at --end is outside the range
        # Without --start everything before the end is kept, as it is: e.g. AAC's priming
        # packet, which sits just before zero. With it, what precedes it is dropped.
        lo = -eps if self.start else -float("inf")
        last = None
        last_packet = None
        try:
            for packet in container.demux(streams):
                if packet.stream is not video:
                    t = self._time(packet.pts, packet.stream.time_base)
                    if packet.size and t is not None and t >= lo and (span is None
                                                                      or t < span - eps):
                        self._shift(packet)
                        yield packet
                    continue
                if packet.size and packet.pts is not None:
                    t = self._time(packet.pts, tb)
                    if t >= lo and (span is None or t < span - eps):
                        self.packets += 1
                    last_packet = t
                try:
                    decoded = packet.decode()
                except av().FFmpegError:
                    continue  # an undecodable packet: its frame is skipped (and counted)
                for frame in decoded:
                    t = self._time(frame.pts, tb)
                    if t is None:  # no timestamp: the next one at the nominal rate
                        rate = float(video.average_rate or 25)
                        t = 0.0 if last is None else last + 1 / rate
                    if t < lo:
                        continue  # before --start (decoded from the keyframe before it)
                    if span is not None and t >= span - eps:
                        return
                    last = t
                    self.decoded += 1
                    yield DecodedFrame(t, self._image(frame))
        except av().FFmpegError as e:
            if self.decoded == 0:
                raise RtstyleError(f"cannot decode {self.path}: {av_message(e)}; the file is "
                                   "corrupt or truncated") from None
            raise RtstyleError(f"{self.path} is truncated or damaged after "
                               f"{last or 0.0:.2f} s ({av_message(e)}); re-download or "
                               "re-export it") from None
        self._check_complete(last_packet)
        if self.decoded == 0:
            raise RtstyleError(f"cannot decode any frame of {self.path}"
                               + (" in the --start/--end range" if self.start or self.end
                                  else "") + "; the file is corrupt or truncated")

    def _check_complete(self, last_packet: float | None) -> None:
        """The demuxer ends quietly where a file was cut off: compare the last packet's time
        with the length the video stream states."""
        end = stated_end(self._container, self._video)
        if end is None:
            return
        end -= self.start
        if self.end is not None:
            end = min(end, self.end - self.start)
        period = 1 / float(self._video.average_rate or 25)
        reached = -1.0 if last_packet is None else last_packet + period
        if reached < end - max(2 * period, 0.01 * end):
            raise RtstyleError(f"{self.path} is truncated: frames stop at "
                               f"{max(0.0, reached) + self.start:.2f} s of a stated "
                               f"{end + self.start:.2f} s; re-download or re-export it")

    def _shift(self, packet) -> None:
        """Move an audio packet onto the output's clock (zero at the range start)."""
        offset = round(self._origin / packet.time_base)
        if offset:
            if packet.pts is not None:
                packet.pts -= offset
            if packet.dts is not None:
                packet.dts -= offset

    def _time(self, pts: int | None, tb) -> float | None:
        return None if pts is None else float(pts * tb) - self._origin

    def _image(self, frame) -> np.ndarray:
        w, h = self.size
        turns = round(frame.rotation / 90) % 4 if frame.rotation else 0
        if turns % 2:
            w, h = h, w  # scale first, then turn: the turned image has the asked size
        image = frame.to_ndarray(width=w, height=h, format="bgr24", interpolation=self._interp)
        if turns:
            image = np.ascontiguousarray(np.rot90(image, turns))
        return image

    def close(self) -> None:
        """Release the file (safe to call at any time, more than once)."""
        self._container.close()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
