"""What every frame source is: grab, retrieve, reopen, release."""

from __future__ import annotations

import numpy as np

DEFAULT_FPS = 30.0  # for sources that do not say (many webcams report 0)


class Source:
    """Something frames come from. `live` sources (cameras, streams) pace themselves;
    the others are played at `fps` by the capture thread."""

    description = "?"
    fps = DEFAULT_FPS
    live = True

    def grab(self) -> bool:
        """Advance to the next frame without converting it; False at the end of a file or
        when a live source fails."""
        raise NotImplementedError

    def retrieve(self) -> np.ndarray | None:
        """The grabbed frame as BGR (the costly part: decoding / colour conversion)."""
        raise NotImplementedError

    def read(self) -> np.ndarray | None:
        """The next BGR frame, or None at the end of a file or when a live source fails."""
        return self.retrieve() if self.grab() else None

    def reopen(self) -> bool:
        """Start again: reconnect a live source, rewind a file. True if it worked."""
        raise NotImplementedError

    def release(self) -> None:
        """Let go of the device or file; safe to call twice."""
