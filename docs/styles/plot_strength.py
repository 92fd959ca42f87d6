"""Draw docs/styles/strength.png: every built-in's Gram and content ratios against the
published nets and the nets they replaced, from one benchmarks/style_strength.py run.

    python docs/styles/plot_strength.py benchmarks/results/style-strength-2026-12-05-b.json

Each style is a point (content ratio across, Gram ratio up; lower-left is better), with
the issue's targets drawn as lines, so a net that misses one is seen at once.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TARGETS = {"full": 0.12, "lite": 0.18}
CONTENT_MAX = 0.6


def label_and_kind(style: str) -> tuple[str, str]:
    """A short label and one of full / lite / published / old for a result's style."""
    name = Path(style).name.removesuffix(".safetensors")
    if name.startswith("ml5-"):
        return name, "published"
    if name.startswith("old-"):
        return name, "old"
    return name, "lite" if name.endswith("-lite") else "full"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", type=Path)
    p.add_argument("-o", "--out", type=Path, default=Path(__file__).with_name("strength.png"))
    args = p.parse_args()
    data = json.loads(args.results.read_text())
    looks = {"full": ("o", "tab:blue"), "lite": ("s", "tab:green"),
             "published": ("*", "tab:red"), "old": ("x", "tab:gray")}
    fig, ax = plt.subplots(figsize=(10, 7), dpi=110)
    seen = set()
    for row in data["results"]:
        label, kind = label_and_kind(row["style"])
        marker, colour = looks[kind]
        ax.scatter(row["content_mean"], row["gram_mean"], marker=marker, color=colour, s=60,
                   label=None if kind in seen else kind)
        seen.add(kind)
        ax.annotate(label, (row["content_mean"], row["gram_mean"]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    for kind, limit in TARGETS.items():
        ax.axhline(limit, color=looks[kind][1], ls="--", lw=1,
                   label=f"{kind} target, Gram ≤ {limit}")
    ax.axvline(CONTENT_MAX, color="black", ls=":", lw=1, label=f"content ≤ {CONTENT_MAX}")
    ax.set_xlabel("content ratio (lower keeps more of the photo)")
    ax.set_ylabel("Gram ratio (lower carries more of the painting)")
    m = data["machine"]
    ax.set_title(f"Style strength, mean over {len(data['photos'])} unseen photos at 512 px "
                 f"({data['backend']}; {m['date'][:10]}, {m['cpu']})", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = args.out.with_suffix(".tmp.png")
    fig.savefig(tmp)
    tmp.replace(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
