"""Bounds on frame sizes, batches and threads, and the one parser for `WxH` sizes.

Every command checks what it is given against these before any slow work, so a size or
count that cannot work fails in one line instead of as a huge allocation deep inside a
backend.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from rtstyle.errors import RtstyleError

MIN_SIDE = 16  # the nets downsample 4x and pad: smaller frames have no valid output
MAX_SIDE = 8192  # 8K; a float32 activation of the full net at this size is already ~35 GB
MAX_BATCH = 64  # frames per engine call; more only costs memory
MAX_THREADS = 1024
MAX_TRAIN_SIDE = 2048  # training crop side; a 2048 px batch of 4 already needs ~20 GB for VGG
# Decoded still images: 2^29 px (~23000x23000) is 1.6 GB as BGR. A larger header is refused
# before decoding, so a tiny "decompression bomb" file cannot ask for tens of GB.
MAX_IMAGE_PIXELS = 1 << 29

_SIZE = re.compile(r"\s*(\d{1,6})\s*[xX]\s*(\d{1,6})\s*")


class Size(NamedTuple):
    """A frame size as people write it: width first."""

    w: int
    h: int

    @property
    def hw(self) -> tuple[int, int]:
        """(height, width), the order of array shapes."""
        return self.h, self.w

    def __str__(self) -> str:
        return f"{self.w}x{self.h}"


def parse_size(text: str, what: str = "--size") -> Size:
    """'640x480' -> Size(w=640, h=480), within MIN_SIDE..MAX_SIDE, or a one-line error."""
    m = _SIZE.fullmatch(text)
    if not m:
        raise RtstyleError(f"size '{text}' is not WIDTHxHEIGHT (not WxH); write {what} as "
                           "e.g. 640x480")
    return check_size(int(m.group(1)), int(m.group(2)), what)


def check_size(w: int, h: int, what: str = "--size") -> Size:
    if min(w, h) < MIN_SIDE:
        raise RtstyleError(f"size {w}x{h} ({what}) is impossible, too small; frames need at "
                           f"least {MIN_SIDE} px per side")
    if max(w, h) > MAX_SIDE:
        raise RtstyleError(f"size {w}x{h} ({what}) is impossible, too large; rtstyle takes at "
                           f"most {MAX_SIDE} px per side (scale the input down first)")
    return Size(w, h)


def check_count(value: int | None, what: str, high: int, low: int = 1) -> int | None:
    """A count option (threads, batch, frames) within low..high; None passes (a default)."""
    if value is not None and not low <= value <= high:
        raise RtstyleError(f"{what} {value} is out of range; use {low}..{high}")
    return value


def check_threads(value: int | None) -> int | None:
    return check_count(value, "--threads", MAX_THREADS)


def check_batch(value: int | None, what: str = "--batch") -> int | None:
    """Frames per engine call: more than MAX_BATCH only costs memory."""
    return check_count(value, what, MAX_BATCH)


def check_positive(value: float | None, what: str, high: float = math.inf,
                   zero: bool = False) -> float | None:
    """A finite real option (learning rate, loss weight, minutes) above 0 (or 0 when `zero`)
    and at most `high`; NaN and infinity are refused. None passes (a default)."""
    if value is None:
        return None
    low_ok = value >= 0 if zero else value > 0
    if not (math.isfinite(value) and low_ok and value <= high):
        bound = ">= 0" if zero else "> 0"
        top = f" and at most {high:g}" if math.isfinite(high) else ""
        raise RtstyleError(f"{what} {value} is not a usable number; give a finite value "
                           f"{bound}{top}")
    return value
