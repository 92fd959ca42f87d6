"""The Ray worker: one process that loads its engine once and stylises segment after segment.

It runs as a Ray actor (the scheduler wraps this plain class with `ray.remote`, so this
module imports without Ray). Segments travel as bytes through Ray's object store, in
and out, so the nodes need no shared file system: each worker writes a segment to its
own temporary folder, runs the single-process `stylise_video` on it, and returns the
encoded result.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path
from typing import Any


class SegmentWorker:
    """The style file travels as a Ray object reference (wrapped in a list, so Ray hands
    it over unresolved) and is loaded on first use: a worker that Ray restarts after a
    crash reloads it from there, and the constructor holds no large arguments."""

    def __init__(self, backend: str, threads: int | None, swap: Any = None) -> None:
        self._open = (backend, threads, swap)
        self.engine = None

    def _load(self, style: list) -> None:
        if self.engine is None:
            import ray

            from rtstyle.engines import open_engine

            name, data = ray.get(style[0])
            with tempfile.TemporaryDirectory(prefix="rtstyle-style-") as tmp:
                path = Path(tmp) / name
                path.write_bytes(data)
                self.engine = open_engine(path, *self._open)  # the engine holds it in memory

    def describe(self, style: list) -> dict[str, Any]:
        """Load the engine; say where this worker runs and what it runs."""
        self._load(style)
        return {"pid": os.getpid(), "host": socket.gethostname(),
                "engine": self.engine.name, "backend": self.engine.backend}

    def stylise(self, style: list, data: bytes, suffix: str,
                options: dict[str, Any]) -> dict[str, Any]:
        """Stylise one segment (the bytes of a video file with this `suffix`); returns the
        encoded MP4 bytes and what it took."""
        from rtstyle.video.stylise import stylise_video

        self._load(style)
        with tempfile.TemporaryDirectory(prefix="rtstyle-segment-") as tmp:
            src, dst = Path(tmp) / f"in{suffix}", Path(tmp) / "out.mp4"
            src.write_bytes(data)
            result = stylise_video(self.engine, src, dst, progress=False, **options)
            return {"data": dst.read_bytes(), "frames": result.frames,
                    "seconds": result.seconds, "pid": os.getpid()}
