"""int8 style-swap graph: the encoder's and decoder's convs in u8 x s8, the matching in fp32.

The convs are ~75 % of a style-swap frame. ONNX Runtime's CPU provider runs a conv whose
input and output are both quantised (Q/DQ around Conv + ReLU) as one QLinearConv, about
twice as fast as fp32 on an AVX2-only CPU, and OpenVINO runs the same graph in int8 too
(docs/swap.md, Figures). The projection conv, whose weights are the painting's basis (a
graph input, different per painting), and the matching and paste stay fp32.

Static quantisation needs the activations' ranges. A user has no calibration photos and a
style switch must stay under a second, so the ranges are measured once, where photos are,
and ship beside the decoder as ONNX Runtime's calibration cache (JSON, tensor name ->
[lowest, highest]): `python benchmarks/make_swap_int8_ranges.py` writes it for the
built-in decoder. A decoder without that file (`RTSTYLE_SWAP_DECODER`) runs fp32.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx

from rtstyle.errors import RtstyleError


class Int8Unavailable(RtstyleError):
    """The int8 graph cannot be made here: the ranges do not fit this export."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"cannot make the int8 style-swap graph: {problem}; use "
                         "--swap-precision fp32")
        self.problem = problem


# the convs that run int8: the VGG encoder's and the decoder's (named after the modules)
QUANTISED_PREFIXES = ("/encoder/", "/decoder/")


def supported() -> bool:
    """Whether this ONNX Runtime's quantiser takes a calibration cache (added in 2026;
    older ones would calibrate on nothing)."""
    import inspect

    from onnxruntime.quantization import quantize_static

    return "calibration_cache_path" in inspect.signature(quantize_static).parameters


def ranges_file(decoder: Path) -> Path:
    """Where a decoder's int8 calibration ranges live: beside it."""
    decoder = Path(decoder)
    return decoder.with_name(decoder.stem + ".int8-ranges.json")


def _excluded_convs(model: onnx.ModelProto) -> list[str]:
    return [n.name for n in model.graph.node
            if n.op_type == "Conv" and not n.name.startswith(QUANTISED_PREFIXES)]


def _options() -> dict:
    """The one set of quantiser options, for calibrating and for quantising alike."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

    return dict(quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"], per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                # 7-bit weights: AVX2's u8 x s8 multiply (no VNNI) saturates at 8 bits
                reduce_range=True,
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})


def _quantize(fp32: Path, out: Path, ranges: Path, reader=None) -> None:
    from onnxruntime.quantization import quantize_static

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its "run pre-processing first" advice
    try:
        quantize_static(str(fp32), str(out), reader, calibration_cache_path=str(ranges),
                        nodes_to_exclude=_excluded_convs(onnx.load(str(fp32))), **_options())
    finally:
        root.setLevel(level)


def calibrate(fp32: Path, feeds: Iterable[dict[str, np.ndarray]], ranges: Path) -> Path:
    """Measure the activation ranges of the swap graph `fp32` on `feeds` (frames and a
    painting's index each) and write them to `ranges`; returns it."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(feeds)

        def get_next(self) -> dict | None:
            return next(self.it, None)

    ranges = Path(ranges)
    ranges.unlink(missing_ok=True)  # ONNX Runtime writes the cache only when it is absent
    with tempfile.TemporaryDirectory(prefix="rtstyle-int8-") as tmp:
        _quantize(fp32, Path(tmp) / "int8.onnx", ranges, Reader())
    ranges.chmod(0o644)  # written private (mkstemp); it is package data
    return ranges


def check_ranges(fp32: Path, ranges: Path) -> str | None:
    """Why `ranges` cannot quantise the graph `fp32` (e.g. made for another export's
    tensor names), or None when every quantised conv's input and output has a range."""
    try:
        known = set(json.loads(Path(ranges).read_text())["data"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"{ranges} is missing or not a calibration cache"
    model = onnx.load(str(fp32))
    inits = {i.name for i in model.graph.initializer}
    need = {t for n in model.graph.node
            if n.op_type == "Conv" and n.name.startswith(QUANTISED_PREFIXES)
            for t in (n.input[0], n.output[0]) if t not in inits}
    missing = sorted(need - known)
    if missing:
        return (f"{ranges.name} has no range for {len(missing)} of the graph's tensors "
                f"(e.g. {missing[0]}); it was made for another export")
    return None


def quantize(fp32: Path, ranges: Path, out: Path) -> Path:
    """The int8 form of the swap graph `fp32`, with the shipped `ranges`, at `out`."""
    problem = check_ranges(fp32, ranges)
    if problem:
        raise Int8Unavailable(problem)
    from rtstyle.files import atomic_output

    with atomic_output(out) as tmp:
        _quantize(fp32, tmp, ranges)
    return out
