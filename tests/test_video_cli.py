"""`rtstyle video` as users run it: real files through real FFmpeg (PyAV), checked independently
(tests/video_media.py reads packets and codecs straight from the files)."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import cli
from video_media import FFMPEG, make_clip, streams

from rtstyle.nets import build_net
from rtstyle.styles.modelfile import save_model

FAST = ["--max-size", "64", "--backend", "torch", "--threads", "1"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A random-weight fst net: the video plumbing does not care what it paints."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "random.safetensors"
    save_model(path, build_net("fst"), {"style": "random"})
    return str(path)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """2 s of 320x240 at 25 fps with a 440 Hz AAC track."""
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


def stylise(src, dst, model, *extra, **kw):
    return cli("video", str(src), "-o", str(dst), "--style", model, *FAST, *extra, **kw)


def by_kind(path):
    found = streams(path)
    return (next(s for s in found if s.kind == "video"),
            [s for s in found if s.kind == "audio"])


def test_audio_frames_and_rate_are_kept(tmp_path, clip, model):
    r = stylise(clip, tmp_path / "out.mp4", model)
    assert r.returncode == 0, r.stderr
    assert "1 audio stream kept" in r.stdout and "undecodable" not in r.stdout
    v_in, (a_in,) = by_kind(clip)
    v_out, (a_out,) = by_kind(tmp_path / "out.mp4")
    frame = 1 / 25
    assert a_out.codec == a_in.codec == "aac"
    assert abs(a_out.duration - a_in.duration) <= frame
    assert a_out.pts == a_in.pts  # stream copy: the very same packets
    assert v_out.packets == v_in.packets == 50
    assert v_out.fps == v_in.fps == 25
    assert v_out.pts == pytest.approx(v_in.pts, abs=1e-3)
    assert v_out.size == (64, 48)
    assert sorted(os.listdir(tmp_path)) == ["out.mp4"]


def test_start_end_cut_video_and_audio(tmp_path, clip, model):
    r = stylise(clip, tmp_path / "cut.mkv", model, "--start", "0.5", "--end", "1.5")
    assert r.returncode == 0, r.stderr
    assert "undecodable" not in r.stdout  # a frame exactly at --end is not "skipped"
    v, (a,) = by_kind(tmp_path / "cut.mkv")
    assert v.packets == 25
    assert abs(a.duration - 1.0) <= 1 / 25


def test_variable_frame_rate_timestamps_survive(tmp_path, model):
    # Frames 0-9 at 25 fps, then a 0.2 s gap after every tenth frame.
    src = make_clip(tmp_path / "vfr.mkv", seconds=1.2, audio=None,
                    extra=["-vf", "setpts=(N/25+floor(N/10)*0.2)/TB", "-fps_mode", "vfr"])
    r = stylise(src, tmp_path / "out.mp4", model)
    assert r.returncode == 0, r.stderr
    v_in, _ = by_kind(src)
    v_out, _ = by_kind(tmp_path / "out.mp4")
    assert v_in.packets == v_out.packets == 30
    assert v_out.pts == pytest.approx(v_in.pts, abs=2e-3)


def test_undecodable_frames_are_skipped_and_counted(tmp_path, model):
    src = make_clip(tmp_path / "clip.mp4", seconds=4, extra=["-movflags", "+faststart"])
    data = bytearray(src.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4000] = bytes(4000)  # wipe a few packets in the middle
    src.write_bytes(bytes(data))
    r = stylise(src, tmp_path / "out.mp4", model)
    assert r.returncode == 0, r.stderr
    skipped = int(r.stdout.split(" undecodable frame")[0].rsplit(" ", 1)[1])
    assert skipped >= 1
    v_out, _ = by_kind(tmp_path / "out.mp4")
    assert v_out.packets == 100 - skipped


def test_stabilize_and_options_run(tmp_path, clip, model):
    r = stylise(clip, tmp_path / "s.mp4", model, "--stabilize", "--strength", "0.5",
                "--preserve-colors", "--crf", "30", "--batch", "3")
    assert r.returncode == 0, r.stderr
    v, _ = by_kind(tmp_path / "s.mp4")
    assert v.packets == 50


def test_folder_in_folder_out(tmp_path, model):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "a.mov", seconds=0.4, audio=None)
    make_clip(src / "b.mkv", seconds=0.4, audio="libopus")
    (src / "notes.txt").write_text("not a video")
    r = stylise(src, tmp_path / "out", model)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["a.mp4", "b.mp4"]
    _, (a,) = by_kind(tmp_path / "out" / "b.mp4")
    assert a.codec == "opus"  # MP4 holds Opus, so it is copied as it is


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """60 s at 25 fps: long enough to be stopped halfway."""
    return make_clip(tmp_path_factory.mktemp("long") / "long.mp4", seconds=60, size="160x120")


def start_encoding(src, out_dir, model):
    """Start `rtstyle video` and return once its output has data (encoding is under way)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtstyle", "video", str(src), "-o", str(out_dir / "o.mp4"),
         "--style", model, *FAST], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
        # A shell running pytest in the background ignores SIGINT, and children inherit
        # that; give rtstyle the disposition it has in a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        partial = [p for p in out_dir.iterdir() if p.stat().st_size > 0]
        if partial:  # encoding is under way
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    time.sleep(1.0)
    return proc


def children(pid):
    """Processes whose parent is `pid` (an encoder or decoder would be one)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(stat.parent.name)
    return kids


def test_ctrl_c_leaves_no_output(tmp_path, long_clip, model):
    src = long_clip
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = start_encoding(src, out_dir, model)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 130, err
    assert "interrupted at frame" in err and "of 1500" in err
    assert os.listdir(out_dir) == []


def test_sigterm_stops_like_ctrl_c_with_no_helper_process(tmp_path, long_clip, model):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = start_encoding(long_clip, out_dir, model)
    assert children(proc.pid) == []  # decoding and encoding run in-process
    os.kill(proc.pid, signal.SIGTERM)  # what `kill` sends, to rtstyle alone
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 130, err
    assert "interrupted at frame" in err
    assert os.listdir(out_dir) == []


def test_sigkill_leftover_is_removed_by_the_next_run(tmp_path, long_clip, model):
    """Nothing can clean up after SIGKILL: the hidden temporary file stays, unlocked, and
    the next run writing that name removes it."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = start_encoding(long_clip, out_dir, model)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    (left,) = os.listdir(out_dir)
    assert left.startswith(".o.") and left.endswith(".partial.mp4")
    r = stylise(long_clip, out_dir / "o.mp4", model, "--end", "0.4")
    assert r.returncode == 0, r.stderr
    assert os.listdir(out_dir) == ["o.mp4"]


def test_bad_preset_is_one_line(tmp_path, clip, model):
    r = stylise(clip, tmp_path / "o.mp4", model, "--preset", "quick")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "not an x264 preset" in lines[0], r.stderr
    assert os.listdir(tmp_path) == []


def test_nvenc_by_name_is_used_or_refused_in_one_line(tmp_path, clip, model):
    """Without an NVIDIA GPU (CI), an explicit --encoder nvenc fails in one line (no
    silent fallback, docs/hardening.md); with one, h264_nvenc encodes and nothing is
    said. `auto` falls back to libx264 with at most one note."""
    r = stylise(clip, tmp_path / "o.mp4", model, "--encoder", "nvenc", "--end", "0.4",
                "--preset", "ultrafast")
    lines = r.stderr.strip().splitlines()
    if r.returncode == 2:
        assert len(lines) == 1 and lines[0].startswith("rtstyle: error: --encoder nvenc is "
                                                       "unavailable here"), r.stderr
        assert not (tmp_path / "o.mp4").exists()
    else:
        assert r.returncode == 0 and not lines, r.stderr
    r = stylise(clip, tmp_path / "a.mp4", model, "--encoder", "auto", "--end", "0.4",
                "--preset", "ultrafast")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) <= 1, r.stderr
    if lines:
        assert re.match(r"rtstyle: h264_nvenc unavailable \(.+\); encoding with libx264$",
                        lines[0]), lines[0]
    v, _ = by_kind(tmp_path / "a.mp4")
    assert v.codec == "h264" and v.packets == 10


def truncate(path, keep):
    path.write_bytes(path.read_bytes()[:int(path.stat().st_size * keep)])
    return path


@pytest.mark.parametrize("case,message", [
    ("missing", "does not exist"),
    ("text", "not a video file"),
    ("image", "still image"),
    ("truncated_index", "corrupt or truncated"),
    ("truncated_data", "truncated"),
    ("audio_only", "no video stream"),
])
def test_bad_inputs(tmp_path, model, case, message):
    src = tmp_path / "in" / "input.mp4"
    src.parent.mkdir()
    if case == "text":
        src.write_text("hello, I am not a video\n")
    elif case == "image":
        src = src.with_suffix(".png")
        subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48",
                        "-frames:v", "1", str(src)], check=True)
    elif case == "truncated_index":  # MP4 index at the end, cut off
        truncate(make_clip(src), 0.6)
    elif case == "truncated_data":  # index first, frames cut off
        truncate(make_clip(src, extra=["-movflags", "+faststart"]), 0.6)
    elif case == "audio_only":
        src = src.with_suffix(".m4a")
        subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "sine=duration=1",
                        str(src)], check=True)
    out = tmp_path / "out"
    out.mkdir()
    r = stylise(src, out / "o.mp4", model)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtstyle: error:"), r.stderr
    assert re.search(message, lines[0]), lines[0]
    assert os.listdir(out) == []


@pytest.mark.parametrize("case,message", [
    ("same", "is the input"),
    ("no_folder", "does not exist"),
    ("not_writable", "could not write|cannot write"),
    ("extension", "extension"),
])
def test_bad_outputs(tmp_path, clip, model, case, message):
    before = clip.read_bytes()
    dst = {"same": clip, "no_folder": tmp_path / "nope" / "o.mp4",
           "not_writable": "/proc/o.mp4", "extension": tmp_path / "o.xyz"}[case]
    r = stylise(clip, dst, model)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtstyle: error:"), r.stderr
    assert re.search(message, lines[0]), lines[0]
    assert sorted(os.listdir(tmp_path)) == []
    assert clip.read_bytes() == before  # the input is untouched


def test_full_disk_leaves_nothing(tmp_path, clip, model):
    """A file-size limit makes the encoder's writes fail as a full disk would."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    out = tmp_path / "out"
    out.mkdir()
    r = stylise(clip, out / "o.mp4", model, "--max-size", "320", "--crf", "0",
                preexec_fn=limit)
    assert r.returncode == 2, r.stderr
    assert "could not write" in r.stderr and "disk space" in r.stderr
    assert os.listdir(out) == []
