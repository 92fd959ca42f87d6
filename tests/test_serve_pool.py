"""serve's engine pool: clients' frames overlap on an engine that runs concurrently,
take turns on one that does not, and an engine is closed only after its running frames."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rtstyle.engines.base import Engine
from rtstyle.serve.pool import EnginePool, _Entry, _Shared


class Recording(Engine):
    """An engine that records how many frames are inside `run` at once."""

    backend = "recording"

    def __init__(self, concurrent: bool) -> None:
        self.concurrent = concurrent
        self.inside = self.most = 0
        self.closed = False
        self.tuned = False
        self._count = threading.Lock()

    def run(self, frames: np.ndarray) -> np.ndarray:
        with self._count:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.1)
        assert not self.closed, "ran on a closed engine"
        with self._count:
            self.inside -= 1
        return frames + 1

    def prefer_throughput(self) -> None:
        self.tuned = True

    def close(self) -> None:
        self.closed = True


def _four_at_once(view: _Shared) -> list[np.ndarray]:
    out: list[np.ndarray] = [None] * 4  # type: ignore[list-item]
    start = threading.Barrier(4)

    def run(i: int) -> None:
        start.wait()
        out[i] = view.run(np.full((1, 2, 2, 3), i, np.uint8))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return out


@pytest.mark.parametrize("concurrent,most", [(True, 4), (False, 1)])
def test_frames_overlap_only_on_a_concurrent_engine(concurrent, most):
    engine = Recording(concurrent)
    out = _four_at_once(_Shared(_Entry("x", users=4, engine=engine)))
    assert engine.most == most
    assert [int(o[0, 0, 0, 0]) for o in out] == [1, 2, 3, 4]  # every frame stylised


def test_release_waits_for_running_frames_then_frames_pass_through(monkeypatch):
    engine = Recording(concurrent=True)
    monkeypatch.setattr("rtstyle.serve.pool.open_engine", lambda *a: engine)
    pool = EnginePool()
    pool.acquire("style:x", "x")
    deadline = time.monotonic() + 10
    while pool.state("style:x") != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert engine.tuned  # shared by clients: tuned for throughput
    _, view = pool.current("style:x")
    got = {}
    running = threading.Thread(target=lambda: got.update(a=view.run(np.zeros((1, 2, 2, 3),
                                                                             np.uint8))))
    running.start()
    time.sleep(0.03)  # inside run
    pool.release("style:x")  # the last user leaves mid-frame
    running.join(10)
    assert engine.closed and int(got["a"].max()) == 1  # finished, then closed
    frame = np.zeros((1, 2, 2, 3), np.uint8)
    assert view.run(frame) is frame  # after release: the camera passes through
