"""Stylise a batch, then adjust each frame: strength blending and colour preservation."""

from __future__ import annotations

import cv2
import numpy as np

from rtstyle.engines.base import Engine
from rtstyle.errors import RtstyleError


def check_strength(strength: float) -> float:
    if not 0.0 <= strength <= 1.0:
        raise RtstyleError(f"--strength {strength} is out of range; use a value in 0..1")
    return strength


def preserve_colors(original: np.ndarray, styled: np.ndarray) -> np.ndarray:
    """Keep the original's colours, taking only luminance (Y of YCrCb) from the styled frame."""
    y = cv2.cvtColor(styled, cv2.COLOR_BGR2YCrCb)[..., :1]
    crcb = cv2.cvtColor(original, cv2.COLOR_BGR2YCrCb)[..., 1:]
    return cv2.cvtColor(np.concatenate([y, crcb], axis=-1), cv2.COLOR_YCrCb2BGR)


def adjust(original: np.ndarray, styled: np.ndarray, strength: float = 1.0,
           keep_colors: bool = False) -> np.ndarray:
    """Apply colour preservation, then blend `strength` of the result over the original."""
    out = preserve_colors(original, styled) if keep_colors else styled
    if strength < 1.0:
        out = cv2.addWeighted(out, strength, original, 1.0 - strength, 0.0)
    return out


def stylise(engine: Engine, frames: np.ndarray, strength: float = 1.0,
            keep_colors: bool = False) -> np.ndarray:
    """The one "stylise, then adjust" step: run the engine on a batch of uint8 BGR frames,
    then apply colour preservation and strength to each against its original."""
    styled = engine.run(frames)
    if strength >= 1.0 and not keep_colors:
        return styled
    return np.stack([adjust(f, s, strength, keep_colors)
                     for f, s in zip(frames, styled, strict=True)])
