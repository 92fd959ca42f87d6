"""The sink interface: where stylised frames go (a window, a recording, a browser, a camera).

The live pipeline fans every stylised frame out to its sinks. A new output is one module
with one Sink subclass, plus the option that asks for it in the command that offers it.
"""

from __future__ import annotations

import numpy as np


class Sink:
    """Receives stylised uint8 BGR frames of one size, in order, from one thread.

    `open` comes once before the first frame, `close` once at the end (also after an
    error). `write` must not block for long: the pipeline's display thread calls it.
    """

    name = "?"

    def open(self, size: tuple[int, int], fps: float) -> None:  # noqa: B027 (optional hook)
        """Get ready for frames of `size` (w, h) arriving at about `fps`."""

    def write(self, frame: np.ndarray, capture_time: float) -> None:
        """Take one stylised frame; `capture_time` is time.monotonic() when it was captured."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Finish (flush files, release devices); safe to call twice."""
