"""Flicker benchmark: does `rtstyle video --stabilize` cut flicker without smearing content?

Runs the real command twice on the same clip (plain per-frame stylisation, then
--stabilize), decodes both outputs and the content at the same size, and reports:
- flicker (rtstyle.metrics.flicker) of the content, the plain and the stabilised video;
- mean PSNR of the stabilised frames to the plain ones, over whole frames and over the
  pixels whose content changed (frames 1..N-1; frame 0 is identical by construction).
Targets (issue 4): flicker cut >= 50 %, PSNR >= 25 dB whole and >= 20 dB where changed.

    python benchmarks/flicker.py [--video vtest.avi] [--frames 200] [--max-size 320]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rtstyle.bench.inputs import default_assets

ROOT = Path(__file__).resolve().parents[1]
ASSETS = default_assets()  # $RTSTYLE_ASSETS, else ../shared/assets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", type=Path, default=ASSETS / "videos" / "vtest.avi")
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--max-size", type=int, default=320)
    ap.add_argument("--style", default="ml5:udnie",
                    help="ml5:NAME imports the published ml5 checkpoint from the assets into a "
                         "private catalogue (default ml5:udnie); else an installed style")
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "flicker_results.json")
    args = ap.parse_args()

    from rtstyle.metrics import flicker, masked_psnr, psnr, static_mask
    from rtstyle.styles.catalogue import find_style, import_style
    from rtstyle.video.decode import FrameReader
    from rtstyle.video.probe import probe_video

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = dict(os.environ)
        style = args.style
        if style.startswith("ml5:"):  # never a same-named style that happens to be installed
            env["RTSTYLE_HOME"] = os.environ["RTSTYLE_HOME"] = str(tmp / "home")
            style = import_style(ASSETS / "styles-ml5" / style[4:], name="ml5-" + style[4:]).name
        else:
            find_style(style)

        info = probe_video(args.video)
        end = args.frames / float(info.fps)
        outputs, runs = {}, {}
        for mode in ("plain", "stabilize"):
            out = tmp / f"{mode}.mp4"
            cmd = [sys.executable, "-m", "rtstyle", "video", str(args.video), "-o", str(out),
                   "--style", style, "--max-size", str(args.max_size), "--end", f"{end}",
                   "--backend", args.backend, "--threads", str(args.threads)]
            cmd += ["--stabilize"] if mode == "stabilize" else []
            t0 = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if r.returncode != 0:
                sys.exit(r.stderr)
            runs[mode] = {"command": " ".join(cmd[2:]).replace(str(tmp), "$TMP"),
                          "summary": r.stdout.strip(), "wall_s": time.perf_counter() - t0}
            print(r.stdout.strip(), flush=True)
            outputs[mode] = out

        def frames(path: Path, size=None, end=None) -> np.ndarray:
            i = probe_video(path)
            return np.stack(list(FrameReader(path, size or (i.width, i.height),
                                             (i.width, i.height), None, end)))

        plain, stab = frames(outputs["plain"]), frames(outputs["stabilize"])
        h, w = plain.shape[1:3]
        content = frames(args.video, (w, h), end)
        assert len(content) == len(plain) == len(stab), (len(content), len(plain), len(stab))

    f_content, f_plain, f_stab = (flicker(v, content) for v in (content, plain, stab))
    changed = [~static_mask(content[t], content[t - 1]) for t in range(1, len(content))]
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared",
        "video": args.video.name, "frames": len(content), "size": f"{w}x{h}",
        "style": args.style, "backend": args.backend, "threads": args.threads,
        "flicker_content": round(f_content, 3), "flicker_plain": round(f_plain, 3),
        "flicker_stabilized": round(f_stab, 3),
        "flicker_cut_percent": round(100 * (1 - f_stab / f_plain), 1),
        "psnr_whole_db": round(float(np.mean([psnr(stab[t], plain[t])
                                              for t in range(1, len(stab))])), 2),
        "psnr_changed_db": round(float(np.mean([masked_psnr(stab[t], plain[t], changed[t - 1])
                                                for t in range(1, len(stab))])), 2),
        "changed_pixel_share_percent": round(100 * float(np.mean(changed)), 2),
        "runs": runs,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
