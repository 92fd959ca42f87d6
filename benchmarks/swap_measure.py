"""Style-swap figures for the issue note and README: speed, switch time, budget quality.

Run: python benchmarks/swap_measure.py figures PHOTO PAINTING PAINTING2 --out FILE.json
     python benchmarks/swap_measure.py switch PHOTO PAINTING PAINTING2 --backend openvino
     python benchmarks/swap_measure.py quality PHOTO PAINTING --out FILE.json
     python benchmarks/swap_measure.py grid PHOTOS_DIR PAINTINGS_DIR --out GRID.png
Speeds are median ms per frame after warm-up. The quality cost of a budget option is the
PSNR (dB) of its output against a reference and the relative distance of its swapped
relu3_1 features to the reference's: style-size limits against the style at 512 px, the
matching's rank, patch subsampling and bf16 against the exact cosine match (every patch,
full dimension) of the 256 px style in fp32. The reference is the exact match throughout.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from rtstyle.engines.swap import Budget, SwapEngine, load_painting, open_swap_engine
from rtstyle.files import write_bytes_atomic
from rtstyle.nets.frames import frames_to_rgb, rgb_to_frames

SIZES = {"320x240": (240, 320), "640x480": (480, 640)}


def median_ms(engine: SwapEngine, frame: np.ndarray, runs: int) -> float:
    engine.warmup(*frame.shape[:2])
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        engine.run(frame[None])
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1)


def switch_ms(engine: SwapEngine, painting: Path, frame: np.ndarray) -> float:
    """Encode a new painting on a warm engine until the first stylised frame is out."""
    t0 = time.perf_counter()
    engine.set_style(painting)
    engine.run(frame[None])
    return round((time.perf_counter() - t0) * 1000, 1)


def budget_quality(engine: SwapEngine, painting: Path, frame: np.ndarray,
                   families: dict[str, tuple[Budget, dict[str, Budget]]]) -> dict[str, dict]:
    """Each budget option against its family's reference budget: PSNR of the decoded
    frames, relative distance of the swapped relu3_1 features, and the swap's own time."""
    from rtstyle.metrics import psnr
    from rtstyle.swap.op import style_patches, swap, swap_indexed

    rt = engine.runtime.torch  # a torch engine (open_swap_engine(..., "torch"))
    with torch.inference_mode():
        content = rt.model.encoder(frames_to_rgb(torch.from_numpy(frame[None])))["relu3_1"]

    def swapped(b: Budget, exact: bool = False) -> tuple[torch.Tensor, np.ndarray, int, float]:
        image = load_painting(painting, b.style_size)
        with torch.inference_mode():
            if exact:
                style = rt.model.encoder(frames_to_rgb(torch.from_numpy(image[None])))["relu3_1"]
                patches = style_patches(style, b.max_patches)
                n = patches.shape[0]
                t0 = time.perf_counter()
                out = swap(content, patches)
            else:
                (tables, basis, codes), _ = rt.encode(image, b.max_patches, b.rank)
                tables, basis, codes = (torch.from_numpy(a) for a in (tables, basis, codes))
                if b.precision == "bf16":
                    basis, codes = basis.bfloat16(), codes.bfloat16()
                n = codes.shape[0]
                t0 = time.perf_counter()
                out = swap_indexed(content, tables, basis, codes)
            ms = (time.perf_counter() - t0) * 1000
            img = rgb_to_frames(rt.model.decoder(out))[0].numpy()
        return out, img, n, ms

    result = {}
    for family, (reference, options) in families.items():
        ref_feat, ref_img, ref_n, ref_ms = swapped(reference, exact=True)
        rows = {"reference": {"budget": f"{reference}, exact match", "patches": ref_n,
                              "swap_ms": round(ref_ms, 1)}}
        for label, b in options.items():
            feat, img, n, ms = swapped(b)
            rel = float((feat - ref_feat).norm() / ref_feat.norm())
            rows[label] = {"patches": n, "swap_ms": round(ms, 1),
                           "psnr_vs_reference_db": round(psnr(img, ref_img), 2),
                           "relu3_1_rel_distance": round(rel, 4)}
        result[family] = rows
    return result


def picture_grid(photos: list[Path], paintings: list[Path], out: Path,
                 cell: int = 160) -> None:
    """Photos down, paintings across (top row: the paintings, left column: the photos)."""
    from rtstyle.images import write_image

    def fit(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        s = cell / max(h, w)
        img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        canvas = np.full((cell, cell, 3), 255, np.uint8)
        y, x = (cell - img.shape[0]) // 2, (cell - img.shape[1]) // 2
        canvas[y:y + img.shape[0], x:x + img.shape[1]] = img
        return canvas

    engines = [open_swap_engine(p, "torch") for p in paintings]
    rows = [np.hstack([np.full((cell, cell, 3), 255, np.uint8)]
                      + [fit(cv2.imread(str(p))) for p in paintings])]
    for photo in photos:
        img = cv2.imread(str(photo))
        s = 2 * cell / max(img.shape[:2])  # stylise at 2x the cell, as a user would see it
        img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        rows.append(np.hstack([fit(img)] + [fit(e.run(img[None])[0]) for e in engines]))
    write_image(out, np.vstack(rows))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    f = sub.add_parser("figures", help="speed, switch time and budget quality as JSON")
    f.add_argument("photo", type=Path)
    f.add_argument("painting", type=Path)
    f.add_argument("painting2", type=Path, help="the painting to switch to")
    f.add_argument("--threads", type=int, default=2)
    f.add_argument("--runs", type=int, default=7)
    f.add_argument("--out", type=Path, required=True)
    w = sub.add_parser("switch", help="painting switch time (set_style + first frame), only "
                       "the engine API, so it also runs against older rtstyle code")
    w.add_argument("photo", type=Path)
    w.add_argument("painting", type=Path)
    w.add_argument("painting2", type=Path)
    w.add_argument("--backend", default="onnxruntime")
    w.add_argument("--size", default="640x480")
    w.add_argument("--threads", type=int, default=2)
    q = sub.add_parser("quality", help="only the budget quality table, at 320x240")
    q.add_argument("photo", type=Path)
    q.add_argument("painting", type=Path)
    q.add_argument("--threads", type=int, default=2)
    q.add_argument("--out", type=Path, required=True)
    g = sub.add_parser("grid", help="picture grid, photos x paintings")
    g.add_argument("photos", type=Path)
    g.add_argument("paintings", type=Path)
    g.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    if args.what == "grid":
        picture_grid(sorted(args.photos.glob("*.jpg")), sorted(args.paintings.glob("*.jpg")),
                     args.out)
        return
    photo = cv2.imread(str(args.photo))
    if args.what == "switch":
        width, height = map(int, args.size.split("x"))
        frame = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
        engine = open_swap_engine(args.painting, args.backend, args.threads)
        engine.warmup(height, width)
        ms = [switch_ms(engine, p, frame) for p in (args.painting2, args.painting,
                                                    args.painting2)]
        print(json.dumps({"backend": engine.backend, "size": args.size, "switch_ms": ms,
                          "median_ms": statistics.median(ms)}))
        return
    frames = {k: cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)
              for k, (h, w) in SIZES.items()}
    if args.what == "quality":
        engine = open_swap_engine(args.painting, "torch", args.threads)
        families = dict(list(budget_families().items())[1:])
        result = budget_quality(engine, args.painting, frames["320x240"], families)
        print(json.dumps(result, indent=1))
        write_bytes_atomic(args.out, json.dumps(result, indent=1).encode())
        return
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "machine": f"{platform.processor() or platform.machine()}, "
                               f"{torch.get_num_threads()} torch threads available",
                    "threads": args.threads, "style_size": 256, "speed_ms": {},
                    "switch_ms": {}}
    for backend, precision in [("torch", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32")]:
        engine = open_swap_engine(args.painting, backend, args.threads,
                                  Budget(precision=precision))
        label = f"{engine.backend} {precision}"
        report["speed_ms"][label] = {k: median_ms(engine, f, args.runs)
                                     for k, f in frames.items()}
        report["speed_ms"][label]["patches"] = engine.n_patches
        report["switch_ms"][label] = {
            k: statistics.median([switch_ms(engine, pt, f) for pt in
                                  (args.painting2, args.painting, args.painting2)])
            for k, f in frames.items()}
        print(label, report["speed_ms"][label], report["switch_ms"][label], flush=True)
    engine = open_swap_engine(args.painting, "torch", args.threads)
    report["budget_quality_320x240"] = budget_quality(engine, args.painting,
                                                      frames["320x240"], budget_families())
    print(json.dumps(report["budget_quality_320x240"], indent=1))
    write_bytes_atomic(args.out, json.dumps(report, indent=1).encode())


def budget_families() -> dict[str, tuple[Budget, dict[str, Budget]]]:
    return {
        "style-size limit (vs style at 512 px)": (Budget(style_size=512), {
            "style 384 px": Budget(style_size=384), "style 256 px": Budget(style_size=256),
            "style 128 px": Budget(style_size=128)}),
        "rank, patch subsampling and precision (vs 256 px, exact match, fp32)": (Budget(), {
            "rank 16": Budget(rank=16), "rank 32": Budget(rank=32),
            "rank 64 (default)": Budget(rank=64), "rank 128": Budget(rank=128),
            "max 1024 patches": Budget(max_patches=1024),
            "max 512 patches": Budget(max_patches=512),
            "max 256 patches": Budget(max_patches=256),
            "bf16 matching": Budget(precision="bf16")}),
    }


if __name__ == "__main__":
    main()
