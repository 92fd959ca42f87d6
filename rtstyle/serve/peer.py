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

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from rtstyle.engines.base import Engine
from rtstyle.live import Controls, Frame, InferWorker, NewestSlot, Output, RunStats
from rtstyle.serve import ice
from rtstyle.serve.pool import EnginePool

CLOCK = 90000  # RTP video clock rate


class StylisedTrack(MediaStreamTrack):
    """The outgoing video: the newest output of the live worker, each sent once. As the
    worker's outlet, `put` and `close` come from the worker's thread."""

    kind = "video"

    def __init__(self, stats: RunStats) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._out: Output | None = None
        self._t0 = time.monotonic()
        self.stats = stats
        self.showing = "original"

    def put(self, out: Output) -> None:
        self.showing = out.style

        def hand_over() -> None:
            self._out = out
            self._ready.set()
        self._loop.call_soon_threadsafe(hand_over)

    def close(self) -> None:
        """The worker ended (the client closes, or stylising failed): end the video."""
        try:
            self._loop.call_soon_threadsafe(self.stop)
        except RuntimeError:  # the server's loop is already gone
            pass

    async def recv(self) -> VideoFrame:
        while self._out is None:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        out, self._out = self._out, None
        frame = VideoFrame.from_ndarray(out.image, format="bgr24")
        frame.pts = int((time.monotonic() - self._t0) * CLOCK)
        frame.time_base = fractions.Fraction(1, CLOCK)
        self.stats.frame_shown(out.style, out.t_capture)  # latency: arrival -> encoder
        return frame

    def stop(self) -> None:
        super().stop()
        self._ready.set()


class Client:
    """A browser page: its peer connection, the live worker with its controls, stats.

    The client is the worker's engine choice (`current`): the pool's engine for the
    style the page picked."""

    def __init__(self, pool: EnginePool, style_key: str, style_spec, stabilize: bool,
                 label: str | None = None) -> None:
        self.id = secrets.token_urlsafe(9)
        self.pool = pool
        self.style, self.label = style_key, label or style_key.split(":", 1)[1]
        self.controls = Controls()
        self._spec = style_spec
        self._holds = False  # an engine is acquired (only once the offer was accepted)
        self.run_stats = RunStats()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN/TURN
        self.track = StylisedTrack(self.run_stats)
        self.frames = NewestSlot()
        self.worker = InferWorker(self.frames, self.track, self, self.controls,
                                  stabilize=stabilize,
                                  decode=lambda f: f.to_ndarray(format="bgr24"))
        self.frames_in = 0
        self.closed = asyncio.Event()
        self._closing = False
        self._tasks: list[asyncio.Task] = []

    def current(self) -> tuple[str, Engine | None]:
        return self.pool.current(self.style)

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
        self.pool.acquire(self.style, self._spec)
        self._holds = True
        self.worker.start()
        return pc.localDescription.sdp

    async def _pump(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames.put(Frame(frame, self.frames_in, time.monotonic()))
                self.frames_in += 1
        except MediaStreamError:
            pass

    def set_style(self, key: str, spec, label: str | None = None) -> None:
        if key == self.style or not self._holds:
            return
        self.pool.acquire(key, spec)
        old, self.style = self.style, key
        self.label = label or key.split(":", 1)[1]
        self.pool.release(old)

    def stats(self) -> dict:
        c, s = self.controls, self.run_stats
        return {"id": self.id, "style": self.style, "label": self.label,
                "state": self.pool.state(self.style), "showing": self.track.showing,
                "strength": c.strength, "stylised": c.stylise, "mirror": c.mirror,
                "keep_colours": c.preserve_colors, "frames_in": self.frames_in,
                "frames_out": self.worker.processed, "dropped": self.frames.dropped,
                "error": self.worker.error,
                # The recent window restarts when the style changes: the overlay shows
                # the new style's figures, not a mix with the old one's.
                "fps": round(s.recent_fps(), 1), "latency_ms": round(s.recent_latency_ms(), 1),
                "latency_ms_p50": s.latency.percentile(50),
                "latency_ms_p95": s.latency.percentile(95)}

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self.worker.stop()
        self.frames.close()
        self.track.stop()
        for t in self._tasks:
            t.cancel()
        await self.pc.close()
        if self.worker.is_alive():
            await asyncio.get_running_loop().run_in_executor(None, self.worker.join, 5)
        if self._holds:
            self.pool.release(self.style)
        self.closed.set()  # the server forgets it only now that it holds nothing
