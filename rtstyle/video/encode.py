"""Write frames to a video file in-process (PyAV): H.264 by libx264 (or the GPU's
h264_nvenc), VP9 for .webm, with the source's audio packets muxed in as they are.

The file appears under its name only when it is complete: frames go to a hidden temporary
sibling that `close()` renames into place, and `abort()` (or an exception inside a `with`
block) removes it. The writer holds a lock on that temporary file, so one left behind by a
killed process (nothing can clean up after SIGKILL) is recognised as stale and removed the
next time a video is written to the same name. `fragmented=True` writes fragmented MP4,
which stays playable up to the last fragment even if the process is killed (recordings).
"""

from __future__ import annotations

import contextlib
import errno as _errno
import fcntl
import os
import sys
import threading
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from rtstyle.errors import RtstyleError
from rtstyle.files import atomic_output, check_writable
from rtstyle.video.ffmpeg import av, av_message, has_encoder, lower_priority

# Output container (by extension) -> video encoder.
VIDEO_CODECS = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "libx264",
                ".avi": "libx264", ".webm": "libvpx-vp9"}
# Audio codecs each container holds as they are; others are re-encoded to the fallback.
AUDIO_COPYABLE = {
    ".mp4": ({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}, "aac"),
    ".m4v": ({"aac", "mp3", "alac", "ac3", "eac3"}, "aac"),
    ".mov": ({"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
             "aac"),
    ".avi": ({"mp3", "ac3", "aac", "pcm_s16le", "pcm_u8"}, "libmp3lame"),
    ".webm": ({"opus", "vorbis"}, "libopus"),
}
FRAGMENTED_FLAGS = "+frag_keyframe+empty_moov+default_base_moof"
# x264's presets, fastest first: each step down is slower and gives a smaller file at the
# same --crf (docs/video.md has the measured trade).
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
           "slower", "veryslow")
DEFAULT_PRESET = "superfast"  # the fastest preset whose files are as small (docs/video.md)
ENCODERS = ("auto", "libx264", "nvenc")


def write_error(path: Path, e: BaseException) -> RtstyleError:
    """The one line for a failed write, with the fix its errno points to: only a full disk
    or a refused file means space or permissions; anything else (libvpx's encoder under an
    address-space limit says "Invalid argument") is the encoder failing, often for memory."""
    errno = getattr(e, "errno", None)
    if errno in (_errno.ENOSPC, _errno.EDQUOT, _errno.EFBIG):
        fix = "free disk space or write elsewhere"
    elif errno in (_errno.EACCES, _errno.EPERM, _errno.EROFS):
        fix = "check the output folder's permissions"
    else:
        fix = ("the encoder failed, often for lack of memory: try a smaller --size or "
               "--max-size, or .mp4 (H.264 needs less memory than VP9)")
    return RtstyleError(f"could not write {path} ({av_message(e)}); {fix}")


def container_of(path: Path) -> str:
    """The output's extension, checked against the containers rtstyle can write."""
    ext = Path(path).suffix.lower()
    if ext not in VIDEO_CODECS:
        raise RtstyleError(f"cannot write video with extension '{ext or '(none)'}'; use "
                           + ", ".join(VIDEO_CODECS))
    return ext


def check_preset(preset: str) -> str:
    if preset not in PRESETS:
        raise RtstyleError(f"--preset {preset} is not an x264 preset; use one of "
                           + ", ".join(PRESETS))
    return preset


def clean_stale_partials(path: Path) -> list[Path]:
    """Remove hidden `.NAME.*.partial.EXT` siblings of `path` that no live writer holds
    (left by a killed run). A writer keeps its temporary file locked, and the kernel drops
    that lock when the process dies however it dies, so a file we can lock is stale."""
    path = Path(path)
    removed = []
    with contextlib.suppress(OSError):
        for p in path.resolve().parent.glob(f".{path.stem}.*.partial{path.suffix}"):
            try:
                fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
            except OSError:
                continue
            try:
                if not os.path.isfile(p):
                    continue
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                p.unlink()
                removed.append(p)
            except OSError:
                pass  # held by a running writer, or not ours to remove
            finally:
                os.close(fd)
    return removed


class VideoFileWriter:
    """Encode uint8 BGR frames of one size into `path` (H.264 MP4 unless the extension
    says otherwise).

    fps: the nominal frame rate (a Fraction keeps NTSC rates like 30000/1001 exact).
    timestamps: optional presentation time in seconds of every frame to be written (or
        pass `time=` to `write`), for variable-frame-rate output; frames keep these
        times, rounded to `time_base` (pass the source stream's to keep them exactly;
        default 1/fps without timestamps, else 1/90000).
    audio: input audio streams (PyAV) whose packets `write_audio` muxes in: copied when
        the container can hold their codec, else re-encoded (AAC, MP3 or Opus).
    preset: x264 preset (speed against file size); encoder: "libx264", "nvenc"
        (h264_nvenc, NVIDIA GPUs) or "auto" (nvenc where it opens, else libx264).
    fragmented: fragmented MP4/MOV, playable even if the writer never closes.
    atomic: write to a hidden temporary sibling and rename on close (default); False
        writes straight to `path` (with `fragmented`, a crash leaves a playable file).
    low_priority: encode at a lower thread priority, in the gaps a CPU-bound net leaves
        (batch jobs; takes effect in the thread that calls `write`).
    threads: encoder threads (1 leaves the net the other cores; more for faster presets
        on idle machines).
    """

    def __init__(self, path: Path | str, fps: float | Fraction, size: tuple[int, int],
                 crf: int = 18, *, preset: str = DEFAULT_PRESET,
                 timestamps: Sequence[float] | None = None,
                 time_base: Fraction | None = None, audio: Sequence = (),
                 fragmented: bool = False, atomic: bool = True, low_priority: bool = False,
                 encoder: str = "libx264", threads: int = 1,
                 log=lambda line: print(line, file=sys.stderr)) -> None:
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        self.frames_written = 0
        ext = container_of(self.path)
        if not 0 <= crf <= 51:
            raise RtstyleError(f"--crf {crf} is out of range; use 0 (lossless) .. 51 (worst)")
        check_preset(preset)
        if encoder not in ENCODERS:
            raise RtstyleError(f"--encoder {encoder} is unknown; use one of "
                               + ", ".join(ENCODERS))
        if fragmented and ext not in (".mp4", ".m4v", ".mov"):
            raise RtstyleError(f"fragmented output needs .mp4 or .mov, not '{ext}'")
        if min(self.size) < 2:
            raise RtstyleError(f"frame size {self.size[0]}x{self.size[1]} is too small to encode")
        fps = Fraction(fps).limit_denominator(1001 * 1000)
        if fps <= 0:
            raise RtstyleError(f"frame rate {float(fps)} must be positive")
        self.fps, self._timestamps = fps, timestamps
        if time_base is None:  # 1/fps keeps a constant rate exact; 90 kHz is MPEG's clock
            time_base = Fraction(1, 90000) if timestamps is not None else 1 / fps
        self._tb = Fraction(time_base)
        self._last_pts: int | None = None
        self._low_priority, self._niced = low_priority, False
        self._lock = threading.Lock()  # write/close/abort may come from different threads
        self._fd: int | None = None
        self._stack = contextlib.ExitStack()
        if atomic:
            clean_stale_partials(self.path)
            self._target = self._stack.enter_context(atomic_output(self.path))
            self._fd = os.open(self._target, os.O_RDONLY)  # held (and locked) until done
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            check_writable(self.path)
            self._target = self.path
        options = {}
        if fragmented:  # a fragment every half second, so little is lost in a crash
            options = {"movflags": FRAGMENTED_FLAGS, "frag_duration": "500000",
                       "flush_packets": "1"}
        elif ext in (".mp4", ".m4v", ".mov"):
            options = {"movflags": "+faststart"}
        try:
            self._out = av().open(str(self._target), "w", options=options)
            self._video = self._add_video(ext, crf, preset, encoder, threads, log, fragmented)
            self._audio = {s.index: self._add_audio(ext, s) for s in audio}
            self._out.start_encoding()
            self.codec = self._video.codec_context.name
        except BaseException as e:
            self._close_quietly()
            self._release(e)
            if isinstance(e, av().FFmpegError | OSError):
                raise write_error(self.path, e) from None
            raise
        self._open = True

    def _add_video(self, ext: str, crf: int, preset: str, encoder: str, threads: int, log,
                   live: bool = False):
        w, h = self.size[0] // 2 * 2, self.size[1] // 2 * 2  # 4:2:0 chroma needs even sides
        codec = VIDEO_CODECS[ext]
        if codec == "libx264" and encoder in ("auto", "nvenc"):
            why = self._nvenc_unavailable(w, h)
            if why is None:
                codec = "h264_nvenc"
            elif encoder == "nvenc":  # asked for by name: a fallback would mislead
                raise RtstyleError(f"--encoder nvenc is unavailable here ({why}); use "
                                   "--encoder auto to fall back to libx264, or libx264")
            elif why != "not in this FFmpeg build":
                log(f"rtstyle: h264_nvenc unavailable ({why}); encoding with libx264")
        if codec == "libx264":
            options = {"crf": str(crf), "preset": preset}
            if live:  # no lookahead or B-frames: each frame is in the file a moment later
                options["tune"] = "zerolatency"
        elif codec == "h264_nvenc":
            options = {"rc": "vbr", "cq": str(max(crf, 1)), "preset": "p4"}
        else:  # libvpx-vp9: constant quality; cpu-used is its speed knob
            speed = min(8, PRESETS.index(preset) * -1 + 8)
            options = {"crf": str(crf), "b": "0", "row-mt": "1", "cpu-used": str(speed),
                       "deadline": "realtime" if speed >= 6 else "good"}
        stream = self._out.add_stream(codec, rate=self.fps, options=options)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = self._tb
        stream.time_base = self._tb
        stream.codec_context.thread_count = max(1, threads)
        if codec != "h264_nvenc":
            stream.thread_type = "SLICE" if threads > 1 else "NONE" if threads == 1 else "AUTO"
        return stream

    @staticmethod
    def _nvenc_unavailable(w: int, h: int) -> str | None:
        """Why h264_nvenc cannot encode here (None: it can): opening it needs the NVIDIA
        driver's encoder library and a GPU that has an encoder."""
        if not has_encoder("h264_nvenc"):
            return "not in this FFmpeg build"
        try:
            ctx = av().codec.CodecContext.create("h264_nvenc", "w")
            ctx.width, ctx.height, ctx.pix_fmt = w, h, "yuv420p"
            ctx.time_base = Fraction(1, 25)
            ctx.open()
        except Exception as e:  # noqa: BLE001 (any failure means: use libx264)
            return av_message(e).splitlines()[0] or "it does not open"
        return None

    def _add_audio(self, ext: str, src):
        name = src.codec_context.name
        ok, fallback = AUDIO_COPYABLE.get(ext, (None, None))
        if ok is None or name in ok:  # mkv holds anything
            return (self._out.add_stream_from_template(src), None)
        out = self._out.add_stream(fallback, rate=src.codec_context.sample_rate or 48000)
        if src.codec_context.layout is not None:
            out.layout = src.codec_context.layout
        return (out, src.codec_context)  # decoded with the source's own decoder

    def write(self, frame: np.ndarray, time: float | None = None) -> None:
        """Append one uint8 BGR frame of the writer's size, shown at `time` seconds (default:
        the next `timestamps` entry, else frame number / fps)."""
        if frame.dtype != np.uint8 or frame.shape != (self.size[1], self.size[0], 3):
            raise RtstyleError(f"frame must be uint8 {self.size[1]}x{self.size[0]}x3 BGR, got "
                               f"{frame.dtype} {'x'.join(map(str, frame.shape))}")
        with self._lock:
            if not self._open:
                raise RtstyleError(f"video {self.path} is already closed")
            if self._low_priority and not self._niced:
                lower_priority()
                self._niced = True
            if time is None and self._timestamps is not None:
                time = self._timestamps[self.frames_written]
            pts = self.frames_written if time is None else round(time / self._tb)
            if self._last_pts is not None and pts <= self._last_pts:
                pts = self._last_pts + 1  # two times rounded onto one tick: keep order
            self._last_pts = pts
            h, w = self.size[1] // 2 * 2, self.size[0] // 2 * 2
            image = av().VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]),
                                                 format="bgr24")
            image.pts, image.time_base = pts, self._tb
            try:  # the encoder itself may fail (libvpx short of memory), not only the file
                packets = self._video.encode(image)
            except (av().FFmpegError, OSError) as e:
                self._abort_locked()
                raise write_error(self.path, e) from None
            self._mux(packets)
            self.frames_written += 1

    def write_audio(self, packet) -> None:
        """Mux one audio packet of a stream given as `audio` (times already in the
        output's clock); re-encoded first when the container cannot hold its codec."""
        with self._lock:
            if not self._open:
                raise RtstyleError(f"video {self.path} is already closed")
            out, decoder = self._audio[packet.stream.index]
            if decoder is None:
                packet.stream = out
                self._mux([packet])
                return
            try:
                frames = decoder.decode(packet)
            except av().FFmpegError:
                return  # an undecodable audio packet: a moment of silence
            for f in frames:
                f.pts = None  # the encoder counts samples from the first one
                self._mux(out.encode(f))

    def _mux(self, packets) -> None:
        try:
            for p in packets:
                self._out.mux(p)
        except (av().FFmpegError, OSError) as e:
            self._abort_locked()
            raise write_error(self.path, e) from None

    def close(self) -> None:
        """Finish encoding and move the file into place; raises if writing failed.
        Interrupted while finishing (Ctrl-C), it removes the unfinished file."""
        with self._lock:
            if not self._open:
                return
            try:
                if self.frames_written == 0:
                    self._abort_locked()
                    raise RtstyleError(f"could not write {self.path}: no frames were written")
                self._mux(self._video.encode(None))
                for out, decoder in self._audio.values():
                    if decoder is not None:
                        self._mux(out.encode(None))
                self._out.close()
            except RtstyleError:
                raise
            except (av().FFmpegError, OSError) as e:
                self._abort_locked()
                raise write_error(self.path, e) from None
            except BaseException:
                self._abort_locked()
                raise
            self._open = False
            self._release(None)  # renames into place

    def abort(self) -> None:
        """Stop and delete the unfinished file (safe from any thread, repeatedly)."""
        with self._lock:
            self._abort_locked()

    def _abort_locked(self) -> None:
        if not getattr(self, "_open", False):
            return
        self._open = False
        self._close_quietly()
        self._release(RtstyleError("aborted"))
        if self._target == self.path:  # not atomic: nothing else would remove it
            self.path.unlink(missing_ok=True)

    def _close_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self._out.close()

    def _release(self, error: BaseException | None) -> None:
        """Rename the temporary file into place (no error) or remove it, then unlock it."""
        try:
            if error is None:
                self._stack.close()
            else:
                self._stack.__exit__(type(error), error, None)
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> VideoFileWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
