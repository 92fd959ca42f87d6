"""The newest-frame slot: one item between two threads, replaced, never queued.

When the consumer (the engine) is slower than the producer (the camera), old frames are
dropped and counted, so what the user sees is always as fresh as possible.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Frame:
    image: np.ndarray  # uint8 BGR
    index: int  # capture sequence number, from 0
    t_capture: float  # time.monotonic() when it was read


class NewestSlot:
    """A one-item buffer between threads: `put` replaces what is held (counting it as
    dropped), `take` waits for an item and empties the slot. Never grows, never blocks `put`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._closed = False
        self.dropped = 0
        self._wanted_at = 0.0  # when the taker expects to want the next item; 0: now
        self._takers = 0  # threads waiting in take()

    def expect_taker_at(self, t: float) -> None:
        """The taker says when (time.monotonic()) it will next call `take`."""
        self._wanted_at = t

    def wanted_within(self, seconds: float) -> bool:
        """Will the taker want an item within `seconds`? Lets the producer skip the cost
        of preparing items that would only be replaced before anyone took them."""
        return self._wanted_at - time.monotonic() <= seconds

    def put(self, item: Any) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> Any:
        """The newest item, or None when the timeout passes or the slot is closed and empty."""
        self._wanted_at = 0.0
        with self._cond:
            self._takers += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            finally:
                self._takers -= 1
            item, self._item = self._item, None
            return item

    def wait_for_taker(self, timeout: float) -> bool:
        """Wait until someone is waiting in `take` on an empty slot; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (self._takers and self._item is None) or self._closed,
                timeout) and not self._closed

    def close(self) -> None:
        """No more items will come; wake anyone waiting."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def discard(self) -> None:
        """Drop whatever is still held (at shutdown), counting it."""
        with self._cond:
            if self._item is not None:
                self.dropped += 1
                self._item = None
