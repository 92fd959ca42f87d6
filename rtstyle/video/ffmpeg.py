"""The ffmpeg binary rtstyle drives (from imageio-ffmpeg), and reading its stderr safely.

Every video file rtstyle reads or writes goes through this one pinned binary, so the
codecs and containers on offer are the same on every machine.
"""

from __future__ import annotations

import collections
import contextlib
import os
import subprocess
import threading
from functools import cache

from rtstyle.errors import RtstyleError


@cache
def ffmpeg_exe() -> str:
    """Path to the ffmpeg binary shipped by imageio-ffmpeg."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as e:
        raise RtstyleError(f"no ffmpeg binary found ({e}); reinstall with "
                           "`pip install imageio-ffmpeg`") from e


class StderrTail:
    """Drain a process's stderr in a thread (so ffmpeg never blocks on a full pipe),
    keeping the last lines for error messages and handing each line to `on_line`."""

    def __init__(self, proc: subprocess.Popen, keep: int = 40, on_line=None) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self._on_line = on_line
        self._thread = threading.Thread(target=self._drain, args=(proc.stderr,), daemon=True)
        self._thread.start()

    def _drain(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if self._on_line is not None:
                self._on_line(line)
            self.lines.append(line)
        stream.close()

    def join(self, timeout: float | None = 10) -> None:
        self._thread.join(timeout)

    def last_error(self) -> str:
        """The most telling line ffmpeg printed, for a one-line error message."""
        lines = [ln.strip() for ln in self.lines if ln.strip()]
        for ln in reversed(lines):
            low = ln.lower()
            if any(w in low for w in ("error", "invalid", "no space", "denied", "not ")):
                return ln
        return lines[-1] if lines else "no message"


def lower_priority(proc: subprocess.Popen, steps: int = 10) -> None:
    """Let `proc` run in the gaps the net leaves: on a CPU the engine's threads want every
    core, and codec work that preempts them stalls its parallel loops. Best effort."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, proc.pid,
                       min(19, os.getpriority(os.PRIO_PROCESS, proc.pid) + steps))
