"""A virtual camera: the stylised frames as a webcam that Zoom, Teams, Meet or OBS can pick.

pyvirtualcam (a maintained binding) drives v4l2loopback on Linux and OBS Virtual Camera
on Windows and macOS; writing to those devices by hand would mean three platform APIs.
"""

from __future__ import annotations

import sys

import numpy as np

from rtstyle.errors import RtstyleError
from rtstyle.sinks.base import Sink

SETUP = {
    "linux": "load v4l2loopback first: `sudo apt install v4l2loopback-dkms && sudo modprobe "
             "v4l2loopback devices=1 exclusive_caps=1 card_label=rtstyle`",
    "win32": "install OBS Studio (28+) and start its Virtual Camera once",
    "darwin": "install OBS Studio (28+) and start its Virtual Camera once",
}


def setup_hint() -> str:
    return SETUP.get(sys.platform, SETUP["linux"])


def require_backend():
    """The pyvirtualcam module, or one line saying what to install."""
    try:
        import pyvirtualcam
    except ImportError as e:
        raise RtstyleError("--virtual-camera needs pyvirtualcam: `pip install "
                           f"'rtstyle[virtualcam]'`, then {setup_hint()}") from e
    return pyvirtualcam


class VirtualCamera(Sink):
    """Sends each frame to a virtual camera device (`device`: e.g. /dev/video10; None:
    the first one found). Frames go out as they come; the device repeats the last one."""

    name = "virtual-camera"

    def __init__(self, device: str | None = None):
        self.pyvirtualcam = require_backend()
        self.device = device
        self.camera = None

    def open(self, size: tuple[int, int], fps: float) -> None:
        vc = self.pyvirtualcam
        try:
            self.camera = vc.Camera(size[0], size[1], fps, fmt=vc.PixelFormat.BGR,
                                    device=self.device)
        except RuntimeError as e:  # no device / backend: pyvirtualcam says which
            first = str(e).splitlines()[0] if str(e) else repr(e)
            raise RtstyleError(f"no virtual camera to send to ({first}); {setup_hint()}") \
                from None
        self.device = self.camera.device

    def write(self, frame: np.ndarray, capture_time: float) -> None:
        self.camera.send(frame)

    def close(self) -> None:
        if self.camera is not None:
            self.camera.close()
            self.camera = None
