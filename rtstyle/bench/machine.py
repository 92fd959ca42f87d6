"""What the numbers were measured on: the machine description, its peaks by precision
(fp32, and bf16 / int8 where the CPU runs them natively), peak memory.

A benchmark figure means little without the CPU, thread count and library versions next
to it, and "fast" means little without the machine's own limit measured in the same run.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import time
from pathlib import Path

import numpy as np

# Distributions whose versions change the numbers; absent ones are reported as null.
LIBRARIES = ["rtstyle", "torch", "onnxruntime", "onnxruntime-gpu", "onnx", "numpy",
             "opencv-python", "tensorrt", "openvino"]
# CPU features that decide which kernels the engines can use.
CPU_FLAGS = ["avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16",
             "amx_tile", "amx_int8", "amx_bf16"]


def describe_machine(threads: int) -> dict:
    """CPU model, cores, memory, OS, library versions, load and date, as JSON-able values."""
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = re.search(r"^MemTotal:\s+(\d+) kB", _read("/proc/meminfo"), re.M)
    versions = {}
    for dist in LIBRARIES:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": model.group(1).strip() if model else platform.processor() or platform.machine(),
        "cpu_flags": [f for f in CPU_FLAGS if flags and f in flags.group(1).split()],
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": threads,
        "memory_gb": round(int(meminfo.group(1)) / 2**20, 1) if meminfo else None,
        "gpu": gpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "libraries": versions,
        "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg") else None,
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def matmul_peak(threads: int, n: int = 2048, runs: int = 8) -> dict:
    """The machine's practical fp32 limit: the best GFLOP/s of an n x n torch matmul (numpy's
    on the light install, which has no torch).

    Measured in the same process and with the same thread count as the engines, so the
    engines' achieved GFLOP/s can be read as a fraction of it.
    """
    try:
        import torch
    except ImportError:
        return _numpy_matmul_peak(threads, n, runs)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        a = torch.randn(n, n, generator=gen)
        b = torch.randn(n, n, generator=gen)
        best = _best_seconds(lambda: torch.mm(a, b), runs)
    finally:
        torch.set_num_threads(old)
    return _peak_record(n, best, f"torch.mm {n}x{n} @ {n}x{n}, best of {runs} after warm-up, "
                                 f"{threads} threads")


def _numpy_matmul_peak(threads: int, n: int, runs: int) -> dict:
    """numpy's BLAS, whose thread count is set by OMP_NUM_THREADS at start-up."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    best = _best_seconds(lambda: a @ b, runs)
    return _peak_record(n, best, f"numpy matmul {n}x{n} @ {n}x{n} (no torch here), best of "
                                 f"{runs} after warm-up, BLAS threads from OMP_NUM_THREADS")


def _best_seconds(call, runs: int) -> float:
    call()  # warm-up: thread pool and kernel selection
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
    return best


def _peak_record(n: int, best: float, method: str) -> dict:
    return {"gflops_per_s": round(2 * n**3 / best / 1e9, 1), "method": f"fp32 matmul, {method}",
            "note": "an fp32 limit: int8 kernels (VNNI: 4 multiply-adds per fp32 one) can "
                    "exceed it"}


def low_precision_peaks(threads: int, n: int = 1024, runs: int = 6) -> dict[str, dict]:
    """bf16 and int8 matmul peaks, through OpenVINO (the CPU engine that runs them).

    torch's CPU int8 matmul is a reference kernel (well under 1 GOP/s), so both peaks
    use OpenVINO: an n x n MatMul compiled with the bf16 hint, and one between
    FakeQuantize'd operands (OpenVINO's int8 form). A peak counts only where the
    compiled MatMul really runs in that precision (its runtime precision says so);
    elsewhere the entry says why not. Ops per second: 2 per multiply-add, like GFLOP/s."""
    try:
        import numpy as np
        import openvino as ov
        try:
            import openvino.opset13 as ops
        except ImportError:  # older OpenVINO
            import openvino.runtime.opset13 as ops
    except ImportError:
        return {p: {"gflops_per_s": None, "reason": "openvino is not installed"}
                for p in ("bf16", "int8")}
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    core = ov.Core()
    peaks = {}
    for precision in ("bf16", "int8"):
        x = param = ops.parameter([n, n], ov.Type.f32)
        w = ops.constant(rng.standard_normal((n, n)).astype(np.float32))
        if precision == "int8":
            lo, hi = (ops.constant(np.float32(v)) for v in (-4.0, 4.0))
            x, w = ops.fake_quantize(x, lo, hi, lo, hi, 256), ops.fake_quantize(w, lo, hi, lo,
                                                                                  hi, 255)
        model = ov.Model([ops.matmul(x, w, False, True)], [param])
        hint = "bf16" if precision == "bf16" else "f32"
        compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                     "INFERENCE_PRECISION_HINT": hint,
                                                     "PERFORMANCE_HINT": "LATENCY"})
        ran = {str(op.get_rt_info()["runtimePrecision"].astype(str))
               for op in compiled.get_runtime_model().get_ordered_ops()
               if "MatMul" in op.get_friendly_name()}
        want = {"bf16": {"bf16"}, "int8": {"u8", "i8"}}[precision]
        if not ran & want:
            peaks[precision] = {"gflops_per_s": None,
                                "reason": f"OpenVINO runs this CPU's {precision} matmul as "
                                          f"{', '.join(sorted(ran)) or '?'}: not native here"}
            continue
        request = compiled.create_infer_request()
        request.infer({0: a})  # warm-up
        best = float("inf")
        for _ in range(runs):
            t0 = time.perf_counter()
            request.infer({0: a})
            best = min(best, time.perf_counter() - t0)
        peaks[precision] = {
            "gflops_per_s": round(2 * n**3 / best / 1e9, 1),
            "method": f"{precision} matmul, OpenVINO {n}x{n} @ {n}x{n} "
                      f"({'FakeQuantize u8 x i8' if precision == 'int8' else 'bf16 hint'}, "
                      f"ran as {', '.join(sorted(ran))}), best of {runs}, {threads} threads"}
    return peaks


MEMORY_METHOD = ("peak resident set size (Linux VmHWM, reset through /proc/self/clear_refs "
                 "before loading the engine) minus the resident set just before loading: "
                 "weights, runtime sessions and activations, native allocations included")


class PeakMemory:
    """Peak extra resident memory of this process while the block runs, in MiB.

    Python's tracemalloc would miss what torch, ONNX Runtime and TensorRT allocate natively,
    so this reads the kernel's high-water mark instead. `mb` stays None where that is not
    available (non-Linux), rather than reporting a misleading figure.
    """

    def __init__(self) -> None:
        self.mb: float | None = None
        self._base: int | None = None

    def __enter__(self) -> PeakMemory:
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self._base = _status_kb("VmRSS")
        except OSError:
            self._base = None
        return self

    def __exit__(self, *exc: object) -> None:
        peak = _status_kb("VmHWM") if self._base is not None else None
        if peak is not None and self._base is not None:
            self.mb = round(max(0, peak - self._base) / 1024, 1)


def _status_kb(field: str) -> int | None:
    m = re.search(rf"^{field}:\s+(\d+) kB", _read("/proc/self/status"), re.M)
    return int(m.group(1)) if m else None
