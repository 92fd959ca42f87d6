"""Screenshots: a sink that keeps the newest frame and saves it as PNG on request."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rtstyle.errors import RtstyleError
from rtstyle.images import write_image
from rtstyle.sinks.base import Sink


class Screenshots(Sink):
    name = "screenshot"

    def __init__(self, output_dir: Path, notify: Callable[[str], None] = lambda m: None):
        self.output_dir, self.notify = output_dir, notify
        self.last: np.ndarray | None = None

    def write(self, frame: np.ndarray, capture_time: float) -> None:
        self.last = frame  # frames are never modified after they are shown: no copy

    def save(self) -> Path | None:
        """Save the frame on screen (without the HUD) as PNG, atomically."""
        if self.last is None:
            self.notify("nothing to save yet")
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = next(p for i in itertools.count(1)
                    if not (p := self.output_dir / f"rtstyle-{stamp}-{i}.png").exists())
        try:
            write_image(path, self.last)
        except RtstyleError as e:
            self.notify(f"screenshot failed: {e}")
            return None
        self.notify(f"saved {path}")
        return path
