"""Where stylised frames go. Each output is a Sink (sinks/base.py) in a module of its own.

`SINKS` names the outputs a command line can add to a live run. The recorder and the
screenshots are built by the live pipeline itself, since keys start and stop them.
A new output is one module plus one line here.
"""

from __future__ import annotations

from rtstyle.sinks.base import Sink
from rtstyle.sinks.virtual_camera import VirtualCamera
from rtstyle.sinks.window import Window

SINKS: dict[str, type[Sink]] = {
    "window": Window,
    "virtual-camera": VirtualCamera,
}

__all__ = ["SINKS", "Sink", "VirtualCamera", "Window"]
