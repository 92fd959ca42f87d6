"""The on-screen window: stylised frames, the heads-up overlay, the help card, hot keys.

OpenCV's highgui must be driven from the main thread; `Window` is only used there.
Keys map to action names of the live action API (live.controls.Actions).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import cv2
import numpy as np

from rtstyle.errors import RtstyleError
from rtstyle.sinks.base import Sink

# (keys, action, help text). Arrow codes are what cv2.waitKeyEx returns on Qt, GTK and
# Windows builds; the letter keys work everywhere.
KEYS: list[tuple[tuple[str, ...], str, str]] = [
    (("n", "RIGHT"), "next", "next style of this family"),
    (("p", "LEFT"), "previous", "previous style of this family"),
    (("TAB",), "family", "real-time nets -> full nets -> paintings"),
    (("SPACE",), "original", "original <-> stylised"),
    (("+", "="), "stronger", "strength +0.1"),
    (("-",), "weaker", "strength -0.1"),
    (("m",), "mirror", "mirror"),
    (("s",), "screenshot", "screenshot (PNG)"),
    (("r",), "record", "start / stop recording"),
    (("t",), "instant", "train a real-time net for this painting (~2 min, in the background)"),
    (("i",), "hud", "info overlay on / off"),
    (("f",), "fullscreen", "fullscreen on / off"),
    (("h", "?"), "help", "this help"),
    (("q", "ESC"), "quit", "quit"),
]
NAMED = {"TAB": [9], "SPACE": [32], "ESC": [27],
         "RIGHT": [0x1000014, 65363, 0x270000], "LEFT": [0x1000012, 65361, 0x250000]}
ACTIONS = {code: action for keys, action, _ in KEYS
           for k in keys for code in (NAMED[k] if k in NAMED else [ord(k)])}

FONT = cv2.FONT_HERSHEY_SIMPLEX


def check_display() -> None:
    """Fail with a clear message, not a Qt abort, when there is no screen to open on."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        raise RtstyleError("no display to open a window on ($DISPLAY is not set); run with "
                           "--no-display and --record OUT.mp4 or --max-frames N")


def _text_block(frame: np.ndarray, lines: list[str], origin: tuple[int, int],
                scale: float) -> int:
    """Draw lines of white text on a translucent dark box, in place; the box's bottom y."""
    thick = max(1, round(scale * 2))
    sizes = [cv2.getTextSize(t, FONT, scale, thick) for t in lines]
    line_h = max(s[0][1] + s[1] for s in sizes) + int(8 * scale)
    width = max(s[0][0] for s in sizes) + int(20 * scale)
    x0, y0 = origin
    h, w = frame.shape[:2]
    x1, y1 = min(w, x0 + width), min(h, y0 + line_h * len(lines) + int(10 * scale))
    box = frame[y0:y1, x0:x1]
    box[:] = (box * 0.35).astype(np.uint8)
    for i, text in enumerate(lines):
        y = y0 + int(6 * scale) + line_h * (i + 1) - sizes[i][1]
        cv2.putText(frame, text, (x0 + int(10 * scale), y), FONT, scale, (255, 255, 255),
                    thick, cv2.LINE_AA)
    return y1


def draw_overlays(frame: np.ndarray, hud: list[str] | None, help_card: bool) -> np.ndarray:
    """A copy of `frame` with the info overlay in the top-left corner and, below it, the
    key list: the help card never hides the FPS and style."""
    out = frame.copy()
    top = _text_block(out, hud, (0, 0), max(0.4, frame.shape[0] / 960)) if hud else 0
    if help_card:
        lines = ["keys"] + [" / ".join(k.lower() if len(k) > 1 else k for k in keys) + ": "
                            + text for keys, _, text in KEYS]
        _text_block(out, lines, (frame.shape[1] // 10, max(frame.shape[0] // 10, top + 4)),
                    max(0.35, frame.shape[0] / 1100))
    return out


class Window(Sink):
    """One highgui window, placed at the top-left of the screen, without Qt's toolbar;
    resizable (the picture keeps its aspect ratio) and fullscreen on `f`.

    As a sink it shows each frame with the HUD that `hud` returns; as a controller its
    `poll` turns key presses into action names. The HUD, help card and fullscreen are its
    own business (keys i, h, f), so they never reach the pipeline."""

    name = "window"

    def __init__(self, title: str = "rtstyle", hud: Callable[[], list[str]] | None = None):
        check_display()
        self.title, self.hud = title, hud
        self.show_hud, self.show_help, self.fullscreen = True, False, False
        self.last: np.ndarray | None = None
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        cv2.moveWindow(title, 0, 0)
        self._shown = False

    def open(self, size: tuple[int, int], fps: float) -> None:
        cv2.resizeWindow(self.title, *size)  # start at the frame's own size

    def write(self, frame: np.ndarray, capture_time: float) -> None:
        self.last = frame
        self.show(frame, self.hud() if self.hud and self.show_hud else None, self.show_help)

    def show(self, frame: np.ndarray, hud: list[str] | None = None,
             help_card: bool = False) -> None:
        if hud or help_card:
            frame = draw_overlays(frame, hud, help_card)
        cv2.imshow(self.title, frame)
        self._shown = True

    @property
    def closed(self) -> bool:
        """True once the user closed the window (title-bar button / window manager)."""
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def poll(self, wait_ms: int = 1) -> str | None:
        """Pump the GUI for `wait_ms`; the action of a pressed key, 'quit' if closed."""
        code = cv2.waitKeyEx(wait_ms)
        if self._shown and self.closed:
            return "quit"
        if code == -1:
            return None
        action = ACTIONS.get(code, ACTIONS.get(code & 0xFF) if code < 0x10000 else None)
        if action not in ("hud", "help", "fullscreen"):
            return action
        if action == "hud":
            self.show_hud = not self.show_hud
        elif action == "help":
            self.show_help = not self.show_help
        else:
            self.fullscreen = not self.fullscreen
            cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN,
                                  cv2.WINDOW_FULLSCREEN if self.fullscreen else cv2.WINDOW_NORMAL)
        if self.last is not None:  # redraw at once
            self.write(self.last, 0.0)
        return None

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass
