"""Pipeline benchmarks at 640x480, next to the engine-only FPS measured in the same run.

- webcam: `rtstyle webcam` on a file source, run as a user runs it (a subprocess,
  headless): end-to-end FPS, capture-to-display latency p50/p95, dropped frames. The source
  is a generated 30 fps clip (a slow pan over the bench photos) played in real time and
  looped, as a camera would deliver it.
- video: `stylise_video` (what `rtstyle video` runs) on the same clip: throughput.
- flicker: the flicker metric of issue 4 (rtstyle.metrics.flicker) on a static-camera
  video, stylised with and without --stabilize.

Each uses the fastest engine the engine benchmark found for the model at this size.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from rtstyle.bench.engines import Settings, Variant
from rtstyle.bench.inputs import BenchInputs
from rtstyle.bench.models import BenchModel
from rtstyle.errors import RtstyleError

SIZE = (480, 640)  # (height, width): the webcam size the targets are stated for
SOURCE_FPS = 30.0


def make_clip(inputs: BenchInputs, path: Path, frames: int, fps: float = SOURCE_FPS,
              size: tuple[int, int] = SIZE) -> Path:
    """A clip of `frames` frames: a slow pan over each bench photo in turn (MJPG in AVI,
    which every OpenCV and ffmpeg build reads)."""
    h, w = size
    stills = inputs.frames(h + h // 4, w + w // 4)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise RtstyleError(f"OpenCV cannot write the benchmark clip {path}")
    per_still = max(1, frames // len(stills))
    for i in range(frames):
        t = (i % per_still) / max(1, per_still - 1)
        still = stills[(i // per_still) % len(stills)]
        y, x = round(t * (h // 4)), round(t * (w // 4))
        writer.write(np.ascontiguousarray(still[y:y + h, x:x + w]))
    writer.release()
    return path


def fastest(model: BenchModel, engines: list[dict], variants: list[Variant],
            size: tuple[int, int] = SIZE) -> tuple[Variant, dict] | None:
    """The variant with the best median FPS for `model` at `size`, and its engine result."""
    by_name = {v.name: v for v in variants}
    ok = [r for r in engines if r["model"] == model.key and r["status"] == "ok"
          and (r["height"], r["width"]) == size and r["engine"] in by_name]
    best = max(ok, key=lambda r: r["fps"], default=None)
    return (by_name[best["engine"]], best) if best else None


def bench_pipelines(models: list[BenchModel], variants: list[Variant], engines: list[dict],
                    inputs: BenchInputs, settings: Settings, work: Path,
                    flicker_video: Path | None, size: tuple[int, int] = SIZE,
                    log: Callable[[str], None] = lambda line: None) -> tuple[dict, dict]:
    """Results by pipeline name, and why each pipeline that did not run did not.
    `size` (height, width) must be one of the sizes the engine benchmark timed."""
    results: dict = {}
    missing: dict = {}
    h, w = size
    chosen = {m.key: (m, fastest(m, engines, variants, size)) for m in models
              if m.key not in ("swap", "sr")}  # the stylising pipelines
    chosen = {k: (m, best) for k, (m, best) in chosen.items() if best is not None}
    if not chosen:
        return {}, {"pipelines": f"no transform-net engine was timed at {w}x{h}"}
    clip_frames = int(SOURCE_FPS * 10)
    clip = make_clip(inputs, work / "bench-clip.avi", clip_frames, size=size)
    for key, (model, (variant, best)) in chosen.items():
        # Enough frames for about max_seconds of processing at the engine's own speed.
        n = int(min(clip_frames, max(8, best["fps"] * settings.max_seconds)))
        common = {"model": key, "engine": variant.name, "size": f"{w}x{h}",
                  "engine_only_fps": best["fps"]}
        try:
            rec = {**common, **_webcam(model, variant, clip, n, settings, work, size)}
            # A file source plays in real time, so the best possible end-to-end rate
            # is the slower of the source and the engine.
            achievable = min(SOURCE_FPS, best["fps"])
            rec["end_to_end_vs_achievable"] = round(rec["fps_end_to_end"] / achievable, 3) \
                if rec["fps_end_to_end"] else None
            results[f"webcam-{key}"] = rec
            log(f"pipeline webcam {key}: {_brief(results[f'webcam-{key}'])}")
        except RtstyleError as e:
            missing[f"pipeline webcam {key}"] = str(e)
        results[f"video-{key}"] = {**common, **_video(model, variant, clip, n, settings,
                                                       work, size, best["fps"])}
        log(f"pipeline video {key}: {_brief(results[f'video-{key}'])}")
    key = "lite" if "lite" in chosen else next(iter(chosen))
    if flicker_video is None or not flicker_video.is_file():
        missing["flicker"] = "needs `rtstyle video` and a static-camera video (vtest.avi)"
    else:
        model, (variant, best) = chosen[key]
        n = int(min(60, max(12, best["fps"] * settings.max_seconds / 2)))
        results[f"flicker-{key}"] = {"model": key, "engine": variant.name,
                                     **_flicker(model, variant, flicker_video, n, settings,
                                                work, size)}
        log(f"flicker {key}: {_brief(results[f'flicker-{key}'])}")
    return results, missing


def _brief(rec: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in rec.items() if isinstance(v, (int, float)))


def _webcam(model: BenchModel, variant: Variant, clip: Path, frames: int, settings: Settings,
            work: Path, size: tuple[int, int]) -> dict:
    stats_path = work / f"webcam-{model.key}.json"
    h, w = size
    cmd = [sys.executable, "-m", "rtstyle", "webcam", "--source", str(clip), "--loop",
           "--no-display", "--max-frames", str(frames), "--stats-json", str(stats_path),
           "--size", f"{w}x{h}", "--style", variant.spec(model), "--backend", variant.backend,
           "--threads", str(settings.threads)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=120 + 5 * settings.max_seconds)
    except subprocess.TimeoutExpired:
        raise RtstyleError("`rtstyle webcam` did not finish in time") from None
    if r.returncode != 0 or not stats_path.exists():
        tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise RtstyleError(f"`rtstyle webcam` failed ({tail})")
    stats = json.loads(stats_path.read_text())
    keep = ["frames_captured", "frames_processed", "frames_shown", "frames_dropped",
            "fps_end_to_end", "fps_engine", "latency_ms_p50", "latency_ms_p95", "backend"]
    out = {k: stats.get(k) for k in keep}
    out["fps_source"] = SOURCE_FPS
    out["source"] = f"generated clip, {SOURCE_FPS:g} fps, played in real time, looped"
    out["command"] = " ".join(["rtstyle", *cmd[3:]])
    return out


def _video(model: BenchModel, variant: Variant, clip: Path, frames: int, settings: Settings,
           work: Path, size: tuple[int, int], engine_only_fps: float) -> dict:
    from rtstyle.metrics import psnr
    from rtstyle.video.decode import FrameReader
    from rtstyle.video.encode import DEFAULT_PRESET
    from rtstyle.video.stylise import stylise_video

    h, w = size
    # At least 40 frames, so the first batch (start-up, reported apart) is a small part.
    frames = min(int(SOURCE_FPS * 10), max(frames, 40))
    out = work / f"video-{model.key}.mp4"
    engine = variant.open(model, settings.threads)
    try:
        engine.warmup(h, w, runs=1)
        t0 = time.perf_counter()
        result = stylise_video(engine, clip, out, size=(w, h), end=frames / SOURCE_FPS,
                               progress=False)
        wall = time.perf_counter() - t0
        # Fidelity of what was written: every 10th frame against the engine's own output.
        content = list(FrameReader(clip, (w, h), (w, h), None, frames / SOURCE_FPS))[::10]
        written = list(FrameReader(out, (w, h), (w, h)))[::10]
        fidelity = float(np.mean([psnr(engine.run(c[None])[0], o)
                                  for c, o in zip(content, written, strict=True)]))
    finally:
        engine.close()
    fps = result.frames / wall
    steady = (result.frames - 1) / max(1e-9, wall - result.startup)
    minutes = result.frames / SOURCE_FPS / 60
    return {"frames": result.frames, "seconds": round(wall, 2), "fps": round(fps, 2),
            "vs_engine_only": round(fps / engine_only_fps, 3),
            "startup_s": round(result.startup, 2), "fps_after_startup": round(steady, 2),
            "after_startup_vs_engine_only": round(steady / engine_only_fps, 3),
            "psnr_vs_engine_db": round(fidelity, 2),
            "mb_per_minute": round(out.stat().st_size / 1e6 / minutes, 2),
            "encoder": f"{result.encoder} preset {DEFAULT_PRESET} crf 18",
            "note": "stylise_video (rtstyle video) on the generated clip, batch 4, H.264 out; "
                    "decode, inference and encode overlapped in-process (PyAV); start-up = "
                    "time to the first encoded frame"}


def _flicker(model: BenchModel, variant: Variant, video: Path, frames: int,
             settings: Settings, work: Path, size: tuple[int, int]) -> dict:
    from rtstyle.metrics import flicker, psnr
    from rtstyle.video.decode import FrameReader
    from rtstyle.video.probe import probe_video
    from rtstyle.video.stylise import stylise_video

    h, w = size
    info = probe_video(video)
    end = frames / float(info.fps)
    outputs = {}
    engine = variant.open(model, settings.threads)
    try:
        for stabilize in (False, True):
            dst = work / f"flicker-{model.key}-{'stab' if stabilize else 'plain'}.mp4"
            stylise_video(engine, video, dst, size=(w, h), end=end, stabilize=stabilize,
                          progress=False)
            with FrameReader(dst, (w, h), (w, h)) as reader:
                outputs[stabilize] = [f.copy() for f in reader]
    finally:
        engine.close()
    with FrameReader(video, (w, h), (info.width, info.height), end=end) as reader:
        content = [f.copy() for f in reader]
    n = min(len(content), *(len(v) for v in outputs.values()))
    content, plain, stab = content[:n], outputs[False][:n], outputs[True][:n]
    f_plain, f_stab = flicker(plain, content), flicker(stab, content)
    return {"video": video.name, "frames": n, "size": f"{w}x{h}",
            "flicker_unstylised": round(flicker(content, content), 3),
            "flicker_plain": round(f_plain, 3), "flicker_stabilized": round(f_stab, 3),
            "flicker_reduction": round(1 - f_stab / f_plain, 3) if f_plain else None,
            "psnr_stabilized_vs_plain_db": round(float(np.mean(
                [psnr(a, b) for a, b in zip(stab, plain, strict=True)])), 2),
            "metric": "rtstyle.metrics.flicker: mean |S_t - S_t-1| over static pixels"}
