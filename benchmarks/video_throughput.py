"""Video-mode throughput against engine-only throughput, same frames, size and engine.

engine-only: the frames are decoded into memory first, then only `engine.run` is timed
(batches of --batch). video mode: `stylise_video` on the same clip range (decode, infer,
encode with audio, in their threads), timed from start to the finished file; the probe
pass is reported separately. Rounds alternate (engine, video, engine, video, ...) so
load from other processes on a shared machine hits both alike, and CPU time per frame
(ours plus the ffmpeg processes') is reported too, as load-independent evidence of what
the pipeline adds, with the share of video mode's wall time the engine spent running
(100 % = the pipeline never kept it waiting). Target (issue 4): video mode >= 95 % of
engine-only FPS.

    python benchmarks/video_throughput.py [--video vtest.avi] [--frames 60] [--max-size 320]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from rtstyle.bench.inputs import default_assets

ROOT = Path(__file__).resolve().parents[1]
ASSETS = default_assets()  # $RTSTYLE_ASSETS, else ../shared/assets


class TimedEngine:
    """Wraps an engine and adds up the wall time spent inside `run`: the share of video
    mode's wall time spent there shows whether the pipeline ever keeps the net waiting."""

    def __init__(self, inner) -> None:
        self.inner, self.seconds = inner, 0.0
        self.backend, self.name = inner.backend, inner.name

    def run(self, frames: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return self.inner.run(frames)
        finally:
            self.seconds += time.perf_counter() - t0


def cpu_seconds() -> float:
    """CPU time used so far by this process and its finished children (the ffmpegs):
    unlike wall time, it does not depend on what else the machine is running."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                  resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", type=Path, default=ASSETS / "videos" / "vtest.avi")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--max-size", type=int, default=320)
    ap.add_argument("--style", default="udnie")
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path,
                    default=ROOT / "benchmarks" / "video_throughput_results.json")
    args = ap.parse_args()

    from rtstyle.engines import open_engine
    from rtstyle.styles.catalogue import find_style, import_style
    from rtstyle.video.decode import FrameReader
    from rtstyle.video.probe import probe_video
    from rtstyle.video.stylise import frame_size, stylise_video

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        try:
            find_style(args.style)
        except Exception:  # not installed here: import the published ml5 checkpoint
            os.environ["RTSTYLE_HOME"] = str(tmp / "home")
            import_style(ASSETS / "styles-ml5" / args.style)
        engine = open_engine(args.style, args.backend, args.threads)

        t0 = time.perf_counter()
        info = probe_video(args.video)
        end = args.frames / float(info.fps)
        probe_s = time.perf_counter() - t0
        w, h = frame_size(info.width, info.height, args.max_size)
        frames = np.stack(list(FrameReader(args.video, (w, h), (info.width, info.height),
                                           None, end)))
        engine.warmup(h, w)

        engine_fps, video_fps, engine_cpu, video_cpu, busy = [], [], [], [], []
        for r in range(args.rounds):
            c0, t0 = cpu_seconds(), time.perf_counter()
            for i in range(0, len(frames), args.batch):
                engine.run(frames[i:i + args.batch])
            engine_fps.append(len(frames) / (time.perf_counter() - t0))
            engine_cpu.append(1000 * (cpu_seconds() - c0) / len(frames))
            c0, timed = cpu_seconds(), TimedEngine(engine)
            res = stylise_video(timed, args.video, tmp / f"out{r}.mp4", max_size=args.max_size,
                                end=end, batch=args.batch, progress=False)
            video_cpu.append(1000 * (cpu_seconds() - c0) / len(frames))
            busy.append(100 * timed.seconds / res.seconds)
            assert res.frames == len(frames)
            video_fps.append(res.fps)
            print(f"round {r}: engine-only {engine_fps[-1]:.2f} fps {engine_cpu[-1]:.0f} CPU "
                  f"ms/frame; video {video_fps[-1]:.2f} fps {video_cpu[-1]:.0f} CPU ms/frame, "
                  f"engine busy {busy[-1]:.1f} % of the time", flush=True)

    e, v = statistics.median(engine_fps), statistics.median(video_fps)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared with other jobs",
        "video": args.video.name, "frames": len(frames), "size": f"{w}x{h}",
        "style": args.style, "backend": engine.backend, "threads": args.threads,
        "batch": args.batch, "engine_fps_rounds": [round(x, 3) for x in engine_fps],
        "video_fps_rounds": [round(x, 3) for x in video_fps],
        "engine_fps_median": round(e, 3), "video_fps_median": round(v, 3),
        "video_over_engine_percent": round(100 * v / e, 1),
        "video_engine_busy_percent_rounds": [round(x, 1) for x in busy],
        "engine_cpu_ms_per_frame_median": round(statistics.median(engine_cpu), 1),
        "video_cpu_ms_per_frame_median": round(statistics.median(video_cpu), 1),
        "video_cpu_overhead_percent": round(
            100 * (statistics.median(video_cpu) / statistics.median(engine_cpu) - 1), 1),
        "probe_pass_s": round(probe_s, 2),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
