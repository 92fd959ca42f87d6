"""Cut a video into segments at keyframes, and join stylised segments without re-encoding.

Both directions are stream copies, so they cost a read and a write of the compressed
file, not a decode. PyAV lists the packets (pts, keyframe flag) from the container without
decoding; the ffmpeg binary from imageio-ffmpeg does the cutting (segment muxer) and the
joining (concat demuxer), the tools ffmpeg itself offers for exactly this.

A cut is placed only at a *clean* keyframe: no packet after it (in decode order) shows a
frame before it, and none before it shows a frame after it. Open-GOP B-frames that lean
on the previous group would otherwise be lost or broken at the cut, changing the frame
count. Files without a clean keyframe past `segment_seconds` stay whole.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from rtstyle.errors import RtstyleError

# Audio codecs an .mp4 holds as they are; other audio is re-encoded to AAC, once.
MP4_AUDIO = {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}
_REORDER_WINDOW = 32  # packets checked on each side of a cut (B-frame reordering depth)


def ffmpeg_exe() -> str:
    """The ffmpeg binary that imageio-ffmpeg ships (the one the rest of rtstyle uses)."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as e:
        raise RtstyleError(f"no ffmpeg binary found ({e}); reinstall with "
                           "`pip install imageio-ffmpeg`") from e


@dataclass
class Layout:
    """A video's first video stream as the container lists it (no decoding)."""

    path: Path
    packets: int  # video packets (one per frame in a healthy file)
    times: list[float]  # each packet's time in s from the first frame, in decode order
    keyframes: list[int]  # decode-order indexes of clean cut points (never 0)
    audio_codecs: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Start of the last frame plus one typical frame period."""
        ts = sorted(self.times)
        period = (ts[-1] - ts[0]) / (len(ts) - 1) if len(ts) > 1 else 0.0
        return ts[-1] + period


def read_layout(path: Path) -> Layout:
    """List `path`'s video packets and clean keyframes; one-line errors for bad files."""
    import av

    path = Path(path)
    if not path.is_file():
        raise RtstyleError(f"input {path} does not exist" if not path.exists()
                           else f"input {path} is not a file; give a video file")
    try:
        with av.open(str(path)) as c:
            streams = [s for s in c.streams.video
                       if not s.disposition & av.stream.Disposition.attached_pic]
            if not streams:
                raise RtstyleError(f"{path} has no video stream; give a video file")
            v = streams[0]
            audio = [s.codec_context.name for s in c.streams.audio]
            tb = v.time_base or Fraction(1, 90000)
            pts: list[int] = []
            keys: list[bool] = []
            for pkt in c.demux(v):
                if pkt.size == 0:  # the flush packet at the end
                    continue
                stamp = pkt.pts if pkt.pts is not None else pkt.dts
                if stamp is None:  # no timing at all: cannot cut, keep the file whole
                    stamp = pts[-1] + 1 if pts else 0
                    keys.append(False)
                else:
                    keys.append(bool(pkt.is_keyframe))
                pts.append(stamp)
    except RtstyleError:
        raise
    except (av.FFmpegError, OSError, ValueError) as e:
        raise RtstyleError(f"cannot read {path}: not a video file, or it is corrupt "
                           f"({e})") from e
    if not pts:
        raise RtstyleError(f"{path} holds no video frames; give a video file")
    first = min(pts)
    times = [float((p - first) * tb) for p in pts]
    clean = [i for i in range(1, len(pts)) if keys[i] and _clean_cut(pts, i)]
    return Layout(path, len(pts), times, clean, audio)


def _clean_cut(pts: list[int], i: int) -> bool:
    before = pts[max(0, i - _REORDER_WINDOW):i]
    after = pts[i + 1:i + 1 + _REORDER_WINDOW]
    return all(p < pts[i] for p in before) and all(p >= pts[i] for p in after)


def plan_cuts(layout: Layout, segment_seconds: float) -> list[int]:
    """Decode-order packet indexes to cut at: the first clean keyframe at least
    `segment_seconds` after the previous cut. 0 or less: no cuts."""
    if segment_seconds <= 0:
        return []
    cuts: list[int] = []
    last = 0.0
    for i in layout.keyframes:
        if layout.times[i] - last >= segment_seconds - 1e-9:
            cuts.append(i)
            last = layout.times[i]
    return cuts


@dataclass
class Piece:
    """One segment of a source file, as cut, with where it belongs in the source."""

    index: int
    path: Path
    start: float  # presentation time of its first frame in the source, seconds
    packets: int  # frames it should give


def split(layout: Layout, cuts: list[int], workdir: Path) -> list[Piece]:
    """Stream-copy `layout.path`'s first video stream into segments at `cuts`, in the
    source's container. Even an uncut file is copied: workers get video only (the audio
    is added once, at the join) and no more bytes than they need."""
    src = layout.path
    bounds = [0, *cuts, layout.packets]
    starts = [min(layout.times[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    counts = [b - a for a, b in zip(bounds, bounds[1:], strict=False)]
    suffix = src.suffix.lower() or ".mkv"
    paths = [workdir / f"seg{k:04d}{suffix}" for k in range(len(bounds) - 1)]
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
           "-i", str(src), "-map", "0:V:0", "-c", "copy"]
    if cuts:
        cmd += ["-f", "segment", "-segment_frames", ",".join(map(str, cuts)),
                "-reset_timestamps", "1", str(workdir / f"seg%04d{suffix}")]
    else:
        cmd += [str(paths[0])]
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if r.returncode != 0 or not all(p.is_file() for p in paths):
        why = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise RtstyleError(f"cannot read the video stream of {src} (ffmpeg: {why}); the "
                           "file is corrupt, or try --segment-seconds 0 to keep it whole")
    return [Piece(k, p, s, n) for k, (p, s, n) in enumerate(zip(paths, starts, counts,
                                                                 strict=True))]


def join(pieces: list[Piece], stylised: list[Path], source: Layout, dst: Path) -> None:
    """Concatenate the stylised segments into `dst` (stream copy) and copy the source's
    audio in, once. Each segment is placed at its first frame's time in the source, so
    the output keeps the source's timestamps and duration."""
    check_same_encoding(stylised)
    listing = dst.with_name(dst.name + ".ffconcat")
    lines = ["ffconcat version 1.0"]
    for k, path in enumerate(stylised):
        lines.append(f"file '{_quote(path.resolve())}'")
        if k + 1 < len(pieces):  # where the next segment starts, exactly
            lines.append(f"duration {pieces[k + 1].start - pieces[k].start:.9f}")
    listing.write_text("\n".join(lines) + "\n")
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
           "-f", "concat", "-safe", "0", "-i", str(listing)]
    if source.audio_codecs:
        cmd += ["-i", str(source.path), "-map", "0:v:0", "-map", "1:a", "-c:v", "copy"]
        for i, codec in enumerate(source.audio_codecs):
            cmd += [f"-c:a:{i}", "copy" if codec in MP4_AUDIO else "aac"]
    else:
        cmd += ["-map", "0:v:0", "-c", "copy"]
    cmd += ["-movflags", "+faststart", "-f", "mp4", str(dst)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    finally:
        listing.unlink(missing_ok=True)
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise RtstyleError(f"cannot join the segments of {source.path} (ffmpeg: {why})")


def check_same_encoding(paths: list[Path]) -> None:
    """Stream-copied segments must share codec parameters (size, profile, SPS/PPS):
    a joined file carries only the first segment's."""
    import av

    seen = None
    for p in paths:
        with av.open(str(p)) as c:
            cc = c.streams.video[0].codec_context
            key = (cc.name, cc.width, cc.height, cc.pix_fmt, bytes(cc.extradata or b""))
        if seen is not None and key != seen:
            raise RtstyleError(f"segment {p.name} was encoded with other settings than the "
                               "first; rerun with --segment-seconds 0 to keep it whole")
        seen = key


def _quote(path: Path) -> str:
    return str(path).replace("'", "'\\''")
