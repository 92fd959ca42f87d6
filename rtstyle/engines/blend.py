"""Two styles at once: `--style a+b --mix 0.3` mixes their outputs per pixel.

Output-space blending works for any two styles (nets of other architectures, a net and a
painting, other backends), where weight-space blending needs the same net twice. It
costs both engines' time; the mix itself is one addWeighted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from rtstyle.engines.base import Engine, check_frames
from rtstyle.errors import RtstyleError

SEPARATOR = "+"  # never in a style name (catalogue.check_name), so it cannot clash


def check_mix(mix: float) -> float:
    if not 0.0 <= mix <= 1.0:
        raise RtstyleError(f"--mix {mix} is out of range; use a value in 0..1 (the share of "
                           "the second style)")
    return mix


def blend_parts(spec: str | Path) -> tuple[str, str] | None:
    """("a", "b") for a spec "a+b" that is not an existing file; None otherwise."""
    text = str(spec)
    if SEPARATOR not in text or Path(text).exists():
        return None
    a, _, b = text.partition(SEPARATOR)
    if not a or not b or SEPARATOR in b:
        raise RtstyleError(f"--style {text!r}: blend exactly two styles, as a+b (e.g. "
                           "udnie+starry_night --mix 0.3)")
    return a, b


class BlendEngine(Engine):
    """(1 - mix) x first style's output + mix x second's, on the same frames."""

    def __init__(self, first: Engine, second: Engine, mix: float):
        self.first, self.second, self.mix = first, second, check_mix(mix)
        self.name = f"{first.name}+{second.name} (mix {mix:g})"
        self.backend = (first.backend if first.backend == second.backend
                        else f"{first.backend}+{second.backend}")

    def run(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        a, b = self.first.run(frames), self.second.run(frames)
        flat = (len(frames) * frames.shape[1], -1)  # addWeighted takes 2-D images
        return cv2.addWeighted(a.reshape(flat), 1.0 - self.mix, b.reshape(flat), self.mix,
                               0.0).reshape(frames.shape)

    def close(self) -> None:
        self.first.close()
        self.second.close()


def open_blend(parts: tuple[str, str], mix: float,
               open_one: Callable[[str], Engine]) -> BlendEngine:
    check_mix(mix)  # before either engine loads
    return BlendEngine(open_one(parts[0]), open_one(parts[1]), mix)
