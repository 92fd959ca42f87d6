"""Memory soak of the live pipeline: run `rtstyle webcam --demo` headless for a while and
sample its resident memory, then fit the slope (MB per minute) over the last part.

    python benchmarks/webcam_soak.py --minutes 30 --fit-minutes 20 --out soak.json

A leak shows as a steady positive slope; allocator noise as a flat line with jitter.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--fit-minutes", type=float, default=20.0)
    ap.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--style", default="udnie-lite")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    stats = args.out.with_suffix(".stats.json")
    cmd = [sys.executable, "-m", "rtstyle", "webcam", "--demo", "--no-display", "--style",
           args.style, "--threads", str(args.threads), "--stats-json", str(stats)]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    samples: list[tuple[float, float]] = []
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < args.minutes * 60 and proc.poll() is None:
            mb = rss_mb(proc.pid)
            if mb is not None:
                samples.append(((time.monotonic() - t0) / 60.0, mb))
            time.sleep(args.every)
    finally:
        proc.send_signal(2)  # Ctrl-C: the run writes its stats and exits
        proc.wait(timeout=120)
    t = np.array([s[0] for s in samples])
    m = np.array([s[1] for s in samples])
    tail = t >= t[-1] - args.fit_minutes
    slope = float(np.polyfit(t[tail], m[tail], 1)[0]) if tail.sum() > 2 else None
    result = {"command": " ".join(cmd[1:]), "minutes": float(t[-1]) if len(t) else 0.0,
              "fit_minutes": args.fit_minutes, "slope_mb_per_min": slope,
              "rss_mb_first": float(m[0]) if len(m) else None,
              "rss_mb_last": float(m[-1]) if len(m) else None,
              "rss_mb_max": float(m.max()) if len(m) else None,
              "samples": [[round(a, 3), round(b, 1)] for a, b in samples],
              "run": json.loads(stats.read_text()) if stats.exists() else None}
    args.out.write_text(json.dumps(result, indent=1))
    print(f"slope over the last {args.fit_minutes:g} min: {slope:+.3f} MB/min; "
          f"RSS {result['rss_mb_first']:.0f} -> {result['rss_mb_last']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
