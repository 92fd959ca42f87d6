"""One engine per style, shared by every client, loaded in the background, freed when
the last client using it lets go.

Clients name styles by menu id (`style:NAME`, `painting:NAME`, `upload:ID`); the pool
maps the id to what `open_engine` takes. Loading (seconds for a compiled net) happens on
a loader thread so no client's video stalls; until then `current` gives no engine and
the client shows its camera unstylised. Loads happen one at a time (exporting and
compiling a graph is not thread-safe in torch, and two at once only halve each other's
speed). Clients' frames overlap on an engine that says it may run on several threads at
once (`Engine.concurrent`: OpenVINO, a request per thread) and take turns on the others;
engines are tuned for throughput over one frame's latency (`Engine.prefer_throughput`).
An engine is freed only once no frame is running on it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtstyle.engines import Engine, open_engine
from rtstyle.engines.swap import Budget


@dataclass
class _Entry:
    spec: str | Path
    users: int = 0
    engine: Engine | None = None
    error: str | None = None
    running: int = 0  # frames on the engine now
    turn: threading.Condition = field(default_factory=threading.Condition)


class _Shared:
    """One client's view of a shared engine: `run` waits its turn unless the engine runs
    concurrently, and a frame that races the engine's release passes through unstylised."""

    def __init__(self, entry: _Entry) -> None:
        self._entry = entry
        self.backend = entry.engine.backend if entry.engine is not None else "-"

    def run(self, frames: np.ndarray) -> np.ndarray:
        e = self._entry
        with e.turn:
            while e.running and e.engine is not None and not e.engine.concurrent:
                e.turn.wait()
            engine = e.engine
            if engine is None:
                return frames
            e.running += 1
        try:
            return engine.run(frames)
        finally:
            with e.turn:
                e.running -= 1
                e.turn.notify_all()


class EnginePool:
    def __init__(self, backend: str = "auto", threads: int | None = None,
                 swap: Budget | None = None) -> None:
        self.backend, self.threads, self.swap = backend, threads, swap
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._loading = threading.Lock()

    def acquire(self, key: str, spec: str | Path) -> None:
        """Count one more user of `key`; start loading it if nobody had it."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry(spec)
                threading.Thread(target=self._load, args=(key, entry), daemon=True,
                                 name=f"rtstyle-load-{key}").start()
            entry.users += 1

    def release(self, key: str) -> None:
        """One user fewer; the last one frees the engine."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            entry.users -= 1
            if entry.users > 0:
                return
            del self._entries[key]
        with entry.turn:  # let running frames finish first
            while entry.running:
                entry.turn.wait()
            engine, entry.engine = entry.engine, None
        if engine is not None:
            engine.close()

    def _load(self, key: str, entry: _Entry) -> None:
        try:
            with self._loading:
                if self._entries.get(key) is not entry:
                    return  # everyone left before its turn came
                engine = open_engine(entry.spec, self.backend, self.threads, self.swap)
                engine.prefer_throughput()  # shared by the clients
        except Exception as e:  # shown to the client that picked it; others keep going
            entry.error = str(e)
            return
        with self._lock:
            if self._entries.get(key) is entry:
                entry.engine = engine
                return
        engine.close()  # everyone left while it loaded

    def state(self, key: str) -> str:
        """'loading', 'ready', or the error that stopped it loading."""
        entry = self._entries.get(key)
        if entry is None:
            return "not loaded"
        if entry.error:
            return entry.error
        return "ready" if entry.engine is not None else "loading"

    def current(self, key: str) -> tuple[str, Engine | None]:
        """For the live worker (live.worker.EngineChoice): (key, the engine) once it is
        ready, else ("original (why)", None) and the camera passes through."""
        entry = self._entries.get(key)
        if entry is None or entry.engine is None:
            state = self.state(key)
            return ("original (style loading)" if state == "loading"
                    else f"original ({state})"), None
        return key, _Shared(entry)

    def loaded(self) -> dict[str, int]:
        """Style id -> number of clients using it (for /api/status)."""
        with self._lock:
            return {k: e.users for k, e in self._entries.items()}
