"""One engine per style, shared by every client, loaded in the background, freed when
the last client using it lets go.

Clients name styles by menu id (`style:NAME`, `painting:NAME`, `upload:ID`); the pool
maps the id to what `open_engine` takes. Loading (seconds for a compiled net) happens on
a loader thread so no client's video stalls; until then `current` gives no engine and
the client shows its camera unstylised. Loads happen one at a time (exporting and
compiling a graph is not thread-safe in torch, and two at once only halve each other's
speed). A client's engine view holds the engine's lock while it runs: backends differ
in whether one session may run on two threads at once, so none are asked to.
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
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Shared:
    """One client's view of a shared engine: `run` holds the engine's lock, and a frame
    that races the engine's release passes through unstylised."""

    def __init__(self, entry: _Entry) -> None:
        self._entry = entry
        self.backend = entry.engine.backend if entry.engine is not None else "-"

    def run(self, frames: np.ndarray) -> np.ndarray:
        with self._entry.lock:
            engine = self._entry.engine
            return frames if engine is None else engine.run(frames)


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
        with entry.lock:  # let a running frame finish first
            if entry.engine is not None:
                entry.engine.close()
                entry.engine = None

    def _load(self, key: str, entry: _Entry) -> None:
        try:
            with self._loading:
                if self._entries.get(key) is not entry:
                    return  # everyone left before its turn came
                engine = open_engine(entry.spec, self.backend, self.threads, self.swap)
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
