"""Webcam frame rate while an instant net trains in the background (the live hand-over).

    python benchmarks/instant_live_fps.py PAINTING OUT.json [--frames 300] [--size 640x480]
        [--style udnie-lite] [--rounds 2]

Runs `rtstyle webcam --demo --no-display` on a lite net, alternately alone and while
live.instant.InstantJob trains a net for PAINTING exactly as the `t` key and serve's
upload do (a spawned process, os.nice, one torch thread), and reports each run's
end-to-end and engine FPS from --stats-json. Uses $RTSTYLE_HOME for the trained style.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rtstyle.files import write_bytes_atomic
from rtstyle.live.instant import InstantJob
from rtstyle.live.sources.demo import landscape


def webcam(args, stats: Path) -> dict:
    subprocess.run([sys.executable, "-m", "rtstyle", "webcam", "--demo", "--no-display",
                    "--style", args.style, "--size", args.size, "--max-frames",
                    str(args.frames), "--stats-json", str(stats)], check=True,
                   capture_output=True)
    s = json.loads(stats.read_text())
    return {k: s[k] for k in ("fps_end_to_end", "fps_engine", "latency_ms_p50",
                              "frames_captured", "frames_processed", "frames_dropped")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("painting", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--style", default="udnie-lite")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    rows = []
    for r in range(args.rounds):
        for training in (False, True):
            job = None
            if training:
                job = InstantJob(args.painting, [landscape(640, 480)], seconds=600)
                while job.fraction == 0 and job.running:  # until its first step is done
                    time.sleep(0.5)
                    job.poll()
            t0 = time.monotonic()
            row = {"round": r, "training": training,
                   **webcam(args, tmp / f"stats-{r}-{training}.json"),
                   "wall_s": round(time.monotonic() - t0, 1)}
            if job is not None:
                job.poll()
                row["training_fraction_during"] = job.fraction
                job.cancel()
            print(json.dumps(row), flush=True)
            rows.append(row)
    write_bytes_atomic(args.out, json.dumps({
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_at_end": os.getloadavg(), "size": args.size, "style": args.style,
        "cpus": os.cpu_count(), "rows": rows}, indent=1).encode())


if __name__ == "__main__":
    main()
