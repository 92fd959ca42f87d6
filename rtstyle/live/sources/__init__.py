"""Frame sources, one plug-in each: a camera, file or URL (OpenCV), or the demo clip.

`open_source` turns what the user typed into a Source.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2

from rtstyle.errors import RtstyleError
from rtstyle.live.sources.base import DEFAULT_FPS, Source
from rtstyle.live.sources.camera import (
    READ_TIMEOUT_MS,
    CaptureSource,
    api_name,
    camera_backends,
    video_devices,
)
from rtstyle.live.sources.demo import DemoClip

DEFAULT_CAMERA_SIZE = (640, 480)

__all__ = ["DEFAULT_CAMERA_SIZE", "DEFAULT_FPS", "READ_TIMEOUT_MS", "CaptureSource", "DemoClip",
           "Source", "api_name", "camera_backends", "open_source", "video_devices"]


def open_source(spec: str | None, size: tuple[int, int] | None = None,
                demo: bool = False) -> Source:
    """Open `spec`: a camera index ('0'), '/dev/videoN', a video file or a URL.
    None means the default camera. `demo` gives the built-in generated clip instead."""
    if demo:
        return DemoClip(size or DEFAULT_CAMERA_SIZE)
    spec = "0" if spec is None else spec
    if "://" in spec:
        return CaptureSource(spec, "url", [cv2.CAP_FFMPEG], size)
    device = spec.isdigit() or spec.startswith("/dev/video")
    if device:
        if sys.platform.startswith("linux") and not video_devices():
            raise RtstyleError("no camera found on this machine (no /dev/video* devices); "
                               "stylise a video as if it were a camera with --source FILE, "
                               "or try the built-in clip with --demo")
        if spec.startswith("/dev/video") and not Path(spec).exists():
            raise RtstyleError(f"camera {spec} does not exist; cameras here: "
                               + ", ".join(video_devices()))
        target: int | str = int(spec) if spec.isdigit() else spec
        return CaptureSource(target, "camera", camera_backends(), size or DEFAULT_CAMERA_SIZE)
    path = Path(spec)
    if not path.exists():
        raise RtstyleError(f"source {spec} does not exist; give a camera index (0), "
                           "/dev/videoN, a video file or a URL")
    if path.is_dir():
        raise RtstyleError(f"source {spec} is a folder; give a video file")
    return CaptureSource(str(path), "file", [cv2.CAP_FFMPEG, cv2.CAP_ANY], size)
