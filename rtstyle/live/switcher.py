"""The engine the worker runs, and the next one, loaded off the display thread."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from rtstyle.engines.base import Engine
from rtstyle.errors import RtstyleError

# Opens an engine for a style spec (name, model file or painting) with the run's backend,
# threads and style-swap budget: `functools.partial(open_engine, backend=..., ...)`.
EngineLoader = Callable[[str | Path], Engine]

ENGINE_CACHE = 4  # loaded engines kept, so switching back is instant


class EngineSwitcher:
    """The engine the worker runs, plus the next one, loaded and warmed up in a
    background thread and handed over between two frames."""

    def __init__(self, label: str, engine: Engine, load: EngineLoader,
                 frame_hw: tuple[int, int], notify: Callable[[str], None]):
        self.load, self.frame_hw, self.notify = load, frame_hw, notify
        self._lock = threading.Lock()
        self._active = (label, engine)
        self._cache: OrderedDict[str, Engine] = OrderedDict({label: engine})
        self._wanted: tuple[str, str | Path] | None = None
        self._loader: threading.Thread | None = None
        self.loading: str | None = None  # label being loaded, for the HUD

    def request(self, label: str, spec: str | Path) -> None:
        """Switch to `label` as soon as it is loaded; the latest request wins."""
        with self._lock:
            self._wanted = (label, spec)
            if label in self._cache:
                self._cache.move_to_end(label)
                return
            if self._loader is None:
                self._start_loader()

    def _start_loader(self) -> None:
        self.loading = self._wanted[0]
        self._loader = threading.Thread(target=self._load, args=self._wanted,
                                        name="rtstyle-loader", daemon=True)
        self._loader.start()

    def _load(self, label: str, spec: str | Path) -> None:
        t0 = time.monotonic()
        engine = None
        try:
            engine = self.load(spec)
            engine.warmup(*self.frame_hw, runs=1)
        except (RtstyleError, ImportError, OSError, RuntimeError, ValueError) as e:
            self.notify(f"cannot load {label}: {e}")
        with self._lock:
            if engine is not None:
                self._cache[label] = engine
                while len(self._cache) > ENGINE_CACHE:  # the worker may still hold an
                    self._cache.popitem(last=False)  # evicted one; GC frees it after
                self.notify(f"{label} ready in {time.monotonic() - t0:.1f} s")
            elif self._wanted and self._wanted[0] == label:
                self._wanted = None
            self._loader, self.loading = None, None
            if self._wanted and self._wanted[0] not in self._cache:
                self._start_loader()

    def current(self) -> tuple[str, Engine]:
        """The (label, engine) to run now; takes over a requested engine once it is ready."""
        with self._lock:
            if self._wanted and self._wanted[0] in self._cache:
                label = self._wanted[0]
                self._active, self._wanted = (label, self._cache[label]), None
            return self._active

    def close(self) -> None:
        if self._loader is not None:
            self._loader.join(timeout=30)
        for engine in self._cache.values():
            engine.close()
        self._cache.clear()
