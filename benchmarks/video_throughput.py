"""Video-mode throughput against engine-only throughput, and against another rtstyle tree.

On the clip `rtstyle bench` times its pipelines with (640x480, 30 fps, a slow pan over
the bench photos) and the engine it picks (default openvino-int8), for the full and the
lite net, each round runs, in this order and each in a fresh process:

- engine: the frames decoded into memory first, then only `engine.run` timed (batches
  of --batch);
- video: `stylise_video` (what `rtstyle video` runs) of this tree, timed from the call
  to the finished file (start-up, i.e. the time to the first encoded frame, is reported
  separately, and FPS without it);
- old (with --old TREE): the same call in another checkout of rtstyle, e.g. the commit
  before PyAV (`git worktree add /tmp/old-video a592ed0`).

Rounds interleave the three (A B C A B C ...), so load from other processes on a shared
machine hits all alike. Each video run also reports the output's PSNR against the
engine's own stylised frames (every 10th frame), its size in MB per minute of video, the
peak RSS, and the CPU time per frame (with the old tree's ffmpeg processes): on a busy
machine, wall-clock FPS follows the load, CPU time much less. With --rss VIDEO it
instead stylises VIDEO (e.g. a 10-minute 720p clip) once with `rtstyle video`, sampling
its RSS every second.

    python benchmarks/video_throughput.py --old /tmp/old-video [--rounds 2]
    python benchmarks/video_throughput.py --rss clip720.mp4 --max-size 320
    python benchmarks/video_throughput.py --presets --lite-frames 90
    python benchmarks/video_throughput.py --split --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "video_throughput_results.json"
FPS = 30


def worker(args: argparse.Namespace) -> None:
    """One timed run in this process; prints one JSON line."""
    import numpy as np

    from rtstyle.engines import open_engine
    from rtstyle.metrics import psnr
    from rtstyle.video.decode import FrameReader
    from rtstyle.video.stylise import stylise_video

    w, h = args.size
    end = args.frames / FPS
    engine = open_engine(args.spec, args.backend, args.threads)
    engine.warmup(h, w, runs=1)
    rec: dict = {"mode": args.worker, "frames": args.frames}
    if args.worker == "engine":
        frames = np.stack(list(FrameReader(args.clip, (w, h), (w, h), None, end)))
        c0, t0 = cpu_seconds(), time.perf_counter()
        for i in range(0, len(frames), args.batch):
            engine.run(frames[i:i + args.batch])
        rec["seconds"] = time.perf_counter() - t0
        rec["fps"] = len(frames) / rec["seconds"]
        rec["cpu_ms_per_frame"] = 1000 * (cpu_seconds() - c0) / len(frames)
    else:
        out = Path(args.tmp) / f"{args.worker}.mp4"
        extra = {"preset": args.preset, "decode_threads": args.decode_threads,
                 "encode_threads": args.encode_threads} if args.worker == "video" else {}
        c0, t0 = cpu_seconds(), time.perf_counter()
        res = stylise_video(engine, args.clip, out, size=(w, h), end=end, batch=args.batch,
                            progress=False, **extra)
        wall = time.perf_counter() - t0
        rec["cpu_ms_per_frame"] = 1000 * (cpu_seconds() - c0) / res.frames
        rec.update(seconds=wall, fps=res.frames / wall, frames=res.frames,
                   mb_per_min=out.stat().st_size / 1e6 / (res.frames / FPS / 60))
        if hasattr(res, "startup"):
            rec["startup_s"] = res.startup
            rec["fps_after_startup"] = (res.frames - 1) / max(1e-9, wall - res.startup)
            rec["encoder"] = res.encoder
        # PSNR of what was written against the engine's own output (every 10th frame).
        content = list(FrameReader(args.clip, (w, h), (w, h), None, end))[::10]
        written = list(FrameReader(out, (w, h), (w, h)))[::10]
        styled = [engine.run(c[None])[0] for c in content]
        rec["psnr_db"] = float(np.mean([psnr(a, b) for a, b in zip(styled, written,
                                                                    strict=True)]))
    rec["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.close()
    print("RESULT " + json.dumps(rec), flush=True)


def cpu_seconds() -> float:
    """CPU time used so far by this process and its finished children (the old pipeline's
    ffmpeg processes): unlike wall time, it hardly depends on what else the machine runs."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                  resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), platform.processor())
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu,
            "cores": os.cpu_count(), "load_average_1_5_15min": os.getloadavg()}


def run_worker(mode: str, tree: Path, spec: str, backend: str, clip: Path, frames: int,
               args: argparse.Namespace, tmp: Path) -> dict:
    w, h = args.size
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", mode, "--spec", spec,
           "--backend", backend, "--clip", str(clip), "--frames", str(frames),
           "--size-wh", f"{w}x{h}", "--threads", str(args.threads), "--batch",
           str(args.batch), "--preset", args.preset, "--tmp", str(tmp),
           "--decode-threads", str(args.decode_threads),
           "--encode-threads", str(args.encode_threads)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tree)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if r.returncode != 0 or line is None:
        sys.exit(f"{mode} run failed:\n{r.stderr[-3000:]}")
    return json.loads(line[7:])


def throughput(args: argparse.Namespace) -> None:
    from rtstyle.bench.engines import default_variants
    from rtstyle.bench.inputs import BenchInputs, default_assets, find_photos
    from rtstyle.bench.models import resolve_models
    from rtstyle.bench.pipelines import make_clip

    assets = default_assets()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("RTSTYLE_HOME", str(tmp / "home"))
        w, h = args.size
        inputs = BenchInputs(find_photos(assets / "photos"))
        clip = make_clip(inputs, tmp / "clip.avi", max(args.frames.values()), size=(h, w))
        calib = sorted((assets / "train-photos").glob("*.jpg"))[:16] or None
        variant = default_variants(tmp, calib)[args.engine]
        models, _ = resolve_models(list(args.frames), "udnie", None, tmp)
        result = {"machine_before": machine(), "engine": args.engine, "size": f"{w}x{h}",
                  "threads": args.threads, "batch": args.batch, "preset": args.preset,
                  "clip": f"rtstyle.bench.pipelines.make_clip, MJPG AVI, {FPS} fps",
                  "old_tree": str(args.old) if args.old else None, "models": {}}
        trees = [("engine", ROOT), ("video", ROOT)] + ([("old", args.old)] if args.old else [])
        for model in models:
            spec, n = variant.spec(model), args.frames[model.key]
            runs: dict[str, list[dict]] = {mode: [] for mode, _ in trees}
            for r in range(args.rounds):
                for mode, tree in trees:
                    rec = run_worker(mode, tree, spec, variant.backend, clip, n, args, tmp)
                    runs[mode].append(rec)
                    print(f"{model.key} round {r} {mode}: " + ", ".join(
                        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in rec.items()), flush=True)
            med = {mode: statistics.median(x["fps"] for x in recs)
                   for mode, recs in runs.items()}
            cpu = {mode: round(statistics.median(x["cpu_ms_per_frame"] for x in recs), 1)
                   for mode, recs in runs.items()}
            summary = {"frames": n, "weights": model.weights, "runs": runs,
                       "fps_median": {k: round(v, 2) for k, v in med.items()},
                       "cpu_ms_per_frame_median": cpu,
                       "video_vs_engine": round(med["video"] / med["engine"], 3)}
            if "old" in med:
                summary["old_vs_engine"] = round(med["old"] / med["engine"], 3)
            result["models"][model.key] = summary
            print(json.dumps({k: v for k, v in summary.items() if k != "runs"}), flush=True)
        result["machine_after"] = machine()
    result["command"] = "python benchmarks/video_throughput.py " + " ".join(sys.argv[1:])
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {args.out}")


def rss(args: argparse.Namespace) -> None:
    """`rtstyle video` on a long clip, sampling the process's RSS every second."""
    from rtstyle.bench.models import resolve_models

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("RTSTYLE_HOME", str(tmp / "home"))
        (model,), _ = resolve_models(["lite"], "udnie", None, tmp)
        cmd = [sys.executable, "-m", "rtstyle", "video", str(args.rss), "-o",
               str(tmp / "out.mp4"), "--style", model.spec, "--backend", args.rss_backend,
               "--threads", str(args.threads), "--preset", args.preset]
        if args.max_size:
            cmd += ["--max-size", str(args.max_size)]
        if args.rss_end:
            cmd += ["--end", str(args.rss_end)]
        before = machine()
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples = []
        while proc.poll() is None:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                kb = int(next(ln.split()[1] for ln in status.splitlines()
                              if ln.startswith("VmRSS:")))
                samples.append((round(time.monotonic() - t0, 1), round(kb / 1024, 1)))
            except (OSError, StopIteration):
                pass
            time.sleep(1.0)
        out, err = proc.communicate()
        if proc.returncode != 0:
            sys.exit(err[-3000:])
        size = (tmp / "out.mp4").stat().st_size
    wall = time.monotonic() - t0
    tail = [s for s in samples if s[0] >= 0.2 * wall]  # past loading and warm-up
    ts, mb = [s[0] for s in tail], [s[1] for s in tail]
    tm, mm = statistics.mean(ts), statistics.mean(mb)
    slope = sum((t - tm) * (m - mm) for t, m in zip(ts, mb, strict=True)) / max(
        1e-9, sum((t - tm) ** 2 for t in ts)) * 60
    result = {"machine_before": before, "machine_after": machine(), "video": str(args.rss),
              "command": " ".join(["rtstyle", *cmd[3:]]), "summary": out.strip(),
              "wall_s": round(wall, 1), "output_mb": round(size / 1e6, 1),
              "rss_peak_mb": max(s[1] for s in samples),
              "rss_at_20_50_90_percent_mb": [
                  next(s[1] for s in samples if s[0] >= q * wall) for q in (0.2, 0.5, 0.9)],
              "rss_slope_mb_per_min_after_20_percent": round(slope, 3),
              "samples_every_10": samples[::10]}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "samples_every_10"}, indent=2))


SPLITS = [(2, 1, 1), (2, 1, 2), (2, 2, 1), (2, 2, 2), (1, 1, 1)]  # net, decode, encode


def split(args: argparse.Namespace) -> None:
    """The lite net's video with the cores split several ways between the net's threads
    and the decoder's and encoder's codec threads, rounds interleaved: FPS and CPU ms."""
    from rtstyle.bench.engines import default_variants
    from rtstyle.bench.inputs import BenchInputs, default_assets, find_photos
    from rtstyle.bench.models import resolve_models
    from rtstyle.bench.pipelines import make_clip

    assets = default_assets()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("RTSTYLE_HOME", str(tmp / "home"))
        w, h = args.size
        n = args.lite_frames
        clip = make_clip(BenchInputs(find_photos(assets / "photos")), tmp / "clip.avi", n,
                         size=(h, w))
        calib = sorted((assets / "train-photos").glob("*.jpg"))[:16] or None
        variant = default_variants(tmp, calib)[args.engine]
        (model,), _ = resolve_models(["lite"], "udnie", None, tmp)
        spec = variant.spec(model)
        runs: dict[str, list[dict]] = {}
        before = machine()
        for r in range(args.rounds):
            for net, dec, enc in SPLITS:
                key = f"net {net}, decode {dec}, encode {enc}"
                args.threads, args.decode_threads, args.encode_threads = net, dec, enc
                rec = run_worker("video", ROOT, spec, variant.backend, clip, n, args, tmp)
                runs.setdefault(key, []).append(rec)
                print(f"round {r} {key}: fps={rec['fps']:.1f} "
                      f"cpu_ms={rec['cpu_ms_per_frame']:.1f}", flush=True)
    result = {"machine_before": before, "machine_after": machine(), "engine": args.engine,
              "size": f"{w}x{h}", "frames": n, "preset": args.preset,
              "command": "python benchmarks/video_throughput.py " + " ".join(sys.argv[1:]),
              "splits": {k: {"fps_median": round(statistics.median(x["fps"] for x in v), 1),
                             "cpu_ms_per_frame_median": round(statistics.median(
                                 x["cpu_ms_per_frame"] for x in v), 1),
                             "fps_runs": [round(x["fps"], 1) for x in v]}
                         for k, v in runs.items()}}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["splits"], indent=1))


def presets(args: argparse.Namespace) -> None:
    """Encode the same frames (the bench clip, stylised by the lite net) at each x264 preset,
    one encoder thread, rounds interleaved: encode ms per frame, MB per minute, PSNR."""
    import numpy as np

    from rtstyle.bench.inputs import BenchInputs, default_assets, find_photos
    from rtstyle.bench.models import resolve_models
    from rtstyle.bench.pipelines import make_clip
    from rtstyle.engines import open_engine
    from rtstyle.metrics import psnr
    from rtstyle.video.decode import FrameReader
    from rtstyle.video.encode import PRESETS, VideoFileWriter

    w, h = args.size
    names = [p for p in PRESETS if p not in ("slower", "veryslow")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("RTSTYLE_HOME", str(tmp / "home"))
        clip = make_clip(BenchInputs(find_photos(default_assets() / "photos")),
                         tmp / "clip.avi", args.lite_frames, size=(h, w))
        (model,), _ = resolve_models(["lite"], "udnie", None, tmp)
        engine = open_engine(model.spec, "torch", args.threads)
        content = list(FrameReader(clip, (w, h)))
        styled = [engine.run(c[None])[0] for c in content]
        before = machine()
        times: dict[str, list[float]] = {p: [] for p in names}
        result: dict = {}
        for _ in range(args.rounds):
            for preset in names:
                out = tmp / f"{preset}.mp4"
                t0 = time.perf_counter()
                with VideoFileWriter(out, FPS, (w, h), 18, preset=preset) as wr:
                    for f in styled:
                        wr.write(f)
                times[preset].append(1000 * (time.perf_counter() - t0) / len(styled))
                back = list(FrameReader(out, (w, h)))
                result[preset] = {
                    "mb_per_min": round(out.stat().st_size / 1e6 / (len(styled) / FPS / 60), 2),
                    "psnr_db": round(float(np.mean([psnr(a, b) for a, b in
                                                    zip(styled, back, strict=True)])), 2)}
        for preset in names:
            result[preset]["encode_ms_per_frame"] = round(statistics.median(times[preset]), 2)
            print(preset, result[preset], flush=True)
    out = {"machine_before": before, "machine_after": machine(), "size": f"{w}x{h}",
           "frames": len(styled), "crf": 18, "encoder_threads": 1,
           "command": "python benchmarks/video_throughput.py " + " ".join(sys.argv[1:]),
           "presets": result}
    (args.out or ROOT / "benchmarks" / "video_presets_results.json").write_text(
        json.dumps(out, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", type=Path, default=None, help="another rtstyle checkout")
    ap.add_argument("--engine", default="openvino-int8", help="a `rtstyle bench` engine name")
    ap.add_argument("--full-frames", type=int, default=40)
    ap.add_argument("--lite-frames", type=int, default=300)
    ap.add_argument("--models", default="full,lite")
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--preset", default=None, help="x264 preset (default: rtstyle video's)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--rss", type=Path, default=None, metavar="VIDEO")
    ap.add_argument("--split", action="store_true",
                    help="time the lite net's video with the cores split several ways")
    ap.add_argument("--decode-threads", type=int, default=1)
    ap.add_argument("--encode-threads", type=int, default=1)
    ap.add_argument("--presets", action="store_true",
                    help="time and size each x264 preset on the lite net's output")
    ap.add_argument("--rss-backend", default="openvino")
    ap.add_argument("--rss-end", type=float, default=None, metavar="S",
                    help="stylise only the first S seconds of the --rss video")
    ap.add_argument("--max-size", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    # worker mode (one run in a fresh process)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    ap.add_argument("--backend", help=argparse.SUPPRESS)
    ap.add_argument("--clip", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--frames", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--size-wh", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.size = tuple(int(v) for v in (args.size_wh or args.size).split("x"))
    if args.worker:
        return worker(args)
    if args.preset is None:  # this tree's default (workers are told it explicitly)
        from rtstyle.video.encode import DEFAULT_PRESET
        args.preset = DEFAULT_PRESET
    if args.presets:
        return presets(args)
    if args.split:
        args.out = args.out or ROOT / "benchmarks" / "video_split_results.json"
        return split(args)
    if args.rss:
        args.out = args.out or ROOT / "benchmarks" / "video_rss_results.json"
        return rss(args)
    args.out = args.out or OUT
    counts = {"full": args.full_frames, "lite": args.lite_frames}
    args.frames = {k: counts[k] for k in args.models.split(",")}
    throughput(args)


if __name__ == "__main__":
    main()
