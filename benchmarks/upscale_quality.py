"""Quality of x4 upscalers against bicubic on unseen photos (issue 26's measure).

    python benchmarks/upscale_quality.py --model rtstyle/builtin/upscale-x4.safetensors \
        --model other.safetensors --photos a.jpg b.jpg ... [--json out.json]

Each photo is shrunk x4 with area averaging, upscaled by each model (torch) and by
bicubic, and compared with the original: the VGG19 relu2_2 feature distance as a ratio
to bicubic's (target <= 0.8) and the PSNR difference to bicubic's (target >= -2 dB).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rtstyle.bench.machine import describe_machine
from rtstyle.files import write_bytes_atomic
from rtstyle.images import read_image
from rtstyle.styles.modelfile import load_net
from rtstyle.train.upscaler import FeatureDistance, measure, upscaler_fn


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, action="append", required=True)
    p.add_argument("--photos", type=Path, nargs="+", required=True)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    distance = FeatureDistance()
    photos = {ph.stem: read_image(ph) for ph in a.photos}
    rows = []
    for model in a.model:
        net, meta = load_net(model)
        run = upscaler_fn(net.eval())
        per = {}
        for name, img in photos.items():
            q = measure(run, img, int(meta["options"]["scale"]), distance)
            per[name] = {"feature_ratio": round(q.feature_ratio, 4),
                         "psnr_minus_bicubic": round(q.psnr - q.psnr_bicubic, 3)}
        row = {"model": str(model), "steps": meta.get("made_by", {}).get("steps"),
               "per_photo": per,
               "feature_ratio_mean": round(float(np.mean(
                   [v["feature_ratio"] for v in per.values()])), 4),
               "psnr_minus_bicubic_mean": round(float(np.mean(
                   [v["psnr_minus_bicubic"] for v in per.values()])), 3)}
        rows.append(row)
        print(f"{model}: feature/bicubic {row['feature_ratio_mean']:.3f} "
              f"(worst {max(v['feature_ratio'] for v in per.values()):.3f}), "
              f"PSNR - bicubic {row['psnr_minus_bicubic_mean']:+.2f} dB", flush=True)
        for name, v in per.items():
            print(f"  {name:16s} {v['feature_ratio']:.3f}  {v['psnr_minus_bicubic']:+.2f} dB")
    if a.json:
        write_bytes_atomic(a.json, json.dumps({"machine": describe_machine(0),
                                               "photos": list(photos), "rows": rows},
                                              indent=1).encode())


if __name__ == "__main__":
    main()
