"""Which precision a CPU engine runs, decided by what the CPU can do natively.

The same setting is fast on one CPU and slow on another: OpenVINO's bf16 hint halved the
full net's time on an AMD EPYC with avx512_bf16 (483 -> 244 ms, 57.6 dB from fp32) but
made it 1.6x slower on an Intel Xeon without it (558 -> 896 ms), where bf16 is emulated.
So the precision follows the CPU's flags, through a table of measured speed-ups and
fidelities (`MEASURED`, from `rtstyle bench` runs, see docs/backends.md): `auto` takes
the fastest mode the CPU runs natively whose fidelity keeps `MIN_PSNR_DB` against torch
fp32 on the reference photo. `--precision` forces one.

Modes, for a CPU backend (OpenVINO):
* fp32: the fp32 graph, every op in f32.
* bf16: the fp32 graph with the bf16 inference hint (convs, norm and head in bf16; the
  measured 57.6 dB says the norm and head need no f32 island here).
* int8: an int8 Q/DQ export (`rtstyle export --precision int8`), whose quantiser already
  keeps instance norm, the transposed convs and the output head in float; those float
  parts run in bf16 where the CPU has it natively, else f32.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from rtstyle.errors import RtstyleError

MODES = ("fp32", "bf16", "int8")
CHOICES = ("auto", *MODES, "fp16")  # fp16: GPU backends (torch-cuda)
MIN_PSNR_DB = 35.0
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
INT8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})

# mode -> (native?) -> (speed-up over fp32 on the same engine, PSNR dB vs torch fp32).
# Full net (udnie), 640x480, OpenVINO, 2 threads; sources in docs/backends.md:
#   bf16 native: AMD EPYC avx512_bf16, 483 -> 244 ms, 57.6 dB.
#   bf16 emulated: Intel Xeon without bf16, 558 -> 896 ms.
#   int8 VNNI: AMD EPYC, 483 -> 175 ms, 40 dB (float parts in bf16, OpenVINO's default).
#   int8 without VNNI: AMD EPYC guest with AVX2 only, 6604 -> 3104 ms (interleaved, under
#   load), 46.0 dB with the export's 7-bit weights (8-bit ones saturated AVX2's 16-bit
#   sums: 32-34 dB; VNNI accumulates in 32 bits).
MEASURED: dict[str, dict[bool, tuple[float, float]]] = {
    "fp32": {True: (1.0, float("inf"))},
    "bf16": {True: (1.98, 57.6), False: (0.62, 57.6)},
    "int8": {True: (2.76, 40.0), False: (2.13, 46.0)},
}


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo); empty where unknown."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return frozenset()
    m = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.M)
    return frozenset(m.group(1).split()) if m else frozenset()


def native(mode: str, flags: Iterable[str]) -> bool:
    """Whether the CPU has kernels for `mode` (fp32 always; bf16 and int8 by flag)."""
    flags = set(flags)
    return {"fp32": True, "bf16": bool(flags & BF16_FLAGS),
            "int8": bool(flags & INT8_FLAGS)}[mode]


def expected(mode: str, flags: Iterable[str]) -> tuple[float, float]:
    """(speed-up over fp32, PSNR dB) measured for `mode` on a CPU like this one."""
    return MEASURED[mode][native(mode, flags) or mode == "fp32"]


def choose(flags: Iterable[str], candidates: Iterable[str],
           min_psnr: float = MIN_PSNR_DB) -> str:
    """`auto`: the fastest of `candidates` on this CPU that keeps `min_psnr` dB."""
    flags = frozenset(flags)
    ok = [m for m in candidates if expected(m, flags)[1] >= min_psnr]
    if not ok:
        raise RtstyleError(f"no precision among {', '.join(candidates)} keeps {min_psnr:g} dB; "
                           "use --precision fp32")
    return max(ok, key=lambda m: expected(m, flags)[0])


def float_hint(flags: Iterable[str]) -> str:
    """The precision of the float ops next to int8 ones: bf16 where native, else fp32."""
    return "bf16" if native("bf16", flags) else "fp32"


def resolve(requested: str | None, graph_is_int8: bool,
            flags: Iterable[str] | None = None) -> str:
    """The mode a CPU engine runs for a graph: `requested` checked, or the policy's pick.

    An fp32 graph can run fp32 or bf16. An int8 graph runs int8: its Q/DQ pairs fix it,
    and the user chose it."""
    flags = cpu_flags() if flags is None else frozenset(flags)
    candidates = ["int8"] if graph_is_int8 else ["fp32", "bf16"]
    if requested in (None, "auto"):
        return "int8" if graph_is_int8 else choose(flags, candidates)
    if requested not in candidates:
        if requested == "int8":
            raise RtstyleError("--precision int8 needs an int8 export: make one with "
                               "`rtstyle export --style NAME --precision int8 --calibrate "
                               "PHOTOS` and pass that .onnx as --style")
        raise RtstyleError(f"--precision {requested} does not apply to this "
                           f"{'int8' if graph_is_int8 else 'fp32'} graph on a CPU engine; "
                           f"choose one of: auto, {', '.join(candidates)}")
    return requested
