"""`rtstyle bench` as a library call: measure the machine, the engines and the pipelines,
and return one JSON-able report. The CLI and benchmarks/ both run this."""

from __future__ import annotations

import shlex
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rtstyle.bench.engines import Settings, bench_engines, default_variants, reference_engine
from rtstyle.bench.inputs import BenchInputs, find_photos
from rtstyle.bench.machine import (
    MEMORY_METHOD,
    describe_machine,
    low_precision_peaks,
    matmul_peak,
)
from rtstyle.bench.models import FLOP_METHOD, resolve_models
from rtstyle.bench.report import headline
from rtstyle.errors import RtstyleError
from rtstyle.limits import parse_size

DEFAULT_SIZES = ["256x256", "640x480", "1280x720", "1920x1080"]
DEFAULT_MODELS = ["full", "lite", "swap"]
MODELS = [*DEFAULT_MODELS, "sr"]  # sr (the x4 upscaler) runs only when asked for


@dataclass
class BenchConfig:
    threads: int
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    engines: list[str] | None = None  # None: every engine this install has
    sizes: list[str] = field(default_factory=lambda: list(DEFAULT_SIZES))
    style: str = "udnie"
    painting: Path | None = None
    photos: Path | None = None
    flicker_video: Path | None = None  # a static-camera video for the flicker figures
    pipeline_size: str = "640x480"
    calibration: list[Path] | None = None  # int8 calibration photos (not the bench inputs)
    settings: Settings | None = None
    pipelines: bool = True
    command: str = ""


def run_bench(cfg: BenchConfig, log: Callable[[str], None] = lambda line: None) -> dict:
    """Measure everything `cfg` asks for; the report is what `--json` writes."""
    with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmp:
        return _run(cfg, Path(tmp), log)


def _run(cfg: BenchConfig, work: Path, log: Callable[[str], None]) -> dict:
    settings = cfg.settings or Settings(threads=cfg.threads)
    sizes = [parse_size(s, "--sizes").hw for s in cfg.sizes]
    known = default_variants(work, cfg.calibration)
    names = cfg.engines or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RtstyleError(f"unknown or unavailable engine '{unknown[0]}'; this install has: "
                           + ", ".join(known))
    ref = reference_engine()
    if ref not in names:
        names = [ref, *names]  # the reference always runs: checks and speed-ups need it
    variants = [known[ref]] + [known[n] for n in names if n != ref]
    pipeline_size = parse_size(cfg.pipeline_size, "--pipeline-size").hw if cfg.pipelines else None
    if pipeline_size is not None and pipeline_size not in sizes:
        raise RtstyleError(f"pipeline size {cfg.pipeline_size} is not among --sizes; add it "
                           "there or pass --no-pipelines")
    bad = [k for k in cfg.models if k not in MODELS]
    if bad:
        raise RtstyleError(f"unknown model '{bad[0]}'; choose from " + ", ".join(MODELS))
    photos = find_photos(cfg.photos)
    inputs = BenchInputs(photos)

    machine = describe_machine(settings.threads)
    log(f"machine: {machine['cpu']}, {settings.threads} threads, "
        f"load {machine['load_average_1_5_15min']}")
    peak = matmul_peak(settings.threads)
    log(f"fp32 peak: {peak['gflops_per_s']} GFLOP/s")
    low = low_precision_peaks(settings.threads)
    for kind, rec in low.items():
        log(f"{kind} peak: " + (f"{rec['gflops_per_s']} GOP/s" if rec["gflops_per_s"]
                                else rec["reason"]))
    peaks = {"fp32": peak["gflops_per_s"], **{k: v["gflops_per_s"] for k, v in low.items()}}
    models, missing = resolve_models(cfg.models, cfg.style, cfg.painting, work)
    for key, why in missing.items():
        log(f"not benchmarked: {key} ({why})")
    engines = bench_engines(models, variants, sizes, inputs, settings, peaks, log)
    pipelines: dict = {}
    if pipeline_size is not None:
        from rtstyle.bench.pipelines import bench_pipelines

        pipelines, pipe_missing = bench_pipelines(models, variants, engines, inputs,
                                                  settings, work, cfg.flicker_video,
                                                  pipeline_size, log)
        missing.update(pipe_missing)
    report = {
        "format": "rtstyle-bench", "format_version": 1,
        "command": cfg.command or shlex.join(["rtstyle", *sys.argv[1:]]),
        "machine": machine,
        "peak": peak,
        "peaks_low_precision": low,
        "precision_policy": precision_policy(engines),
        "settings": {
            "threads": settings.threads, "warmup_runs": settings.warmup,
            "max_runs": settings.runs, "min_runs": settings.min_runs,
            "max_seconds_per_case": settings.max_seconds, "sweep": settings.sweep,
            "sizes": cfg.sizes, "models": cfg.models,
            "engines": [{"name": v.name, "backend": v.backend, "precision": v.precision,
                         "min_psnr_db": v.min_psnr} for v in variants],
            "int8_calibration": [str(p) for p in cfg.calibration or []],
            "input": inputs.description,
            "timing": "time.perf_counter around Engine.run on one frame (batch 1), uint8 BGR "
                      "in and out, conversions included; warm-up runs excluded",
            "memory_method": MEMORY_METHOD, "flop_method": FLOP_METHOD,
            "check": f"each engine's output on the first frame vs the reference "
                     f"({variants[0].name} fp32; its figures fill the *_vs_torch keys), "
                     "PSNR >= min_psnr_db, before any timing",
            "reference": variants[0].name,
        },
        "models": [{"key": m.key, "spec": m.spec, "weights": m.weights,
                    "gflops": {f"{w}x{h}": m.gflops(h, w) for h, w in sizes}} for m in models],
        "engines": engines,
        "pipelines": pipelines,
        "missing": missing,
    }
    report["headline"] = headline(report)
    return report


def precision_policy(engines: list[dict]) -> dict:
    """What the CPU precision policy picks here, and whether the measurements agree: per
    model and size, the fastest OpenVINO mode that keeps MIN_PSNR_DB against torch."""
    from rtstyle.engines.precision import MIN_PSNR_DB, cpu_flags, native, resolve

    flags = cpu_flags()
    out: dict = {"cpu_native": [m for m in ("fp32", "bf16", "int8") if native(m, flags)],
                 "auto_pick_fp32_graph": resolve(None, False, flags),
                 "min_psnr_db": MIN_PSNR_DB, "measured": []}
    cases: dict[tuple, list[dict]] = {}
    for rec in engines:
        if rec["engine"].startswith("openvino") and rec["status"] == "ok":
            cases.setdefault((rec["model"], rec["size"]), []).append(rec)
    for (model, size), recs in cases.items():
        keep = [r for r in recs if (r.get("psnr_vs_torch_db") or 99) >= MIN_PSNR_DB]
        best = min(keep, key=lambda r: r["ms_median"]) if keep else None
        out["measured"].append({
            "model": model, "size": size,
            "modes": {r["engine"]: {"precision": r["precision"], "ms": r["ms_median"],
                                    "psnr_db": r.get("psnr_vs_torch_db")} for r in recs},
            "fastest_keeping_min_psnr": best["engine"] if best else None})
    return out
