"""`rtstyle batch` on a real local Ray (2 CPUs, no dashboard) against single-process
`rtstyle video`: same frames, timestamps, duration and audio, also when a worker is killed."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import asset, cli, loopback_namespace_problem

av = pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[dev]')")
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[dev]')")

pytestmark = [pytest.mark.slow, pytest.mark.assets]

FFMPEG = __import__("imageio_ffmpeg").get_ffmpeg_exe()
COMMON = ["--style", "udnie-lite", "--max-size", "160", "--crf", "0"]
SINE = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]


def _ffmpeg(*args: str) -> None:
    r = subprocess.run([FFMPEG, "-v", "error", "-y", *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """Three short clips (H.264 with and without AAC audio, MPEG-4 in AVI), one of 8 s with
    a keyframe every second and B-frames, and the same with every 4th frame dropped
    (variable frame rate), from the sample videos."""
    vtest, bunny = asset("videos/vtest.avi"), asset("videos/bigbuckbunny.mp4")
    d = tmp_path_factory.mktemp("clips")
    h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast"]
    _ffmpeg("-ss", "10", "-i", str(vtest), *SINE, "-t", "2", "-vf", "scale=192:144", *h264,
            "-c:a", "aac", "-shortest", str(d / "walk.mp4"))
    _ffmpeg("-ss", "40", "-i", str(vtest), "-t", "2", "-vf", "scale=128:96", "-c:v", "mpeg4",
            "-q:v", "3", str(d / "square.avi"))
    _ffmpeg("-i", str(bunny), "-t", "1.6", "-vf", "scale=160:90", *h264, "-an",
            str(d / "bunny.mp4"))
    _ffmpeg("-ss", "50", "-i", str(vtest), *SINE, "-t", "8", "-vf", "scale=160:120", *h264,
            "-g", "10", "-bf", "2", "-c:a", "aac", "-shortest", str(d / "long.mp4"))
    _ffmpeg("-i", str(d / "long.mp4"), "-vf", r"select=not(eq(mod(n\,4)\,1))", "-fps_mode",
            "vfr", *h264, "-g", "8", "-c:a", "copy", str(d / "gaps.mp4"))
    return [d / "walk.mp4", d / "square.avi", d / "bunny.mp4", d / "long.mp4",
            d / "gaps.mp4"]


@pytest.fixture(scope="module")
def references(clips, tmp_path_factory) -> Path:
    """Single-process `rtstyle video` of the clips' folder, with the same settings."""
    out = tmp_path_factory.mktemp("reference")
    r = cli("video", str(clips[0].parent), "-o", str(out), *COMMON)
    assert r.returncode == 0, r.stderr
    return out


IN_NETNS = os.environ.get("RTSTYLE_TEST_NETNS") == "1"


def test_ray_runs_in_a_loopback_only_network_namespace():
    """Ray 2.60 cannot be held to 127.0.0.1 (it takes this node's address and listens on
    every interface), so the Ray tests run in a network namespace of their own that has
    only loopback: this test re-runs this module there, where Ray falls back to
    127.0.0.1, and passes when every test inside passes."""
    if IN_NETNS:
        pytest.skip("already inside the namespace")
    problem = loopback_namespace_problem()
    if problem:
        pytest.skip(f"cannot make a loopback-only network namespace ({problem}); the Ray "
                    "tests never run on this machine's real interfaces")
    r = subprocess.run(
        ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" -m pytest -q -rs '
         f"-p no:cacheprovider {__file__}", sys.executable],
        env={**os.environ, "RTSTYLE_TEST_NETNS": "1"}, capture_output=True, text=True,
        timeout=900)
    summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-2000:]
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary.replace("1 skipped", ""), summary


@pytest.fixture(scope="module")
def cluster() -> str:
    """A real local Ray with 2 CPUs, on loopback only (see the namespace test above); the
    CLI joins it by address."""
    if not IN_NETNS:
        pytest.skip("runs inside its loopback-only namespace "
                    "(test_ray_runs_in_a_loopback_only_network_namespace)")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        address = ray.get_runtime_context().gcs_address
        assert address.startswith("127.0.0.1:"), address
        yield address
    finally:
        ray.shutdown()


def _video(path: Path) -> tuple[list[float], list[np.ndarray], float]:
    with av.open(str(path)) as c:
        frames = list(c.decode(c.streams.video[0]))
        return ([f.time for f in frames], [f.to_ndarray(format="bgr24") for f in frames],
                c.duration / 1e6)


def _audio_md5(path: Path) -> str | None:
    """Digest of the audio packets as stored (stream copy keeps them byte for byte)."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        h = hashlib.md5()
        for pkt in c.demux(c.streams.audio[0]):
            h.update(bytes(pkt))
        return h.hexdigest()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _assert_same(out: Path, ref: Path) -> None:
    t_out, f_out, d_out = _video(out)
    t_ref, f_ref, d_ref = _video(ref)
    assert len(f_out) == len(f_ref), f"{out.name}: {len(f_out)} frames, reference {len(f_ref)}"
    assert np.allclose(t_out, t_ref, atol=1e-3), f"{out.name}: timestamps differ"
    period = (t_ref[-1] - t_ref[0]) / max(1, len(t_ref) - 1)
    assert abs(d_out - d_ref) < period, f"{out.name}: duration {d_out} vs {d_ref}"
    worst = min(_psnr(a, b) for a, b in zip(f_out, f_ref, strict=True))
    assert worst >= 40, f"{out.name}: a frame is only {worst:.1f} dB from single-process"
    assert _audio_md5(out) == _audio_md5(ref), f"{out.name}: audio differs"


def _descendants(root: int) -> list[int]:
    """Processes under `root` (our Ray's workers are children of the raylet we started)."""
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1]
                                              .split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [root]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier]
        found += kids
        frontier = kids
    return found


def _busy_worker() -> int | None:
    """A worker of our Ray that is stylising a segment now (Ray titles it by the call)."""
    for pid in _descendants(os.getpid()):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::SegmentWorker.stylise"):
            return pid
    return None


def test_batch_matches_single_process_despite_a_killed_worker(clips, references, cluster,
                                                              tmp_path):
    """Five clips (the long ones in 4 segments each) and one broken file on 2 workers, and
    one worker SIGKILLed while it stylises a segment: Ray restarts it, the segment runs
    again, the five outputs equal `rtstyle video`'s, the broken file fails alone, and
    OUTDIR holds nothing else."""
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtstyle", "batch", *map(str, clips), str(broken), "-o",
         str(out), "--cluster", cluster, "--workers", "2", "--segment-seconds", "2", *COMMON],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "RTSTYLE_PROGRESS_SECONDS": "0"})  # a progress line per segment
    killed = None
    deadline = time.monotonic() + 180
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        if (pid := _busy_worker()) is not None:
            os.kill(pid, signal.SIGKILL)
            killed = pid
        time.sleep(0.01)
    stdout, stderr = proc.communicate(timeout=240)
    assert killed is not None, f"never saw a worker stylising: {stdout} {stderr}"
    assert proc.returncode == 2, stdout + stderr  # 2: the broken file
    assert "batch: 5 done, 1 retried, 1 failed" in stdout, stdout
    assert "1 segment run retried after a worker died" in stdout, stdout
    assert "long.mp4: 80 frames in 4 segments" in stdout, stdout
    assert "gaps.mp4: 60 frames in 4 segments" in stdout, stdout
    assert f"{broken}: FAILED: cannot read" in stdout, stdout
    # stderr is a pipe: plain progress lines, no redrawn bar
    progress = [x for x in stderr.splitlines() if x.startswith("batch: ")]
    assert progress and "frames/s" in progress[-1] and "\r" not in stderr, stderr
    assert sorted(p.name for p in out.iterdir()) == ["bunny.mp4", "gaps.mp4", "long.mp4",
                                                     "square.mp4", "walk.mp4"]
    for clip in clips:
        _assert_same(out / f"{clip.stem}.mp4", references / f"{clip.stem}.mp4")
    times = _video(out / "gaps.mp4")[0]  # and the gaps survived the cuts and the join
    assert len({round(b - a, 3) for a, b in zip(times, times[1:], strict=False)}) > 1


def test_batch_without_ray_says_what_to_install(tmp_path):
    """Where Ray is not installed, one line names the extra to install."""
    code = ("import sys; sys.modules['ray'] = None\n"
            "from rtstyle.cli import main\n"
            f"sys.exit(main(['batch', 'in.mp4', '-o', {str(tmp_path)!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "rtstyle: error: cluster mode needs Ray, which is not installed; install it with "
        "`pip install 'rtstyle[cluster]'`"]


def test_cuts_only_at_clean_keyframes(clips, tmp_path):
    """A keyframe that a later packet displays before (open GOP) is no cut point; the
    long clip is cut every 2 s and the segments hold every packet."""
    from rtstyle.cluster.segments import _clean_cut, plan_cuts, read_layout, split

    assert _clean_cut([0, 2, 1, 3, 6, 4, 5, 7], 4) is False  # 4, 5 show before key 6
    assert _clean_cut([0, 2, 1, 3, 4, 6, 5, 7], 4) is True
    layout = read_layout(clips[3])
    assert layout.packets == 80 and layout.keyframes == [10, 20, 30, 40, 50, 60, 70]
    cuts = plan_cuts(layout, 2.0)
    assert cuts == [20, 40, 60] and plan_cuts(layout, 0) == []
    pieces = split(layout, cuts, tmp_path)
    assert [p.packets for p in pieces] == [20] * 4
    assert [p.start for p in pieces] == pytest.approx([0.0, 2.0, 4.0, 6.0])
    assert [read_layout(p.path).packets for p in pieces] == [20] * 4


def test_unreachable_cluster_fails_fast_in_one_line(clips, tmp_path):
    if not IN_NETNS:
        pytest.skip("runs inside its loopback-only namespace "
                    "(test_ray_runs_in_a_loopback_only_network_namespace)")
    """An address where no Ray listens: one line at once, not Ray's minutes of retrying."""
    r = cli("batch", str(clips[0]), "-o", str(tmp_path / "out"), "--cluster", "127.0.0.1:1",
            "--style", "udnie-lite", timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "rtstyle: error: cannot reach the Ray cluster at 127.0.0.1:1 (Connection refused); "
        "give HEAD:6379 on a cluster node, ray://HEAD:10001 from outside, or auto"]
    assert not (tmp_path / "out" / "walk.mp4").exists()
