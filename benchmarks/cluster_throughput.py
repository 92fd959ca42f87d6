"""Cluster mode against plain `rtstyle video` on the same files: throughput with 1 and 2
Ray workers, and what Ray itself costs (start, engine loading per worker, transfers).

Each configuration runs the real command in a subprocess, timed from start to exit, in
interleaved rounds (video, batch 1 worker, batch 2 workers, video, ...) so that load from
other processes on a shared machine hits all of them alike. `batch` prints how much of
its time was Ray start-up plus engine loading; the rest is cutting, stylising, transfers
and joining.

    python benchmarks/cluster_throughput.py [--rounds 2] [--max-size 320] [--style udnie-lite]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rtstyle.bench.inputs import default_assets

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return took, r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", nargs="+", default=["videos/vtest.avi",
                                                    "videos/bigbuckbunny.mp4"],
                    help="files, relative to the assets folder or absolute")
    ap.add_argument("--style", default="udnie-lite")
    ap.add_argument("--max-size", type=int, default=320)
    ap.add_argument("--segment-seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "cluster_results.json")
    args = ap.parse_args()

    assets = default_assets()
    videos = [Path(v) if Path(v).is_absolute() else assets / v for v in args.videos]
    common = ["--style", args.style, "--max-size", str(args.max_size)]
    rt = [sys.executable, "-m", "rtstyle"]
    frames = 0
    results: dict[str, list[dict]] = {"video": [], "batch-1": [], "batch-2": []}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "in"
        inbox.mkdir()
        for v in videos:  # `rtstyle video` takes one file or one folder: link them into one
            (inbox / v.name).symlink_to(v)
        for r in range(args.rounds):
            took, out = timed([*rt, "video", str(inbox), "-o", f"{tmp}/v{r}", *common])
            frames = sum(int(m) for m in re.findall(r": (\d+) frames at", out))
            results["video"].append({"seconds": took})
            for n in (1, 2):
                took, out = timed([*rt, "batch", *map(str, videos), "-o", f"{tmp}/b{n}{r}",
                                   "--workers", str(n), "--segment-seconds",
                                   str(args.segment_seconds), *common])
                startup = float(re.search(r"engine loading ([\d.]+) s", out)[1])
                results[f"batch-{n}"].append({"seconds": took, "ray_startup": startup})
            print(f"round {r + 1}: " + ", ".join(
                f"{k} {v[-1]['seconds']:.1f} s" for k, v in results.items()), flush=True)
    summary = {}
    for k, runs in results.items():
        best = min(runs, key=lambda x: x["seconds"])
        summary[k] = {"seconds": [round(x["seconds"], 2) for x in runs],
                      "best_fps": round(frames / best["seconds"], 2),
                      "best_fps_after_startup": round(
                          frames / (best["seconds"] - best.get("ray_startup", 0)), 2),
                      "ray_startup": [x.get("ray_startup") for x in runs]}
    record = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu_model(),
              "cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg(),
              "videos": [v.name for v in videos], "frames": frames, "style": args.style,
              "max_size": args.max_size, "segment_seconds": args.segment_seconds,
              "command": "python benchmarks/cluster_throughput.py " + " ".join(sys.argv[1:]),
              "results": summary}
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
