"""Decode a video file into uint8 BGR frames of a chosen size, through an ffmpeg pipe.

ffmpeg scales the frames in its own process (so that work overlaps with ours) and
passes every decodable frame through once (`-fps_mode passthrough`: no frame is
duplicated or dropped to fit a rate); undecodable ones are simply absent.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rtstyle.errors import RtstyleError
from rtstyle.video.ffmpeg import StderrTail, ffmpeg_exe, lower_priority


class FrameReader:
    """Iterate over the frames of `path` (between `start` and `end` seconds) as
    (height, width, 3) uint8 BGR arrays of `size` = (width, height)."""

    def __init__(self, path: Path, size: tuple[int, int], source_size: tuple[int, int],
                 start: float | None = None, end: float | None = None) -> None:
        self.path, self.size = Path(path), size
        w, h = size
        shrink = w * h < source_size[0] * source_size[1]
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error"]
        if start:
            cmd += ["-ss", f"{start:.6f}"]
        if end is not None:
            cmd += ["-to", f"{end:.6f}"]
        # One decoder thread: cheap next to the net, and it leaves the net its cores.
        cmd += ["-threads", "1", "-filter_threads", "1",
                "-i", str(path), "-map", "0:V:0", "-an", "-sn",
                "-vf", f"scale={w}:{h}:flags={'area' if shrink else 'bicubic'},format=bgr24",
                "-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"]
        try:
            # Own session: Ctrl-C reaches only Python, which stops this process itself.
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          start_new_session=True)
        except OSError as e:
            raise RtstyleError(f"cannot start ffmpeg ({e}); reinstall imageio-ffmpeg") from e
        lower_priority(self._proc)
        self._stderr = StderrTail(self._proc)

    def __iter__(self) -> Iterator[np.ndarray]:
        w, h = self.size
        nbytes = w * h * 3
        while True:
            buf = self._proc.stdout.read(nbytes)
            if len(buf) < nbytes:
                break
            yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
        rc = self._proc.wait()
        self._stderr.join()
        if rc != 0:
            raise RtstyleError(f"decoding {self.path} failed ({self._stderr.last_error()})")

    def close(self) -> None:
        """Stop decoding now (safe to call at any time, more than once)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc.stdout.close()
        # No thread may outlive the run: a daemon thread still alive when Python exits
        # can abort the interpreter ("terminate called without an active exception").
        self._stderr.join()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
