"""Engine benchmarks: every model on every engine at every size, checked, then timed.

For each model and size, torch eager runs first: its output on the first frame is the
reference, and its median is the baseline of every speed-up. Each other engine's output
on the same frame must reach `min_psnr` dB against it before any of its timings count;
one that does not is reported as rejected, untimed. The check run is the first warm-up
run; warm-up runs are never timed.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtstyle.bench.inputs import BenchInputs
from rtstyle.bench.machine import PeakMemory
from rtstyle.bench.models import BenchModel
from rtstyle.engines.base import Engine
from rtstyle.errors import RtstyleError
from rtstyle.metrics import psnr


def reference_engine() -> str:
    """The engine every other one is checked against: torch eager, or ONNX Runtime fp32 on
    the light install (no torch). Records keep the `*_vs_torch` keys either way; the
    report names the reference."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return "onnxruntime"
    return "torch"


@dataclass
class Variant:
    """One engine configuration: the `open_engine` backend and the file it runs for a model
    (`prepare`, e.g. an int8 export; default: the model as it is), and how close it must
    come to torch eager. `unavailable` says why it cannot run a model here (None: it can).
    `opener` replaces open_engine altogether (an engine built some other way)."""

    name: str
    precision: str
    min_psnr: float
    backend: str
    prepare: Callable[[BenchModel], str] | None = None
    unavailable: Callable[[BenchModel], str | None] = field(default=lambda model: None)
    opener: Callable[[BenchModel, int], Engine] | None = None
    force: str | None = None  # open_engine's `precision` (None: the backend's policy)
    _specs: dict[str, str] = field(default_factory=dict, repr=False)

    def spec(self, model: BenchModel) -> str:
        """What open_engine takes for `model` on this variant (prepared once per model)."""
        if self.prepare is None:
            return model.spec
        if model.key not in self._specs:
            self._specs[model.key] = self.prepare(model)
        return self._specs[model.key]

    def open(self, model: BenchModel, threads: int) -> Engine:
        if self.opener is not None:
            return self.opener(model, threads)
        from rtstyle.engines import open_engine

        swap = None
        if model.key == "swap":  # style-swap's own precision: its int8 graph or fp32
            from rtstyle.engines.swap import Budget

            swap = Budget(precision="int8" if self.precision == "int8" else "fp32")
        return open_engine(self.spec(model), self.backend, threads, swap=swap,
                           precision=self.force)


# PSNR (dB) an engine's output must reach against torch eager's, by precision: fp32
# engines agree to about a grey level (> 45 dB); fp16 and int8 trade some fidelity.
MIN_PSNR = {"fp32": 40.0, "bf16": 35.0, "fp16": 35.0, "int8": 25.0}
GPU_FP16 = {"tensorrt", "onnxruntime-cuda", "torch-cuda"}
CPU_ONNX = {"onnxruntime", "openvino"}  # CPU backends that run the fp32 ONNX export


def default_variants(workdir: Path | None = None,
                     calibration: list[Path] | None = None) -> dict[str, Variant]:
    """Every engine this install can run here, by name; `torch` first (the reference).

    Backends run the model as it is, at the precision their policy picks (OpenVINO: by
    the CPU's flags). Each other OpenVINO mode the CPU runs natively is a variant of its
    own (`openvino-fp32`, `openvino-bf16`), and torch-cuda has `torch-cuda-fp32`, so
    every precision is measured against the policy's pick. With `workdir`, precision
    variants run the model exported by `rtstyle export` (fp16; int8 calibrated on
    `calibration`) on ONNX Runtime, and the int8 export on OpenVINO too (which runs its
    Q/DQ convs as int8 kernels, its float parts in bf16 where native).
    """
    from rtstyle.engines import available_backends, registry
    from rtstyle.engines.precision import cpu_flags, native, resolve

    backends = available_backends()
    ref = reference_engine()
    variants = {ref: Variant(ref, "fp32", 0.0, ref,
                             prepare=_fp32_onnx if ref in CPU_ONNX else None)}
    for backend in backends:
        if backend != ref:
            # open_engine runs catalogue styles in fp16 on the GPU backends.
            precision = "fp16" if backend in GPU_FP16 else "fp32"
            if backend == "openvino":
                precision = resolve(None, False)
            variants[backend] = Variant(backend, precision, MIN_PSNR[precision], backend,
                                        prepare=_fp32_onnx if backend in CPU_ONNX else None,
                                        unavailable=_swap_backend_check(backend))
        # every other precision the backend offers (and, on the CPU, runs natively) is a
        # variant of its own, measured against the policy's pick
        cuda = registry.get(backend).cuda
        for mode in registry.get(backend).precisions:
            if (mode in ("auto", "int8", variants[backend].precision)
                    or not (cuda or native(mode, cpu_flags()))):
                continue  # int8 needs an int8 export: the workdir variants below
            variants[f"{backend}-{mode}"] = Variant(
                f"{backend}-{mode}", mode, MIN_PSNR[mode], backend,
                prepare=_fp32_onnx if backend in CPU_ONNX else None,
                unavailable=_transform_nets_only, force=mode)
    if workdir is not None:
        exports = {p: _exporter(p, workdir, calibration) for p in ("fp16", "int8")}
        for backend, precision in [("onnxruntime", "fp16"), ("onnxruntime", "int8"),
                                   ("openvino", "int8")]:
            if backend in backends:
                variants[f"{backend}-{precision}"] = Variant(
                    f"{backend}-{precision}", precision, MIN_PSNR[precision], backend,
                    prepare=exports[precision],
                    unavailable=_swap_int8_only if precision == "int8" else
                    _transform_nets_only)
    return variants


def _fp32_onnx(model: BenchModel) -> str:
    """The fp32 ONNX graph the CPU backends run (exported once, before any measurement)."""
    if model.key == "swap":
        return model.spec  # the swap engine exports and caches its own graph
    from rtstyle.styles.catalogue import find_style
    from rtstyle.styles.exports import onnx_file

    return str(onnx_file(find_style(model.spec)))


def _swap_backend_check(backend: str) -> Callable[[BenchModel], str | None]:
    """Style-swap has its own engine, with its own list of backends."""

    def unavailable(model: BenchModel) -> str | None:
        if model.key != "swap":
            return None
        from rtstyle.engines.swap import backends

        return None if backend in backends() else f"style-swap does not run on {backend}"

    return unavailable


def _transform_nets_only(model: BenchModel) -> str | None:
    if model.key == "swap":
        return "style-swap has no graph at this precision (it runs fp32 and int8)"
    return None


def _swap_int8_only(model: BenchModel) -> str | None:
    """Style-swap's int8 graph comes from the engine itself (the decoder's shipped ranges)."""
    if model.key == "swap":
        from rtstyle.engines.swap import decoder_path
        from rtstyle.swap.int8 import ranges_file

        if not ranges_file(decoder_path()).is_file():
            return "this style-swap decoder ships no int8 ranges"
    return None


def _exporter(precision: str, workdir: Path,
              calibration: list[Path] | None) -> Callable[[BenchModel], str]:
    """model -> its ONNX export at `precision`, made once with `rtstyle export`'s library
    call and shared by every backend that runs it."""

    def prepare(model: BenchModel) -> str:
        if model.key == "swap":
            return model.spec  # the swap engine makes its own graphs, int8 included
        from rtstyle.styles.exports import ExportRequest, export_style

        out = workdir / f"{model.key}-{precision}.onnx"
        if not out.exists():
            export_style(ExportRequest(style=model.spec, format="onnx", precision=precision,
                                       output=out,
                                       calibrate=calibration if precision == "int8" else None))
        return str(out)

    return prepare


@dataclass
class Settings:
    """How long to measure. A case stops after `runs` timed runs or `max_seconds` of timing,
    whichever comes first, but never before `min_runs`. A case predicted (from the same
    engine's time at the previous size, scaled by pixels) to need more than `max_seconds`
    for its warm-up and `min_runs` is skipped unless `sweep` is set or the size is in
    `keep`; torch eager, the baseline, is timed wherever another engine is."""

    threads: int
    warmup: int = 2
    runs: int = 20
    min_runs: int = 3
    max_seconds: float = 5.0
    sweep: bool = False
    keep: frozenset = frozenset()  # (height, width) sizes never skipped by prediction
    # (model, height, width) cases never skipped by prediction: the headline's targets
    keep_cases: frozenset = frozenset({("full", 480, 640), ("lite", 720, 1280)})


def measure(engine: Engine, frames: np.ndarray, settings: Settings,
            check: Callable[[np.ndarray], None]) -> list[float]:
    """Warm up (the first run's output goes to `check`, which raises to reject the engine),
    then time single-frame runs; returns the timed runs in ms."""
    check(engine.run(frames[:1]))
    for i in range(1, settings.warmup):
        engine.run(frames[i % len(frames)][None])
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < settings.runs:
        frame = frames[len(times) % len(frames)][None]
        t0 = time.perf_counter()
        engine.run(frame)
        times.append((time.perf_counter() - t0) * 1000)
        if len(times) >= settings.min_runs and time.perf_counter() - start > settings.max_seconds:
            break
    return times


class Rejected(Exception):
    """An engine's output does not match the torch reference closely enough."""


def summarise(times_ms: list[float]) -> dict:
    t = np.asarray(times_ms)
    median = float(np.median(t))
    return {"runs": len(t), "ms_median": round(median, 2),
            "ms_p95": round(float(np.percentile(t, 95)), 2), "ms_mean": round(float(t.mean()), 2),
            "ms_min": round(float(t.min()), 2), "fps": round(1000.0 / median, 2),
            "times_ms": [round(x, 2) for x in times_ms]}


def bench_engines(models: list[BenchModel], variants: list[Variant],
                  sizes: list[tuple[int, int]], inputs: BenchInputs, settings: Settings,
                  peak_gflops: float | dict[str, float | None] | None = None,
                  log: Callable[[str], None] = lambda line: None) -> list[dict]:
    """Run every (model, size, variant) case; one result dict per case (see module doc)."""
    first = reference_engine()
    if not variants or variants[0].name != first:
        raise RtstyleError(f"the engine list must start with '{first}': it is the "
                           "reference every engine's output is checked against")
    from rtstyle.progress import progress_bar

    bar = progress_bar(len(models) * len(sizes) * len(variants), "case", "bench")
    try:
        return _bench_all(models, variants, sizes, inputs, settings, peak_gflops, bar,
                          _above(bar, log))
    finally:
        bar.close()


def _above(bar: Any, log: Callable[[str], None]) -> Callable[[str], None]:
    """`log`, printing above a terminal's tqdm bar instead of through it."""
    from tqdm import tqdm

    def emit(line: str) -> None:
        if isinstance(bar, tqdm) and not bar.disable:
            with tqdm.external_write_mode(file=sys.stderr):
                log(line)
        else:
            log(line)

    return emit


def _bench_all(models, variants, sizes, inputs, settings, peak_gflops, bar,  # noqa: ANN001
               log: Callable[[str], None]) -> list[dict]:
    """bench_engines' loop; `bar` counts the cases."""
    results = []
    for model in models:
        last: dict[str, tuple[int, float]] = {}  # variant -> (pixels, median ms) at last size
        for height, width in sizes:
            frames = inputs.frames(height, width)
            gflops = model.gflops(height, width)
            cases = []
            for v in variants:
                rec = {"model": model.key, "weights": model.weights, "engine": v.name,
                       "precision": v.precision, "size": f"{width}x{height}", "width": width,
                       "height": height, "gflops": gflops, "min_psnr_db": v.min_psnr,
                       "warmup_runs": settings.warmup}
                kept = (height, width) in settings.keep or \
                    (model.key, height, width) in settings.keep_cases
                reason = v.unavailable(model) or (
                    None if kept else _too_slow(last.get(v.name), height * width, settings))
                if reason:
                    rec.update(status="skipped", reason=reason)
                cases.append((v, rec))
            (ref_variant, ref_rec), others = cases[0], cases[1:]
            if ref_rec.get("reason", "").startswith("predicted") and \
                    any(rec.get("status") is None for _, rec in others):
                # Speed-ups need the baseline: time torch wherever another engine is timed.
                ref_rec.pop("status")
                ref_rec.pop("reason")
            reference = None
            if ref_rec.get("status") is None:
                _run_case(model, ref_variant, frames, settings, None, ref_rec, log)
                reference = ref_rec.pop("_output", None)
            elif any(rec.get("status") is None for _, rec in others):
                reference = _untimed_reference(model, ref_variant, frames, settings, ref_rec)
            for v, rec in others:
                if rec.get("status") is None and reference is None:
                    rec.update(status="skipped", reason="no torch reference at this size")
                elif rec.get("status") is None:
                    _run_case(model, v, frames, settings, reference, rec, log)
            for v, rec in cases:
                if rec["status"] == "ok":
                    last[v.name] = (height * width, rec["ms_median"])
                results.append(rec)
                bar.update(1)
            _ratios([rec for _, rec in cases], peak_gflops)
    return results


def _too_slow(last: tuple[int, float] | None, pixels: int, settings: Settings) -> str | None:
    if settings.sweep or last is None:
        return None
    predicted = last[1] / 1000 * pixels / last[0] * (settings.warmup + settings.min_runs)
    if predicted <= settings.max_seconds:
        return None
    return (f"predicted {predicted:.0f} s for warm-up and {settings.min_runs} runs, over the "
            f"{settings.max_seconds:g} s per case; use --sweep to run it")


def _untimed_reference(model: BenchModel, torch_variant: Variant, frames: np.ndarray,
                       settings: Settings, torch_rec: dict) -> np.ndarray | None:
    """Torch's output on the first frame when its own timing is skipped at this size: one
    untimed run still gives the other engines something to be checked against."""
    try:
        engine = torch_variant.open(model, settings.threads)
        try:
            out = engine.run(frames[:1])
        finally:
            engine.close()
    except (RtstyleError, RuntimeError, ValueError, OSError):
        return None
    torch_rec["reason"] += " (one untimed run made the reference)"
    return out


def _run_case(model: BenchModel, v: Variant, frames: np.ndarray, settings: Settings,
              reference: np.ndarray | None, rec: dict, log: Callable[[str], None]) -> None:
    label = f"{model.key} {rec['size']} {v.name}"
    output: list[np.ndarray] = []

    def check(out: np.ndarray) -> None:
        output.append(out)
        if reference is None:
            return
        db = psnr(out, reference)
        rec["psnr_vs_torch_db"] = round(db, 2) if np.isfinite(db) else None  # None: identical
        if db < v.min_psnr:
            raise Rejected(f"output is {db:.1f} dB from torch's, below the {v.min_psnr:g} dB "
                           "this precision must reach; its timings do not count")

    gc.collect()
    memory = PeakMemory()
    try:
        t0 = time.perf_counter()
        v.spec(model)  # an export (e.g. int8 calibration) is neither load time nor memory
        if v.prepare is not None:
            rec["prepare_s"] = round(time.perf_counter() - t0, 2)
        with memory:
            t0 = time.perf_counter()
            engine = v.open(model, settings.threads)
            rec["load_s"] = round(time.perf_counter() - t0, 2)
            try:
                rec["backend"] = engine.backend
                times = measure(engine, frames, settings, check)
            finally:
                engine.close()
                del engine
    except Rejected as e:
        rec.update(status="rejected", reason=str(e))
        log(f"{label}: REJECTED - {e}")
        return
    except (RtstyleError, RuntimeError, ValueError, OSError) as e:
        rec.update(status="failed", reason=f"{type(e).__name__}: {str(e).splitlines()[0]}")
        log(f"{label}: failed - {rec['reason']}")
        return
    rec.update(status="ok", peak_mem_mb=memory.mb, **summarise(times))
    if reference is None:
        rec["_output"] = output[0]
    log(f"{label}: {rec['ms_median']:.1f} ms median, {rec['ms_p95']:.1f} ms p95, "
        f"{rec['fps']:.2f} FPS ({rec['runs']} runs)")


def _ratios(cases: list[dict], peak_gflops: float | dict[str, float | None] | None) -> None:
    """Speed-up over torch eager, achieved GFLOP/s, and its fraction of the machine's peak
    for the engine's precision (bf16 and int8 peaks where measured, else fp32's), for the
    cases timed at one size."""
    peaks = peak_gflops if isinstance(peak_gflops, dict) else {"fp32": peak_gflops}
    base = cases[0].get("ms_median") if cases[0]["status"] == "ok" else None
    for rec in cases:
        if rec["status"] != "ok":
            continue
        rec["speedup_vs_torch"] = round(base / rec["ms_median"], 2) if base else None
        if rec["gflops"]:
            achieved = rec["gflops"] / (rec["ms_median"] / 1000)
            rec["gflops_per_s"] = round(achieved, 1)
            kind = rec["precision"] if peaks.get(rec["precision"]) else "fp32"
            peak = peaks.get(kind)
            rec["fraction_of_peak"] = round(achieved / peak, 3) if peak else None
            rec["peak_precision"] = kind if peak else None
