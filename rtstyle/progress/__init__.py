"""Progress for long jobs (video, train, train-swap, batch): one helper, two faces.

On a terminal it is a tqdm bar. On a pipe or in a log a redrawn bar is either silent
(tqdm disables itself) or a flood of carriage returns, so there it prints one plain line
every few seconds: done/total, rate and ETA. Both take the same calls (update,
set_postfix, write, close, total), so callers never check which they hold.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

# Seconds between lines on a pipe or in a log; RTSTYLE_PROGRESS_SECONDS sets it (0: every
# update), for logs that want more or fewer lines.
LINE_EVERY_S = 5.0


def _every_s() -> float:
    try:
        return max(0.0, float(os.environ.get("RTSTYLE_PROGRESS_SECONDS", LINE_EVERY_S)))
    except ValueError:
        return LINE_EVERY_S


class LineProgress:
    """tqdm's calls, printed as `desc: 120/900 frames, 15.2 frames/s, ETA 0:51` lines."""

    def __init__(self, total: int | None, unit: str, desc: str, initial: int = 0,
                 every_s: float | None = None, file: TextIO | None = None):
        self.total, self.unit, self.desc, self.n = total, unit, desc, initial
        self.every_s = _every_s() if every_s is None else every_s
        self.file = file or sys.stderr
        self.start_n, self.start = initial, time.monotonic()
        self.last, self.postfix = self.start, ""
        # Rate and ETA count from the first update on: start-up (opening a model, a first
        # training step that builds caches) is paid once and would inflate every ETA.
        self.first: tuple[int, float] | None = None

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.first is None:
            self.first = (self.n, time.monotonic())
        if time.monotonic() - self.last >= self.every_s:
            self._line()

    def set_postfix(self, ordered: dict | None = None, refresh: bool = True, **kw: Any) -> None:
        items = {**(ordered or {}), **kw}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def write(self, text: str) -> None:
        print(text, file=self.file, flush=True)

    def close(self) -> None:
        # A run short enough to print no line stays silent: its one result line (or one
        # error line) is then all the user sees.
        if self.n > self.start_n and self.last > self.start:
            self._line()

    def _line(self) -> None:
        now = time.monotonic()
        self.last = now
        n0, t0 = self.first if self.first and self.n > self.first[0] else (self.start_n,
                                                                         self.start)
        rate = (self.n - n0) / max(now - t0, 1e-9)
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        text = f"{self.desc}: {done} {self.unit}s, {rate:.3g} {self.unit}s/s"
        if self.total and rate > 0 and self.n < self.total:
            text += f", ETA {_clock((self.total - self.n) / rate)}"
        if self.postfix:
            text += f" ({self.postfix})"
        self.write(text)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def progress_bar(total: int | None, unit: str, desc: str, enabled: bool | None = None,
             initial: int = 0, **tqdm_kw: Any) -> Any:
    """A tqdm bar when stderr is a terminal, else LineProgress; `enabled=False`: silent."""
    from tqdm import tqdm

    if enabled is False:
        return tqdm(total=total, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, unit=unit, desc=desc, initial=initial, dynamic_ncols=True,
                    **tqdm_kw)
    return LineProgress(total, unit, desc, initial)
