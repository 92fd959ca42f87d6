"""Cameras, video files and stream URLs, through cv2.VideoCapture."""

from __future__ import annotations

import glob
import sys
from collections.abc import Callable

import cv2
import numpy as np

from rtstyle.errors import RtstyleError
from rtstyle.live.sources.base import DEFAULT_FPS, Source

READ_TIMEOUT_MS = 5000  # a blocked camera/stream read gives up after this, so nothing hangs


def _quiet_opencv() -> Callable[[], None]:
    """Silence OpenCV's own warnings while probing backends; returns the undo."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    return lambda: cv2.utils.logging.setLogLevel(level)


def camera_backends() -> list[int]:
    """The camera APIs this OpenCV build really has, the platform's native one first."""
    native = {"linux": cv2.CAP_V4L2, "win32": cv2.CAP_MSMF, "darwin": cv2.CAP_AVFOUNDATION}
    apis = [a for a in cv2.videoio_registry.getCameraBackends()
            if cv2.videoio_registry.hasBackend(a)]
    first = native.get(sys.platform)
    return sorted(apis, key=lambda a: a != first)


def api_name(api: int) -> str:
    return cv2.videoio_registry.getBackendName(api)


class CaptureSource(Source):
    """A cv2.VideoCapture on a camera index, a video file or a stream URL."""

    def __init__(self, target: int | str, kind: str, apis: list[int],
                 size: tuple[int, int] | None):
        self.target, self.kind, self.apis, self.size = target, kind, apis, size
        self.description = {"camera": f"camera {target}", "file": f"file {target}",
                            "url": f"stream {target}"}[kind]
        self.cap: cv2.VideoCapture | None = None
        self.api_used = ""
        if not self._open():
            raise RtstyleError(self._open_error())
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps <= 240 else DEFAULT_FPS
        # A stream with a known length is a file served over the network: it ends, it does
        # not get "lost".
        self.live = kind == "camera" or (
            kind == "url" and self.cap.get(cv2.CAP_PROP_FRAME_COUNT) <= 0)

    def _open(self) -> bool:
        undo = _quiet_opencv()
        try:
            for api in self.apis:
                # Backends refuse to open with parameters they do not know, so only
                # FFmpeg gets the timeouts; camera sizes are requested after opening.
                params = ([cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, READ_TIMEOUT_MS,
                           cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
                          if api == cv2.CAP_FFMPEG else [])
                try:
                    cap = cv2.VideoCapture(self.target, api, params)
                except cv2.error:
                    continue
                if cap.isOpened():
                    if self.kind == "camera":  # unsupported settings are ignored
                        if self.size:
                            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
                            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
                        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fewer stale frames queued
                        cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS)
                    self.cap, self.api_used = cap, api_name(api)
                    return True
                cap.release()
            return False
        finally:
            undo()

    def _open_error(self) -> str:
        tried = ", ".join(api_name(a) for a in self.apis)
        if self.kind == "camera":
            return (f"cannot open camera {self.target} (tried OpenCV backends: {tried}); check "
                    "that it is connected and not in use, or use --source FILE or --demo")
        if self.kind == "file":
            return (f"cannot open {self.target} as a video (tried OpenCV backends: {tried}); "
                    "give a video file OpenCV can decode, e.g. .mp4 or .avi")
        return (f"cannot open stream {self.target} (tried OpenCV backends: {tried}); check "
                "the URL and that the server is up")

    def grab(self) -> bool:
        try:
            return self.cap is not None and self.cap.grab()
        except cv2.error:
            return False

    def retrieve(self) -> np.ndarray | None:
        try:
            ok, frame = self.cap.retrieve()
        except cv2.error:
            return None
        return frame if ok and frame is not None and frame.size else None

    def reopen(self) -> bool:
        if self.kind == "file" and self.cap is not None:
            if self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
                return True
        self.release()
        return self._open()

    def release(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


def video_devices() -> list[str]:
    """The camera device nodes on this machine (Linux); [] elsewhere or when there are none."""
    return sorted(glob.glob("/dev/video*"))
