"""Counts and timings of a live run, in bounded memory however long it runs.

Recent FPS and latency (for the HUD) come from short fixed windows; the run's latency
percentiles come from a histogram with 1 ms bins, so an hours-long webcam session keeps
a constant footprint (issue: the old per-frame lists grew by two floats a frame).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

LATENCY_BINS_MS = 60_000  # 1 ms bins up to a minute; slower frames land in the last bin
RECENT = 15  # frames in the HUD's windows
MAX_SWITCHES = 100  # style switches kept in the report


class LatencyHistogram:
    """Running percentiles of latencies in ms, at 1 ms resolution."""

    def __init__(self) -> None:
        self.counts = np.zeros(LATENCY_BINS_MS + 1, np.int64)
        self.n = 0

    def add(self, ms: float) -> None:
        self.counts[min(max(int(ms), 0), LATENCY_BINS_MS)] += 1
        self.n += 1

    def percentile(self, q: float) -> float | None:
        if self.n == 0:
            return None
        rank = q / 100.0 * (self.n - 1)
        return float(np.searchsorted(np.cumsum(self.counts), rank, side="right")) + 0.5


class RunStats:
    """What was shown and when; the pipeline feeds it one call per shown frame."""

    def __init__(self) -> None:
        self.t_start = time.monotonic()
        self.shown = 0
        self.first_shown: float | None = None
        self.last_shown: float | None = None
        self.recent_shown: deque[float] = deque(maxlen=RECENT)
        self.recent_latency: deque[float] = deque(maxlen=RECENT)
        self.latency = LatencyHistogram()
        self.switches: deque[dict[str, Any]] = deque(maxlen=MAX_SWITCHES)
        self._switch: tuple[str, float] | None = None  # (label, started) of a pending switch
        self._style: str | None = None  # the style of the last shown frame

    def switch_started(self, label: str) -> None:
        """A key press (or page click) asked for `label`: time it to its first frame."""
        self._switch = (label, time.monotonic())

    def frame_shown(self, style: str, t_capture: float) -> str | None:
        """Count a shown frame; returns a message when it completes a pending switch."""
        now = time.monotonic()
        self.shown += 1
        self.first_shown = self.first_shown or now
        self.last_shown = now
        if style != self._style:  # a new style's FPS and latency, not a mix with the old
            self.recent_shown.clear()
            self.recent_latency.clear()
            self._style = style
        self.recent_shown.append(now)
        ms = (now - t_capture) * 1000.0
        self.recent_latency.append(ms)
        self.latency.add(ms)
        if self._switch is not None and style == self._switch[0]:
            label, t0 = self._switch
            self.switches.append({"to": label, "seconds": round(now - t0, 3)})
            self._switch = None
            return f"switched to {label} in {now - t0:.2f} s"
        return None

    def recent_fps(self) -> float:
        r = self.recent_shown
        return (len(r) - 1) / (r[-1] - r[0]) if len(r) > 1 and r[-1] > r[0] else 0.0

    def recent_latency_ms(self) -> float:
        return float(np.median(self.recent_latency)) if self.recent_latency else 0.0

    def summary(self) -> dict[str, Any]:
        span = (self.last_shown - self.first_shown) if self.shown > 1 else 0.0
        return {
            "frames_shown": self.shown,
            "fps_end_to_end": (self.shown - 1) / span if span > 0 else None,
            "latency_ms_p50": self.latency.percentile(50),
            "latency_ms_p95": self.latency.percentile(95),
            "duration_s": time.monotonic() - self.t_start,
            "switches": list(self.switches),
        }
