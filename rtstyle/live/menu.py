"""The styles the keys (or a web page) cycle through, in three families, and how a command
line turns into a menu.

The families are the real-time nets (the lite architecture), the full nets (slow on a
CPU) and style-swap paintings. `n`/`p` stay within a family, so a real-time style is
never one key press from a 4 FPS one; Tab moves to the next family that has styles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rtstyle.errors import RtstyleError
from rtstyle.images import IMAGE_SUFFIXES

Choice = tuple[str, str | Path]  # (label, spec for open_engine)
FAMILIES = ("nets", "full", "paintings")  # the order Tab goes through them
TITLES = {"nets": "real-time nets", "full": "full nets (slow on a CPU)",
          "paintings": "style-swap paintings"}
REALTIME_ARCHS = {"lite"}  # architectures that keep 640x480 real time on a laptop CPU


@dataclass
class StyleMenu:
    """`label -> spec` lists for nets (catalogue names or model files) and paintings;
    `full` names the nets that are too slow for real time (their own family)."""

    nets: list[Choice]
    paintings: list[Choice] = field(default_factory=list)
    family: str = "nets"
    index: int = 0
    full: set[str] = field(default_factory=set)

    def current(self) -> Choice:
        return self._items()[self.index]

    def _items(self, family: str | None = None) -> list[Choice]:
        family = family or self.family
        if family == "paintings":
            return self.paintings
        return [c for c in self.nets if (c[0] in self.full) == (family == "full")]

    def step(self, delta: int) -> Choice | None:
        """Move to the next/previous style in the family; None when there is no other."""
        items = self._items()
        if len(items) < 2:
            return None
        self.index = (self.index + delta) % len(items)
        return items[self.index]

    def toggle_family(self) -> Choice | None:
        """Move to the next family that has styles; None when no other has any."""
        at = FAMILIES.index(self.family)
        for other in FAMILIES[at + 1:] + FAMILIES[:at]:
            if self._items(other):
                self.family, self.index = other, 0
                return self.current()
        return None

    def choose(self, label: str) -> Choice | None:
        """Jump to the style called `label` in any family; None if there is none."""
        for family in FAMILIES:
            for i, (name, spec) in enumerate(self._items(family)):
                if name == label:
                    self.family, self.index = family, i
                    return name, spec
        return None


def paintings_in(folder: Path) -> list[Choice]:
    if not folder.is_dir():
        raise RtstyleError(f"--style-dir {folder} is not a folder; give a folder of painting "
                           "images")
    found: list[Choice] = [(p.stem, p) for p in sorted(folder.iterdir())
                           if p.suffix.lower() in IMAGE_SUFFIXES]
    if not found:
        raise RtstyleError(f"--style-dir {folder} has no images (.jpg, .png, ...)")
    return found


def build_menu(style: str, style_image: Path | None = None,
               style_dir: Path | None = None) -> StyleMenu:
    """Every catalogue style plus the paintings, starting at the one asked for: the
    painting when `style_image` is given, else `style` (a name or a model file)."""
    from rtstyle.engines.blend import blend_parts
    from rtstyle.styles.catalogue import find_style, list_styles

    styles = [s for s in list_styles() if "error" not in s.meta]
    nets: list[Choice] = [(s.name, s.name) for s in styles]
    full = {s.name for s in styles if s.meta.get("arch") not in REALTIME_ARCHS}
    paintings = paintings_in(style_dir) if style_dir is not None else []
    if style_image is not None:
        if not style_image.is_file():
            raise RtstyleError(f"style image {style_image} does not exist")
        paintings = [(style_image.stem, style_image)] + [
            p for p in paintings if p[1] != style_image]
        return StyleMenu(nets, paintings, family="paintings", full=full)
    if parts := blend_parts(style):  # "a+b": one menu entry that opens both and mixes
        arches = {find_style(part).meta.get("arch") for part in parts}  # fail early
        nets.insert(0, (style, style))
        if not arches <= REALTIME_ARCHS:
            full.add(style)
        menu = StyleMenu(nets, paintings, full=full)
        menu.choose(style)
        return menu
    found = find_style(style)  # fails early, with a suggestion, on an unknown name
    if found.origin == "file":
        nets.insert(0, (found.name, str(found.path)))
        if found.meta.get("arch") not in REALTIME_ARCHS:
            full.add(found.name)
    menu = StyleMenu(nets, paintings, full=full)
    menu.choose(found.name)
    return menu
