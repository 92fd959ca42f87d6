"""What a video file holds, from its container, without decoding it: the first video
stream's size, rate and time base, the audio streams, the stated duration and frame count.

Stylising then reads the file once (rtstyle.video.decode): the frame count here only
sizes the progress bar, and frame times come from the decoded frames themselves.
A cheap look at the end of the file (a seek and one packet) catches files that stop short
of their stated length before any slow work starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from rtstyle.errors import RtstyleError
from rtstyle.video.ffmpeg import av, av_message

STILL_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe",
                 "gif", "gif_pipe", "ppm_pipe", "pgm_pipe", "pam_pipe", "jpegxl_pipe",
                 "qoi_pipe", "dpx_pipe", "exr_pipe", "psd_pipe", "svg_pipe", "sgi_pipe")


@dataclass
class VideoInfo:
    """A video's first video stream (within the requested range) and its audio streams."""

    path: Path
    width: int  # displayed size, after any rotation the file asks for
    height: int
    fps: Fraction  # the stream's nominal (or average) frame rate
    time_base: Fraction  # of the video stream; frame times are exact multiples of it
    codec: str = ""
    rotation: int = 0  # degrees counter-clockwise the frames are turned for display
    audio_codecs: list[str] = field(default_factory=list)
    duration: float | None = None  # of the range, as the container states it
    stated_frames: int | None = None  # frame count the container states for the whole file
    start: float = 0.0  # --start
    end: float | None = None  # --end

    @property
    def frames(self) -> int | None:
        """Expected frames in the range, for the progress bar (None: unknown). Stated,
        not counted: a damaged file may hold fewer, and the bar then stops short."""
        if self.stated_frames and self.start == 0 and self.end is None:
            return self.stated_frames
        if self.duration is not None:
            return max(1, round(self.duration * float(self.fps)))
        return None


def video_stream(container):
    """The first real video stream: not cover art (an attached picture)."""
    attached = av().stream.Disposition.attached_pic
    return next((s for s in container.streams.video if not s.disposition & attached), None)


def open_input(path: Path):
    """Open `path` for reading; one-line errors for missing, non-video and damaged files."""
    path = Path(path)
    if not path.exists():
        raise RtstyleError(f"input {path} does not exist")
    if path.is_dir():
        raise RtstyleError(f"input {path} is a folder; give a video file")
    try:
        return av().open(str(path), "r")
    except av().FFmpegError as e:
        raise RtstyleError(f"cannot read {path}: not a video file, or it is corrupt or "
                           f"truncated (FFmpeg: {av_message(e)})") from None
    except OSError as e:
        raise RtstyleError(f"cannot read {path} ({e.strerror or e})") from None


def probe_video(path: Path, start: float | None = None, end: float | None = None) -> VideoInfo:
    """Describe `path` (between `start` and `end` seconds, if given); one-line errors for
    files that are missing, not videos, still images, without a video stream, or truncated."""
    path = Path(path)
    if start is not None and end is not None and end <= start:
        raise RtstyleError(f"--end {end} is not after --start {start}; give a later end")
    with open_input(path) as container:
        fmt = container.format.name
        if fmt in STILL_FORMATS or fmt.endswith("_pipe"):
            raise RtstyleError(f"{path} is a still image ({fmt.removesuffix('_pipe')}), not "
                               "a video; use `rtstyle image` for it")
        stream = video_stream(container)
        if stream is None:
            kinds = sorted({s.type for s in container.streams})
            raise RtstyleError(f"{path} has no video stream (it holds "
                               f"{', '.join(kinds) or 'nothing'}); give a video file")
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise RtstyleError(f"cannot read {path}: its video stream states no frame size; "
                               "the file is corrupt or truncated")
        fps = Fraction(stream.average_rate or stream.guessed_rate or stream.base_rate or 25)
        if fps <= 0 or fps > 1000:
            fps = Fraction(25)
        rotation = _rotation(container, stream)
        w, h = (ctx.height, ctx.width) if rotation % 180 else (ctx.width, ctx.height)
        duration = None
        if container.duration:
            duration = container.duration / 1e6
        elif stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        full = duration
        if duration is not None:
            duration = min(duration, end) if end is not None else duration
            duration -= start or 0.0
            if duration <= 0:
                raise RtstyleError(f"--start {start} is past the end of {path} "
                                   f"({full:.2f} s); give an earlier start")
        info = VideoInfo(path=path, width=w, height=h, fps=fps,
                         time_base=Fraction(stream.time_base or Fraction(1, 90000)),
                         codec=ctx.name, rotation=rotation,
                         audio_codecs=[s.codec_context.name for s in container.streams.audio],
                         duration=duration, stated_frames=stream.frames or None,
                         start=start or 0.0, end=end)
        _check_tail(container, stream, path)
    return info


def _rotation(container, stream) -> int:
    """Display rotation in degrees (0, 90, 180, 270), read from the first frame (PyAV
    exposes the display matrix on frames): decoding one frame costs a few milliseconds."""
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                return round(frame.rotation) % 360
    except av().FFmpegError:
        pass
    finally:
        container.seek(0)
    return 0


def stated_end(container, stream) -> float | None:
    """Where the video stream says it ends, in seconds from the container's start; None
    where only the container states a length (it may belong to a longer audio track)."""
    if not stream.duration or not stream.time_base:
        return None
    first = stream.start_time or 0
    origin = (container.start_time or 0) / 1e6
    return float((first + stream.duration) * stream.time_base) - origin


def _check_tail(container, stream, path: Path) -> None:
    """Seek to the video's last frame and read its packet: a file cut short (a download
    that stopped) fails here in a moment, not after stylising everything before the cut."""
    end = stated_end(container, stream)
    if end is None or not stream.average_rate:
        return
    target = end - 2 / float(stream.average_rate) + (container.start_time or 0) / 1e6
    try:
        container.seek(max(0, int(target / stream.time_base)), stream=stream, any_frame=True,
                       backward=True)
        for packet in container.demux(stream):
            if packet.size:
                return
            break
    except av().FFmpegError:
        pass
    raise RtstyleError(f"{path} is truncated: no frames near its stated end "
                       f"({end:.2f} s); re-download or re-export it")
