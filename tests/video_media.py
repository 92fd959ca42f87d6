"""What a media file really holds, read independently of rtstyle's own probe: codecs from
`ffmpeg -i`, and every packet's time from a stream-copy `framecrc` listing (no decoding).
Tests use it where they would use ffprobe (imageio-ffmpeg ships ffmpeg only)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


@dataclass
class Stream:
    kind: str  # "video" or "audio"
    codec: str
    fps: float | None = None  # video: the nominal rate ffmpeg reports
    size: tuple[int, int] | None = None
    pts: list[float] = field(default_factory=list)  # packet times in seconds, sorted
    end: float = 0.0  # time of the end of the last packet

    @property
    def packets(self) -> int:
        return len(self.pts)

    @property
    def duration(self) -> float:
        return self.end - self.pts[0]


def streams(path: Path) -> list[Stream]:
    r = subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-i", str(path), "-map", "0",
                        "-c", "copy", "-f", "framecrc", "-"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    found = []
    for ln in r.stderr.split("Output #0")[0].splitlines():
        m = re.match(r"\s*Stream #0:\d+\S*: (Video|Audio): (\w+)", ln)
        if m:
            s = Stream(m[1].lower(), m[2])
            if fps := re.search(r", ([\d.]+) fps", ln):
                s.fps = float(fps[1])
            if size := re.search(r", (\d+)x(\d+)", ln):
                s.size = (int(size[1]), int(size[2]))
            found.append(s)
    tbs: dict[int, Fraction] = {}
    for ln in r.stdout.splitlines():
        if m := re.match(r"#tb (\d+): (\d+/\d+)", ln):
            tbs[int(m[1])] = Fraction(m[2])
        elif ln and not ln.startswith("#"):
            idx, _dts, pts, dur = (int(v) for v in ln.split(",")[:4])
            s = found[idx]
            s.pts.append(float(pts * tbs[idx]))
            s.end = max(s.end, float((pts + dur) * tbs[idx]))
    for s in found:
        s.pts.sort()
    return found


def decode(path: Path) -> list:
    """All frames of the first video stream as uint8 BGR arrays."""
    import numpy as np

    v = next(s for s in streams(path) if s.kind == "video")
    w, h = v.size
    r = subprocess.run([FFMPEG, "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0",
                        "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
                       capture_output=True)
    data = np.frombuffer(r.stdout, np.uint8)
    return list(data.reshape(-1, h, w, 3))


def make_clip(path: Path, seconds: float = 2.0, size: str = "320x240", rate: int = 25,
              audio: str | None = "aac", extra: list[str] | None = None) -> Path:
    """A test clip: ffmpeg's moving test pattern, with a 440 Hz sine track in `audio`."""
    cmd = [FFMPEG, "-v", "error", "-y", "-f", "lavfi",
           "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
                "-c:a", audio]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-threads", "1", *(extra or []),
            str(path)]
    subprocess.run(cmd, check=True)
    return path
