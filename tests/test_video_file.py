"""VideoFileWriter: real FFmpeg (PyAV) encodes, read back independently; complete files only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from video_media import decode, make_clip, streams

from rtstyle.errors import RtstyleError
from rtstyle.metrics import psnr
from rtstyle.video.decode import DecodedFrame, FrameReader
from rtstyle.video.encode import VideoFileWriter


def frames(n: int, w: int = 64, h: int = 48) -> list[np.ndarray]:
    """Smooth moving gradients (compress well, so decoded frames can be compared)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return [np.dstack([xs * 2 + i, ys * 3 + 20, np.full_like(xs, 100 + 2 * i)])
            .clip(0, 255).astype(np.uint8) for i in range(n)]


@pytest.mark.parametrize("name,codec", [("a.mp4", "h264"), ("a.mkv", "h264"),
                                        ("a.mov", "h264"), ("a.webm", "vp9")])
def test_frames_round_trip(tmp_path, name, codec):
    src = frames(12)
    with VideoFileWriter(tmp_path / name, Fraction(30000, 1001), (64, 48), crf=10) as w:
        for f in src:
            w.write(f)
    (v,) = streams(tmp_path / name)
    assert (v.codec, v.size, v.packets) == (codec, (64, 48), 12)
    assert v.fps == pytest.approx(29.97, abs=0.01)
    back = decode(tmp_path / name)
    assert len(back) == 12
    assert min(psnr(a, b) for a, b in zip(src, back, strict=True)) > 30
    assert sorted(os.listdir(tmp_path)) == [name]  # no temporary file left


def test_variable_frame_rate_keeps_timestamps(tmp_path):
    times = [0.0, 0.1, 0.15, 0.4, 0.45, 0.5, 1.0, 1.1]
    with VideoFileWriter(tmp_path / "v.mp4", 20, (64, 48), timestamps=times) as w:
        for f in frames(len(times)):
            w.write(f)
    (v,) = streams(tmp_path / "v.mp4")
    assert v.pts == pytest.approx(times, abs=1e-4)


def test_odd_size_is_encoded(tmp_path):
    with VideoFileWriter(tmp_path / "o.mp4", 25, (65, 49)) as w:
        for f in frames(3, 65, 49):
            w.write(f)
    (v,) = streams(tmp_path / "o.mp4")
    assert v.size == (64, 48) and v.packets == 3


def test_exception_in_block_leaves_no_file(tmp_path):
    with pytest.raises(KeyError), VideoFileWriter(tmp_path / "x.mp4", 25, (64, 48)) as w:
        w.write(frames(1)[0])
        raise KeyError
    assert os.listdir(tmp_path) == []


def test_existing_file_survives_abort(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"old")
    w = VideoFileWriter(tmp_path / "x.mp4", 25, (64, 48))
    w.write(frames(1)[0])
    w.abort()
    assert (tmp_path / "x.mp4").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["x.mp4"]


def test_bad_arguments(tmp_path):
    with pytest.raises(RtstyleError, match="extension"):
        VideoFileWriter(tmp_path / "x.xyz", 25, (64, 48))
    with pytest.raises(RtstyleError, match="does not exist"):
        VideoFileWriter(tmp_path / "no" / "x.mp4", 25, (64, 48))
    with pytest.raises(RtstyleError, match="crf"):
        VideoFileWriter(tmp_path / "x.mp4", 25, (64, 48), crf=60)
    w = VideoFileWriter(tmp_path / "x.mp4", 25, (64, 48))
    with pytest.raises(RtstyleError, match="64x3"):
        w.write(np.zeros((48, 32, 3), np.uint8))
    with pytest.raises(RtstyleError, match="no frames"):
        w.close()
    assert os.listdir(tmp_path) == []


RECORDER = """
import sys, time
import numpy as np
from rtstyle.video.decode import DecodedFrame, FrameReader
from rtstyle.video.encode import VideoFileWriter
from test_video_file import frames
w = VideoFileWriter(sys.argv[1], 25, (64, 48), fragmented=True, atomic=False,
                    preset="ultrafast")
for f in frames(60):
    w.write(f)
print("written", flush=True)
time.sleep(600)
"""


def test_fragmented_recording_survives_a_killed_encoder(tmp_path):
    """A live recording must stay playable if everything dies: with fragmented MP4 the
    frames up to the last fragment are readable even after the recording process (whose
    encoder runs in-process) is SIGKILLed."""
    path = tmp_path / "rec.mp4"
    proc = subprocess.Popen([sys.executable, "-c", RECORDER, str(path)],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)})
    try:
        assert proc.stdout.readline().strip() == "written"
        deadline = time.monotonic() + 30
        while path.stat().st_size < 1000 and time.monotonic() < deadline:
            time.sleep(0.2)  # let the encoder write what it was sent
        time.sleep(0.5)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert path.exists()
    got = decode(path)
    assert 10 <= len(got) <= 60


def test_preset_trades_speed_for_size(tmp_path):
    """A slower x264 preset gives a smaller file at the same quality setting."""
    src = frames(40, 160, 120)
    rng = np.random.default_rng(0)
    src = [np.clip(f.astype(np.int16) + rng.integers(-6, 7, f.shape), 0, 255).astype(np.uint8)
           for f in src]  # some texture to spend bits on
    sizes = {}
    for preset in ("ultrafast", "slow"):
        with VideoFileWriter(tmp_path / f"{preset}.mp4", 25, (160, 120), crf=23,
                             preset=preset) as w:
            for f in src:
                w.write(f)
        sizes[preset] = (tmp_path / f"{preset}.mp4").stat().st_size
    assert sizes["slow"] < 0.9 * sizes["ultrafast"], sizes
    with pytest.raises(RtstyleError, match="not an x264 preset"):
        VideoFileWriter(tmp_path / "x.mp4", 25, (64, 48), preset="quick")


def test_audio_the_container_cannot_hold_is_reencoded(tmp_path):
    """PCM audio cannot go into MP4 as it is: it becomes AAC of the same length."""
    src = make_clip(tmp_path / "in.mov", seconds=1.0, size="64x48", audio="pcm_s16le")
    reader = FrameReader(src, (64, 48))
    with VideoFileWriter(tmp_path / "out.mp4", 25, (64, 48), time_base=Fraction(1, 12800),
                         audio=reader.audio_streams) as w:
        for item in reader.frames(audio=True):
            if isinstance(item, DecodedFrame):
                w.write(item.image, item.time)
            else:
                w.write_audio(item)
    reader.close()
    v, a = streams(tmp_path / "out.mp4")
    assert (v.codec, v.packets, a.codec) == ("h264", 25, "aac")
    assert abs(a.duration - 1.0) < 0.05


def test_stale_partial_is_removed_but_a_live_one_is_kept(tmp_path):
    """A temporary file left by a killed run (unlocked) goes; one a writer holds stays."""
    stale = tmp_path / ".o.k1ll3d.partial.mp4"
    stale.write_bytes(b"half a video")
    live = VideoFileWriter(tmp_path / "o.mp4", 25, (64, 48))
    assert not stale.exists()
    (held,) = os.listdir(tmp_path)
    other = VideoFileWriter(tmp_path / "o.mp4", 25, (64, 48))
    assert held in os.listdir(tmp_path) and len(os.listdir(tmp_path)) == 2
    live.write(frames(1)[0])
    live.close()
    other.abort()
    assert os.listdir(tmp_path) == ["o.mp4"]
