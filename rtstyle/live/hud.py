"""What the heads-up display says: style, engine, FPS, latency, controls, notices."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

NOTICE_S = 3.0  # how long a status message stays in the HUD


class Notices:
    """Recent one-line status messages: logged at once, shown for a few seconds."""

    def __init__(self, log: Callable[[str], None] = print):
        self.log = log
        self.items: deque[tuple[float, str]] = deque(maxlen=3)

    def __call__(self, message: str) -> None:
        self.items.append((time.monotonic(), message))
        self.log(message)

    def __iter__(self):
        return iter(list(self.items))

    def current(self) -> list[str]:
        now = time.monotonic()
        return [m for t, m in self.items if now - t < NOTICE_S]


def hud_lines(pipeline) -> list[str]:
    """The HUD for a running `live.pipeline.Pipeline`."""
    p = pipeline
    c, out = p.controls, p.last
    if out is None or not c.stylise:
        lines = [f"{p.menu.current()[0]}" + ("" if c.stylise else "  (showing original)")]
    else:
        lines = [f"{out.style}  [{out.backend}]"]
    lines.append(f"{p.counts.recent_fps():5.1f} FPS   latency "
                 f"{p.counts.recent_latency_ms():4.0f} ms")
    lines.append(f"strength {c.strength:.1f}" + ("  colours kept" if c.preserve_colors else "")
                 + ("  mirror" if c.mirror else "")
                 + ("  stabilised" if p.worker.stabilizer is not None else ""))
    training = p.handover.status()
    if training:
        lines.append(training)
    if p.switcher.loading:
        lines.append(f"loading {p.switcher.loading}...")
    seconds = p.recorder.seconds() if p.recorder is not None else None
    if seconds is not None:
        lines.append(f"REC {seconds:.0f} s")
    return lines + p.notices.current()
