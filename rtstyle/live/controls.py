"""What the user changes while it runs, and the action API that changes it.

The window's keys are one controller; a web page or any other is another. Each calls
`Actions.apply(name)` (or a method directly); none reaches into the pipeline's threads.
`ActionQueue` lets controllers on other threads hand actions to the display thread.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rtstyle.live.menu import TITLES

if TYPE_CHECKING:
    from rtstyle.live.instant import Handover
    from rtstyle.live.menu import Choice, StyleMenu
    from rtstyle.live.switcher import EngineSwitcher
    from rtstyle.sinks.recording import Recorder
    from rtstyle.sinks.screenshot import Screenshots

STRENGTH_STEP = 0.1
ALONE = ("no other style in this family; Tab goes to the next family, and "
         "`rtstyle styles import` adds styles")


@dataclass
class Controls:
    """What every live output is made with: the webcam's keys, a browser's settings and
    the stream's defaults all set one of these, and the worker reads it once a frame
    (plain attributes: no torn values)."""

    strength: float = 1.0
    preserve_colors: bool = False
    mirror: bool = False
    stylise: bool = True


class Actions:
    """Every action a user can take while it runs. `apply` maps action names (the window's
    keys, a page's buttons) to methods; it returns False for quit."""

    NAMES = ("next", "previous", "family", "original", "stronger", "weaker", "mirror",
             "screenshot", "record", "instant", "quit")

    def __init__(self, controls: Controls, menu: StyleMenu, switcher: EngineSwitcher,
                 notify: Callable[[str], None], on_switch: Callable[[str], None],
                 recorder: Recorder | None = None, screenshots: Screenshots | None = None):
        self.controls, self.menu, self.switcher = controls, menu, switcher
        self.notify, self.on_switch = notify, on_switch
        self.recorder, self.screenshots = recorder, screenshots
        self.handover: Handover | None = None  # live.instant, set by the pipeline

    def apply(self, name: str) -> bool:
        if name == "quit":
            return False
        if name not in self.NAMES:
            raise ValueError(f"unknown action '{name}'; known: {', '.join(self.NAMES)}")
        getattr(self, name.replace("-", "_"))()
        return True

    def _switch(self, choice: Choice | None, why_not: str) -> None:
        if choice is None:
            self.notify(why_not)
        else:
            self.on_switch(choice[0])
            self.switcher.request(*choice)

    def next(self) -> None:
        self._switch(self.menu.step(1), ALONE)

    def previous(self) -> None:
        self._switch(self.menu.step(-1), ALONE)

    def family(self) -> None:
        """Tab: real-time nets -> full nets -> paintings, skipping empty families."""
        choice = self.menu.toggle_family()
        if choice is not None:
            self.notify(f"{TITLES[self.menu.family]}: n/p cycle them, Tab moves on")
        self._switch(choice, "no other family of styles; add style-swap paintings with "
                             "--style-dir DIR or --style-image")

    def choose(self, label: str) -> None:
        """Switch to the style called `label` (a web page's menu)."""
        self._switch(self.menu.choose(label), f"no style called '{label}' here")

    def original(self) -> None:
        self.controls.stylise = not self.controls.stylise

    def set_strength(self, value: float) -> None:
        self.controls.strength = round(min(1.0, max(0.0, value)), 2)

    def stronger(self) -> None:
        self.set_strength(self.controls.strength + STRENGTH_STEP)

    def weaker(self) -> None:
        self.set_strength(self.controls.strength - STRENGTH_STEP)

    def mirror(self) -> None:
        self.controls.mirror = not self.controls.mirror

    def screenshot(self) -> None:
        if self.screenshots is not None:
            self.screenshots.save()

    def record(self) -> None:
        if self.recorder is not None:
            self.recorder.toggle()

    def instant(self) -> None:
        """Train a real-time net for the painting on screen, then switch to it."""
        if self.handover is not None:
            self.handover.start()


class ActionQueue:
    """A controller fed from other threads: `put` names, the display thread `poll`s them."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()

    def put(self, name: str) -> None:
        self._queue.put(name)

    def poll(self) -> str | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None
