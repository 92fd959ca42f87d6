"""Write frames to a video file by piping raw BGR frames into ffmpeg.

The file appears under its name only when it is complete: frames go to a temporary
sibling that `close()` renames into place, and `abort()` (or an exception inside a
`with` block) removes it. `fragmented=True` writes fragmented MP4, which stays playable
up to the last fragment even if the process is killed (for live recordings).
Audio can be muxed in from a source file, stream-copied where the container allows it.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from rtstyle.errors import RtstyleError
from rtstyle.files import atomic_output, check_writable
from rtstyle.video.ffmpeg import StderrTail, ffmpeg_exe, lower_priority

# Output container (by extension) -> video encoder arguments. {crf} is filled in.
VIDEO_CODECS = {
    ".mp4": ["-c:v", "libx264", "-crf", "{crf}", "-pix_fmt", "yuv420p"],
    ".m4v": ["-c:v", "libx264", "-crf", "{crf}", "-pix_fmt", "yuv420p"],
    ".mov": ["-c:v", "libx264", "-crf", "{crf}", "-pix_fmt", "yuv420p"],
    ".mkv": ["-c:v", "libx264", "-crf", "{crf}", "-pix_fmt", "yuv420p"],
    ".avi": ["-c:v", "libx264", "-crf", "{crf}", "-pix_fmt", "yuv420p"],
    ".webm": ["-c:v", "libvpx-vp9", "-crf", "{crf}", "-b:v", "0", "-pix_fmt", "yuv420p",
              "-row-mt", "1"],
}
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


def container_of(path: Path) -> str:
    """The output's extension, checked against the containers rtstyle can write."""
    ext = Path(path).suffix.lower()
    if ext not in VIDEO_CODECS:
        raise RtstyleError(f"cannot write video with extension '{ext or '(none)'}'; use "
                           + ", ".join(VIDEO_CODECS))
    return ext


def audio_args(ext: str, codecs: Sequence[str]) -> list[str]:
    """Per-stream audio codec options: copy each stream the container can hold."""
    if ext not in AUDIO_COPYABLE:  # mkv holds anything
        return ["-c:a", "copy"]
    ok, fallback = AUDIO_COPYABLE[ext]
    args: list[str] = []
    for i, codec in enumerate(codecs):
        args += [f"-c:a:{i}", "copy" if codec in ok else fallback]
    return args


class VideoFileWriter:
    """Encode uint8 BGR frames of one size into `path` (H.264 MP4 unless the extension
    says otherwise).

    fps: the frame rate (a Fraction keeps NTSC rates like 30000/1001 exact).
    timestamps: optional presentation time in seconds of every frame to be written,
        for variable-frame-rate output; frames then keep these times, rounded to
        `time_base` (pass the source stream's time base to keep its times exactly).
    audio_from: a media file whose audio streams are muxed in, cut to
        [audio_start, audio_end) seconds; `audio_codecs` lists their codec names
        so each is copied when the container can hold it.
    fragmented: fragmented MP4/MOV, playable even if the writer never closes.
    atomic: write to a temporary sibling and rename on close (default); False writes
        straight to `path` (with `fragmented`, a crash then leaves a playable file there).
    low_priority: run the encoder niced, in the gaps a CPU-bound net leaves (for batch
        jobs; a live recording should keep up, so it is off by default).
    """

    def __init__(self, path: Path | str, fps: float | Fraction, size: tuple[int, int],
                 crf: int = 18, *, preset: str = "medium",
                 timestamps: Sequence[float] | None = None,
                 time_base: Fraction = Fraction(1, 90000),
                 audio_from: Path | None = None, audio_codecs: Sequence[str] = (),
                 audio_start: float | None = None, audio_end: float | None = None,
                 fragmented: bool = False, atomic: bool = True,
                 low_priority: bool = False) -> None:
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        self.frames_written = 0
        ext = container_of(self.path)
        if not 0 <= crf <= 51:
            raise RtstyleError(f"--crf {crf} is out of range; use 0 (lossless) .. 51 (worst)")
        if fragmented and ext not in (".mp4", ".m4v", ".mov"):
            raise RtstyleError(f"fragmented output needs .mp4 or .mov, not '{ext}'")
        if min(self.size) < 2:
            raise RtstyleError(f"frame size {self.size[0]}x{self.size[1]} is too small to encode")
        fps = Fraction(fps).limit_denominator(1001 * 1000)
        if fps <= 0:
            raise RtstyleError(f"frame rate {float(fps)} must be positive")

        self._stack = contextlib.ExitStack()
        if atomic:
            self._target = self._stack.enter_context(atomic_output(self.path))
        else:
            check_writable(self.path)
            self._target = self.path
        self._sendcmd = None
        w, h = self.size
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-filter_threads", "1", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
               "-framerate", str(fps), "-i", "pipe:0"]
        if audio_from is not None and audio_codecs:
            if audio_start:
                cmd += ["-ss", f"{audio_start:.6f}"]
            if audio_end is not None:
                cmd += ["-to", f"{audio_end:.6f}"]
            cmd += ["-i", str(audio_from), "-map", "0:v:0", "-map", "1:a"]
            cmd += audio_args(ext, audio_codecs)
            if audio_start:  # stream copy would otherwise keep packets from before the start
                cmd += ["-copypriorss:a", "0"]
        filters = []
        if w % 2 or h % 2:  # 4:2:0 chroma needs even sides: drop the odd last row/column
            filters.append("crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0")
        if timestamps is not None:
            filters.append(self._timestamp_filter(timestamps, fps, Fraction(time_base)))
        if filters:
            cmd += ["-vf", ",".join(filters)]
        # One encoder thread: encoding costs a few ms a frame, and on a CPU the net wants
        # every core; codec threads preempting the net's threads slowed it by ~25 %.
        cmd += [a.format(crf=crf) for a in VIDEO_CODECS[ext]] + ["-threads", "1"]
        if VIDEO_CODECS[ext][1] == "libx264":
            cmd += ["-preset", preset]
            if timestamps is not None:  # B-frames make MP4 misstate a VFR file's duration
                cmd += ["-bf", "0"]
        if timestamps is not None:
            cmd += ["-fps_mode", "passthrough", "-enc_time_base", "filter"]
        if fragmented:  # a fragment at least every second, so little is lost in a crash
            cmd += ["-movflags", FRAGMENTED_FLAGS, "-frag_duration", "1000000",
                    "-flush_packets", "1"]
        elif ext in (".mp4", ".m4v", ".mov"):
            cmd += ["-movflags", "+faststart"]
        cmd += [str(self._target)]
        try:
            # Own session: Ctrl-C reaches only Python, which decides to finish or abort.
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                                          start_new_session=True)
        except OSError as e:
            self._cleanup_cmds()
            self._stack.__exit__(type(e), e, None)  # removes the temporary file
            raise RtstyleError(f"cannot start ffmpeg ({e}); reinstall imageio-ffmpeg") from e
        if low_priority:
            lower_priority(self._proc)
        self._stderr = StderrTail(self._proc)
        self._abort_lock = threading.Lock()
        self._open = True

    def _timestamp_filter(self, timestamps: Sequence[float], fps: Fraction,
                          time_base: Fraction) -> str:
        """A filter giving frame i the time timestamps[i]: ffmpeg's raw input has no
        timestamps, so `sendcmd` resets `setpts` to each frame's time as it arrives."""
        fd, name = tempfile.mkstemp(prefix="rtstyle-pts-", suffix=".txt")
        with open(fd, "w") as f:
            t0 = timestamps[0] if len(timestamps) else 0.0
            for i, t in enumerate(timestamps):
                # A command fires when the raw stream's own clock (frame i at i/fps)
                # enters its interval; half a frame early so rounding cannot delay it.
                # The new expression is a constant: the frame's time in `time_base`.
                at = max(0.0, (i - 0.5) / float(fps))
                f.write(f"{at:.9f} setpts expr {round((t - t0) / time_base)};\n")
        self._sendcmd = Path(name)
        return f"settb={time_base},sendcmd=f='{name}',setpts=0"

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 BGR frame of the writer's size."""
        if not self._open:
            raise RtstyleError(f"video {self.path} is already closed")
        if frame.dtype != np.uint8 or frame.shape != (self.size[1], self.size[0], 3):
            raise RtstyleError(f"frame must be uint8 {self.size[1]}x{self.size[0]}x3 BGR, got "
                               f"{frame.dtype} {'x'.join(map(str, frame.shape))}")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except (BrokenPipeError, OSError, ValueError):  # ValueError: aborted meanwhile
            self._proc.wait()  # let ffmpeg finish printing its error; abort() joins stderr
            self.abort()
            raise RtstyleError(f"could not write {self.path}: ffmpeg stopped "
                               f"({self._stderr.last_error()}); check free space and "
                               "permissions") from None
        self.frames_written += 1

    def close(self) -> None:
        """Finish encoding and move the file into place; raises if ffmpeg failed.
        Interrupted while finishing (Ctrl-C), it removes the unfinished file."""
        if not self._open:
            return
        try:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._proc.stdin.close()
            rc = self._proc.wait()
            self._stderr.join()
        except BaseException:
            self.abort()
            raise
        self._cleanup_cmds()
        self._open = False
        if rc != 0 or self.frames_written == 0:
            why = (f"ffmpeg failed ({self._stderr.last_error()}); check free space and "
                   "permissions" if rc != 0 else "no frames were written")
            self._stack.__exit__(RtstyleError, RtstyleError(why), None)  # removes the temp
            raise RtstyleError(f"could not write {self.path}: {why}")
        self._stack.close()  # renames into place

    def abort(self) -> None:
        """Stop ffmpeg and delete the unfinished file (safe from any thread, repeatedly)."""
        with self._abort_lock:
            if self._proc.poll() is None:
                self._proc.kill()
            with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                self._proc.stdin.close()
            self._proc.wait()
            self._stderr.join()  # no thread outlives the writer
            self._cleanup_cmds()
            if self._open:
                self._open = False
                self._stack.__exit__(RtstyleError, RtstyleError("aborted"), None)
                if self._target == self.path:  # not atomic: nothing else would remove it
                    self.path.unlink(missing_ok=True)

    def _cleanup_cmds(self) -> None:
        if self._sendcmd is not None:
            self._sendcmd.unlink(missing_ok=True)
            self._sendcmd = None

    def __enter__(self) -> VideoFileWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
