"""Where stylised frames go. Each output is a Sink (sinks/base.py) in a module of its own.

There is no registry: the command that offers an output builds it from its own option
(`commands/webcam.py`'s `make_sinks`; serve's MJPEG stream in serve/broadcast.py). The
recorder and the screenshots are built by the live pipeline itself, since keys start and
stop them.
"""

from __future__ import annotations

from rtstyle.sinks.base import Sink
from rtstyle.sinks.virtual_camera import VirtualCamera
from rtstyle.sinks.window import Window

__all__ = ["Sink", "VirtualCamera", "Window"]
