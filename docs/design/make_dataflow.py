"""Draw docs/design/dataflow.png: the live and file data flows through rtstyle's packages.

    python docs/design/make_dataflow.py
"""

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

BOXES = {  # name: (x, y, w, h, colour, text)
    "source": (0.2, 4.2, 2.6, 1.3, "#dbe9f6", "live/sources/\ncamera · file · URL · demo"),
    "capture": (3.4, 4.2, 2.4, 1.3, "#dbe9f6", "live/capture\nthread"),
    "slot": (6.4, 4.2, 2.4, 1.3, "#dbe9f6", "live/slot\nnewest frame only"),
    "worker": (9.4, 4.2, 2.8, 1.3, "#fde9c8", "live/worker\nstylise → adjust\n(→ stabilize)"),
    "engines": (9.4, 1.9, 2.8, 1.6, "#fbd3c5",
                "engines/\nregistry · one Engine\ntorch · onnxruntime ·\n"
                "openvino · tensorrt · swap"),
    "styles": (5.6, 1.9, 3.2, 1.6, "#e4d7f2",
               "styles/ · nets/ · swap/\ncatalogue, model files,\nimporters, exports"),
    "export": (1.8, 1.9, 3.2, 1.6, "#e4d7f2", "export/\nONNX · fp16 · int8 ·\nTensorRT plans"),
    "pipeline": (12.8, 4.2, 2.6, 1.3, "#d8efd8", "live/pipeline\nfan-out · actions"),
    "sinks": (16.0, 4.2, 2.8, 1.3, "#d8efd8",
              "sinks/\nwindow · recording ·\nscreenshot · virtual cam"),
    "video": (12.8, 1.9, 5.8, 1.6, "#d8efd8",
              "video/  decode → stylise (batches) → encode\naudio copied · stabilize"),
}
ARROWS = [("source", "capture"), ("capture", "slot"), ("slot", "worker"),
          ("worker", "pipeline"), ("pipeline", "sinks"), ("engines", "worker"),
          ("styles", "engines"), ("export", "styles"), ("engines", "video")]


def centre(name, side):
    x, y, w, h = BOXES[name][:4]
    return {"r": (x + w, y + h / 2), "l": (x, y + h / 2), "t": (x + w / 2, y + h),
            "b": (x + w / 2, y)}[side]


def main() -> None:
    fig, ax = plt.subplots(figsize=(13, 4.6), dpi=110)
    for x, y, w, h, colour, text in BOXES.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=colour,
                                    ec="#555", lw=1))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8)
    for a, b in ARROWS:
        ax0, ay0, aw, ah = BOXES[a][:4]
        bx0, by0, bw, bh = BOXES[b][:4]
        if abs(ay0 - by0) < 0.1:
            p, q = (centre(a, "r"), centre(b, "l")) if ax0 < bx0 else (centre(a, "l"),
                                                                        centre(b, "r"))
        elif ay0 < by0:
            p, q = centre(a, "t"), centre(b, "b")
        else:
            p, q = centre(a, "b"), centre(b, "t")
        ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=14, lw=1.3,
                                     color="#333"))
    ax.text(0.2, 6.0, "live: one thread each for capture, inference and output; stale "
            "frames are dropped, never queued", fontsize=10, weight="bold")
    ax.text(0.2, 0.9, "files: rtstyle video decodes, stylises and encodes in overlapped "
            "stages; rtstyle serve and rtstyle batch reuse the same engines", fontsize=10,
            weight="bold")
    ax.set_xlim(0, 19.0)
    ax.set_ylim(0.6, 6.4)
    ax.axis("off")
    out = Path(__file__).with_name("dataflow.png")
    fig.savefig(out, bbox_inches="tight")
    print(out)


if __name__ == "__main__":
    main()
