"""The styles the keys (or a web page) cycle through, in two families: transform nets and
style-swap paintings, and how a command line turns into one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rtstyle.errors import RtstyleError
from rtstyle.images import IMAGE_SUFFIXES

Choice = tuple[str, str | Path]  # (label, spec for open_engine)


@dataclass
class StyleMenu:
    """`label -> spec` lists for nets (catalogue names or model files) and paintings."""

    nets: list[Choice]
    paintings: list[Choice] = field(default_factory=list)
    family: str = "nets"
    index: int = 0

    def current(self) -> Choice:
        return self._items()[self.index]

    def _items(self) -> list[Choice]:
        return self.nets if self.family == "nets" else self.paintings

    def step(self, delta: int) -> Choice | None:
        """Move to the next/previous style in the family; None when there is no other."""
        items = self._items()
        if len(items) < 2:
            return None
        self.index = (self.index + delta) % len(items)
        return items[self.index]

    def toggle_family(self) -> Choice | None:
        """Switch between transform nets and paintings; None when the other is empty."""
        other = "paintings" if self.family == "nets" else "nets"
        if not getattr(self, other):
            return None
        self.family, self.index = other, 0
        return self.current()

    def choose(self, label: str) -> Choice | None:
        """Jump to the style called `label` in either family; None if there is none."""
        for family in ("nets", "paintings"):
            for i, (name, spec) in enumerate(getattr(self, family)):
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
    from rtstyle.styles.catalogue import find_style, list_styles

    nets: list[Choice] = [(s.name, s.name) for s in list_styles() if "error" not in s.meta]
    paintings = paintings_in(style_dir) if style_dir is not None else []
    if style_image is not None:
        if not style_image.is_file():
            raise RtstyleError(f"style image {style_image} does not exist")
        paintings = [(style_image.stem, style_image)] + [
            p for p in paintings if p[1] != style_image]
        return StyleMenu(nets, paintings, family="paintings")
    found = find_style(style)  # fails early, with a suggestion, on an unknown name
    if found.origin == "file":
        nets.insert(0, (found.name, str(found.path)))
    index = next(i for i, (label, _) in enumerate(nets) if label == found.name)
    return StyleMenu(nets, paintings, family="nets", index=index)
