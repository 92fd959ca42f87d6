"""One browser client over WebRTC: its camera track in, the stylised track out.

The incoming track is read as fast as it arrives and each frame replaces the last in
the worker's slot (newest-frame rule); the outgoing track sends each result once, as
soon as the worker has it. Closing the peer connection, a failed connection or the page
leaving ends the client and releases its engine.
"""

from __future__ import annotations

import asyncio
import fractions
import secrets
import time
from collections import deque

import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from rtstyle.serve import ice
from rtstyle.serve.pool import EnginePool
from rtstyle.serve.worker import Controls, FrameWorker

CLOCK = 90000  # RTP video clock rate


class StylisedTrack(MediaStreamTrack):
    """The outgoing video: the newest processed frame, each sent once."""

    kind = "video"

    def __init__(self, latencies: deque[float]) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._frame: tuple[np.ndarray, float] | None = None
        self._t0 = time.monotonic()
        self.latencies = latencies

    def offer(self, frame: np.ndarray, t_in: float) -> None:
        """From the worker thread."""
        def put() -> None:
            self._frame = (frame, t_in)
            self._ready.set()
        self._loop.call_soon_threadsafe(put)

    async def recv(self) -> VideoFrame:
        while self._frame is None:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        image, t_in = self._frame
        self._frame = None
        out = VideoFrame.from_ndarray(image, format="bgr24")
        now = time.monotonic()
        out.pts = int((now - self._t0) * CLOCK)
        out.time_base = fractions.Fraction(1, CLOCK)
        self.latencies.append((now - t_in) * 1000)
        return out

    def stop(self) -> None:
        super().stop()
        self._loop.call_soon_threadsafe(self._ready.set)


class Client:
    """A browser page: its peer connection, worker, controls and stats."""

    def __init__(self, pool: EnginePool, style_key: str, style_spec, stabilize: bool) -> None:
        self.id = secrets.token_urlsafe(9)
        self.pool = pool
        self.controls = Controls(style_key)
        self._spec = style_spec
        self._holds = False  # an engine is acquired (only once the offer was accepted)
        self.painting_key: str | None = None  # this client's uploaded painting, if any
        self.latencies: deque[float] = deque(maxlen=300)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN/TURN
        self.track = StylisedTrack(self.latencies)
        self.worker = FrameWorker(pool, self.controls, self.track.offer, stabilize,
                                  decode=lambda f: f.to_ndarray(format="bgr24"))
        self.frames_in = 0
        self.closed = asyncio.Event()
        self._closing = False
        self._tasks: list[asyncio.Task] = []

    async def answer(self, sdp: str) -> str:
        """Accept the browser's offer; the answer's SDP. Raises ValueError on a bad offer."""
        pc = self.pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._tasks.append(asyncio.ensure_future(self._pump(track)))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close()

        await pc.setRemoteDescription(RTCSessionDescription(ice.filter_sdp(sdp), "offer"))
        if not any(t.kind == "video" for t in pc.getTransceivers()):
            raise ValueError("the offer has no video track; the page must send its camera")
        for t in pc.getTransceivers():
            if t.kind == "video":
                t.sender.replaceTrack(self.track)
                t.direction = "sendrecv"
        await pc.setLocalDescription(await pc.createAnswer())
        self.pool.acquire(self.controls.style, self._spec)
        self._holds = True
        self.worker.start()
        return pc.localDescription.sdp

    async def _pump(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames_in += 1
                self.worker.put(frame, time.monotonic(), self.frames_in)
        except MediaStreamError:
            pass

    def set_style(self, key: str, spec) -> None:
        if key == self.controls.style or not self._holds:
            return
        self.pool.acquire(key, spec)
        old, self.controls.style = self.controls.style, key
        self.pool.release(old)

    def stats(self) -> dict:
        lat = sorted(self.latencies)
        pick = (lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 1)) if lat else \
            (lambda q: None)
        return {"id": self.id, "style": self.controls.style,
                "state": self.pool.state(self.controls.style),
                "showing": self.worker.showing, "strength": self.controls.strength,
                "stylised": self.controls.stylised, "frames_in": self.frames_in,
                "frames_out": self.worker.frames, "dropped": self.worker.slot.dropped,
                "latency_ms_p50": pick(0.5), "latency_ms_p95": pick(0.95)}

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self.worker.stop()
        self.track.stop()
        for t in self._tasks:
            t.cancel()
        await self.pc.close()
        if self.worker.is_alive():
            await asyncio.get_running_loop().run_in_executor(None, self.worker.join, 5)
        if self._holds:
            self.pool.release(self.controls.style)
        self.closed.set()  # the server forgets it only now that it holds nothing
