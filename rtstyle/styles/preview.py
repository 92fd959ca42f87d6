"""Styles you can see: each style painted over one photo, as thumbnails and a contact sheet.

`thumbnail_png` is the one renderer: `rtstyle styles preview` tiles its output into a
sheet, and the serve page's gallery shows it. Thumbnails are cached by the style file,
the photo and the size, so the gallery renders each style once per machine. The painting
itself is the caller's `paint` (rtstyle.engines.paint_image): engines sit above styles.

The built-in photo is Grace Hopper's US Navy portrait (public domain, a work of the US
federal government), as matplotlib ships it in mpl-data/sample_data/grace_hopper.jpg;
a face is what a webcam style is mostly judged on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from rtstyle import __version__
from rtstyle.errors import RtstyleError
from rtstyle.images import read_image
from rtstyle.styles.catalogue import BUILTIN_DIR, Style, cache_dir, find_style, list_styles

SAMPLE_PHOTO = BUILTIN_DIR / "sample_photo.jpg"
THUMB_HEIGHT = 240
LABEL_HEIGHT = 28
MAX_TILES = 64


def fit_height(img: np.ndarray, height: int = THUMB_HEIGHT) -> np.ndarray:
    """Scale to `height` rows, keeping the aspect ratio (area filter when shrinking)."""
    h, w = img.shape[:2]
    width = max(1, round(w * height / h))
    interp = cv2.INTER_AREA if height < h else cv2.INTER_CUBIC
    return cv2.resize(img, (width, height), interpolation=interp)


Paint = Callable[[Style, np.ndarray], np.ndarray]  # (style, BGR image) -> painted image


def thumbnail_png(style: Style, paint: Paint, photo_path: Path = SAMPLE_PHOTO) -> Path:
    """A cached PNG of `paint(style, photo at thumbnail size)`; rendered on first use."""
    key = hashlib.sha256()
    for part in (style.path.read_bytes(), Path(photo_path).read_bytes(),
                 f"{THUMB_HEIGHT}-{__version__}".encode()):
        key.update(part)
    cached = cache_dir("thumbnails") / f"{style.name}-{key.hexdigest()[:16]}.png"
    if not cached.exists():
        from rtstyle.images import write_image

        write_image(cached, paint(style, fit_height(read_image(photo_path))))
    return cached


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    """The tile with a dark strip under it holding `text`."""
    strip = np.full((LABEL_HEIGHT, tile.shape[1], 3), 24, np.uint8)
    scale = min(0.55, 0.55 * tile.shape[1] / max(1, 11 * len(text)))
    cv2.putText(strip, text, (6, LABEL_HEIGHT - 9), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (235, 235, 235), 1, cv2.LINE_AA)
    return np.vstack([tile, strip])


def pick_styles(names: list[str]) -> list[Style]:
    """The named styles (all usable ones when none are named); unknown names fail early."""
    styles = [find_style(n) for n in names] if names else \
        [s for s in list_styles() if "error" not in s.meta]
    if not styles:
        raise RtstyleError("no styles to preview; see `rtstyle styles list`")
    if len(styles) > MAX_TILES:
        raise RtstyleError(f"{len(styles)} styles is too many for one sheet; name at most "
                           f"{MAX_TILES}")
    return styles


def contact_sheet(styles: list[Style], paint: Paint, photo_path: Path = SAMPLE_PHOTO,
                  columns: int = 4) -> np.ndarray:
    """The photo, then each style over it, labelled, in rows of `columns` tiles."""
    photo = fit_height(read_image(photo_path))
    tiles = [_label(photo, "photo")]
    tiles += [_label(read_image(thumbnail_png(s, paint, photo_path)), s.name) for s in styles]
    blank = np.full_like(tiles[0], 24)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)
