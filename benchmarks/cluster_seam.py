"""How big is the `--stabilize` seam at segment cuts? Stylise one clip with `rtstyle video`
and with `rtstyle batch` (cut every --segment-seconds), both --stabilize and --crf 0, and
print the PSNR between the two for the frames after each cut (elsewhere they are equal:
the only difference is that the stabiliser restarts at a cut), and the flicker metric of
both outputs.

    python benchmarks/cluster_seam.py [--seconds 12] [--segment-seconds 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np

from rtstyle.bench.inputs import default_assets
from rtstyle.cluster.segments import plan_cuts, read_layout
from rtstyle.metrics import flicker, psnr


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(c.streams.video[0])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--segment-seconds", type=float, default=3)
    ap.add_argument("--style", default="udnie-lite")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-ss", "20", "-i",
                        str(default_assets() / "videos" / "vtest.avi"), "-t",
                        str(args.seconds), "-vf", "scale=192:144", "-c:v", "libx264", "-g",
                        "10", "-pix_fmt", "yuv420p", str(clip)], check=True)
        common = ["--style", args.style, "--crf", "0", "--stabilize"]
        rt = [sys.executable, "-m", "rtstyle"]
        subprocess.run([*rt, "video", str(clip), "-o", f"{tmp}/single.mp4", *common],
                       check=True, capture_output=True)
        subprocess.run([*rt, "batch", str(clip), "-o", f"{tmp}/b", "--workers", "2",
                        "--segment-seconds", str(args.segment_seconds), *common],
                       check=True, capture_output=True)
        single, batch = frames(Path(tmp) / "single.mp4"), frames(Path(tmp) / "b/clip.mp4")
        content = frames(clip)
        layout = read_layout(clip)  # where batch cut: the same plan it used
        cuts = sorted(round(layout.times[i] * len(content) / layout.duration)
                      for i in plan_cuts(layout, args.segment_seconds))
    scores = [psnr(a, b) for a, b in zip(single, batch, strict=True)]
    print(f"{len(scores)} frames, segments start at frames {cuts}")
    print(f"before the first cut: {np.mean(scores[:cuts[0]]):.1f} dB (inf: equal)")
    for k in range(8):
        vals = [scores[c + k] for c in cuts if c + k < len(scores)]
        print(f"frame {k} after a cut: PSNR batch vs single {np.mean(vals):.1f} dB")
    print(f"flicker: single-process {flicker(single, content):.2f}, "
          f"batch {flicker(batch, content):.2f}, unstylised {flicker(content, content):.2f}")


if __name__ == "__main__":
    main()
