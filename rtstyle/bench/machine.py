"""What the numbers were measured on: the machine description, its fp32 peak, peak memory.

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
    """The machine's practical fp32 limit: the best GFLOP/s of an n x n torch matmul.

    Measured in the same process and with the same thread count as the engines, so the
    engines' achieved GFLOP/s can be read as a fraction of it.
    """
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        a = torch.randn(n, n, generator=gen)
        b = torch.randn(n, n, generator=gen)
        torch.mm(a, b)  # warm-up: thread pool and kernel selection
        best = float("inf")
        for _ in range(runs):
            t0 = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(old)
    return {"gflops_per_s": round(2 * n**3 / best / 1e9, 1),
            "method": f"fp32 matmul, torch.mm {n}x{n} @ {n}x{n}, best of {runs} after warm-up, "
                      f"{threads} threads",
            "note": "an fp32 limit: int8 kernels (VNNI: 4 multiply-adds per fp32 one) can "
                    "exceed it"}


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
