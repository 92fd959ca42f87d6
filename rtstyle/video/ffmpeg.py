"""The FFmpeg libraries rtstyle reads and writes video with, through PyAV, in-process.

PyAV's wheels bundle one FFmpeg build (libx264, libvpx, libopus, libmp3lame, h264_nvenc
among its codecs), so the codecs and containers on offer are the same on every machine,
and errors arrive as exceptions instead of log lines to parse. This module is the one
place that imports `av`, turns its errors into one-line messages and keeps its log quiet.
"""

from __future__ import annotations

import contextlib
import os
import threading
from functools import cache
from types import ModuleType

from rtstyle.errors import RtstyleError


@cache
def av() -> ModuleType:
    """The `av` module, its FFmpeg log silenced (our errors say what went wrong, once)."""
    try:
        import av as _av
        import av.logging
    except ImportError as e:
        raise RtstyleError(f"PyAV is missing ({e}); reinstall with `pip install av`") from e
    av.logging.set_level(None)  # FFmpeg would print warnings (e.g. concealed errors) to stderr
    return _av


def av_message(e: BaseException) -> str:
    """FFmpeg's own words for an error, without PyAV's "[Errno N]" and file-name noise."""
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return str(text).strip().rstrip(".")


def has_encoder(name: str) -> bool:
    """True when the bundled FFmpeg has encoder `name` (it may still fail to open, e.g.
    h264_nvenc without an NVIDIA GPU and driver)."""
    try:
        av().codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 (UnknownCodecError and friends)
        return False
    return True


def lower_priority(steps: int = 10) -> None:
    """Lower the calling thread's priority (Linux: each thread has its own nice value), so
    decoding and encoding run in the gaps the net leaves: on a CPU the engine's threads want
    every core, and codec work that preempts them stalls its parallel loops. Best effort."""
    with contextlib.suppress(OSError, AttributeError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid)
                                                 + steps))
