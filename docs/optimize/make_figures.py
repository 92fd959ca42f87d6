"""Draw docs/optimize/side_by_side.jpg (photo | built-in net | `rtstyle optimize`) and
docs/optimize/curve.png (Gram ratio against seconds) from a benchmarks/optimize_curve.py run.

    python docs/optimize/make_figures.py RESULTS.json SAVED_DIR PHOTO.jpg NET_STYLE
(SAVED_DIR is that run's --save folder.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from rtstyle.train.strength import fit_longer

HERE = Path(__file__).resolve().parent


def labelled(img: np.ndarray, text: str) -> np.ndarray:
    out = cv2.copyMakeBorder(img, 28, 0, 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    cv2.putText(out, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def main() -> None:
    results, saved, photo = (Path(a) for a in sys.argv[1:4])
    net = sys.argv[4]
    rec = json.loads(results.read_text())
    side = rec["configs"]["default"]["settings"]["size"]
    p = fit_longer(cv2.imread(str(photo)), side)
    n = cv2.imread(str(saved / f"{photo.stem}-net-{Path(net).stem}.jpg"))
    o = cv2.imread(str(saved / f"{photo.stem}-default.jpg"))
    g_net = rec["nets"][net]["gram_mean"]
    last = rec["configs"]["default"]["curve"][-1]
    row = [labelled(p, "photo"), labelled(n, f"net {net}: Gram {g_net:.3f}"),
           labelled(o, f"optimize: Gram {last['gram_mean']:.3f}, {last['seconds']:.0f} s")]
    cv2.imwrite(str(HERE / "side_by_side.jpg"), np.hstack(row), [cv2.IMWRITE_JPEG_QUALITY, 88])

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, c in rec["configs"].items():
        ax.plot([q["seconds"] for q in c["curve"]], [q["gram_mean"] for q in c["curve"]],
                "o-", label=name)
    for name, r in rec["nets"].items():
        ax.axhline(r["gram_mean"], ls="--", lw=1, color="grey")
        ax.text(0, r["gram_mean"], f" net {name}", va="bottom", fontsize=8)
    ax.axhline(0.08, color="red", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel(f"wall seconds, 2 threads, load {rec['machine']['load_average_1_5_15min']} "
                  "(shared: runs saw different loads)")
    ax.set_ylabel(f"Gram ratio at {side} px")
    ax.set_title(f"rtstyle optimize, {', '.join(rec['photos'])} / {rec['painting']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "curve.png", dpi=110)


if __name__ == "__main__":
    main()
