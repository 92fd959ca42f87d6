"""On-device mode's speed: FPS of /?on=device in headless Chromium (WASM here), per
precision, interleaved in one run so the machine's load hits each alike (issue 27).

The fake camera is the built-in sample photo at 640x480; the page's own loop is timed
(frames drawn per second, camera grab + inference + putImageData) and, separately, the
mean time of `session.run`. Usage (a few minutes; npm-fetched runtime needed):
  nice python benchmarks/serve_device.py OUT.json [--rounds 2] [--seconds 10]
      [--precision fp32 --precision fp16 --precision int8] [--shots docs/]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    from serve_browser_driver import in_loopback_namespace
    from serve_figures import machine
    from video_media import FFMPEG

    from rtstyle.styles.preview import SAMPLE_PHOTO

    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--precision", action="append", default=None)
    ap.add_argument("--gallery", default="", help="also screenshot the page at WxH,WxH")
    ap.add_argument("--shots", type=Path, default=None, help="copy the screenshots here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtstyle-device-bench-") as tmp:
        tmp = Path(tmp)
        photo, y4m, out, work = tmp / "photo.png", tmp / "cam.y4m", tmp / "out", tmp / "cwd"
        out.mkdir()
        work.mkdir()
        cv2.imwrite(str(photo), cv2.resize(cv2.imread(str(SAMPLE_PHOTO)), (640, 480),
                                           interpolation=cv2.INTER_AREA))
        subprocess.run([FFMPEG, "-v", "error", "-y", "-loop", "1", "-framerate", "30", "-i",
                        str(photo), "-vf", "format=yuv420p", "-frames:v", "10", str(y4m)],
                       check=True)
        before = machine()
        args = ["--y4m", str(y4m), "--out", str(out), "--cwd", str(work), "--rounds",
                str(a.rounds), "--seconds", str(a.seconds), "--gallery", a.gallery]
        for p in a.precision or ["fp32", "fp16", "int8"]:
            args += ["--precision", p]
        r = in_loopback_namespace(args, script=str(ROOT / "tests" / "serve_device_driver.py"))
        if r.returncode != 0:
            sys.exit(r.stderr[-3000:])
        got = json.loads((out / "result.json").read_text())
        rows = [{"precision": d["precision"], "fps": d["fps"],
                 "run_ms": round(d["state"]["ms"], 1), "backend": d["state"]["backend"],
                 "threads": d["state"]["threads"], "isolated": d["state"]["isolated"]}
                for d in got["device"]]
        for row in rows:
            print(row)
        if a.shots:
            for png in out.glob("page-*.png"):
                shutil.copy(png, a.shots / png.name)
        a.out.write_text(json.dumps({"machine_before": before, "machine_after": machine(),
                                     "size": [640, 480], "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
