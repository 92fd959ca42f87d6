"""Reading, resizing and (atomically) writing still images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rtstyle.errors import RtstyleError
from rtstyle.files import write_bytes_atomic

# Still-image suffixes rtstyle reads (a style given as one of these is a painting).
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_image(path: Path) -> np.ndarray:
    """A BGR uint8 image, or a one-line error saying why not."""
    path = Path(path)
    if not path.exists():
        raise RtstyleError(f"input {path} does not exist")
    if path.is_dir():
        raise RtstyleError(f"input {path} is a folder; give image files")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise RtstyleError(f"cannot decode {path} as an image; give a JPEG, PNG, BMP or WebP file")
    return img


def fit_max_size(img: np.ndarray, max_size: int | None) -> np.ndarray:
    """Downscale so the longer side is at most `max_size` (never upscales)."""
    if not max_size:
        return img
    if max_size < 16:
        raise RtstyleError(f"--max-size {max_size} is too small; use at least 16")
    h, w = img.shape[:2]
    scale = max_size / max(h, w)
    if scale >= 1.0:
        return img
    size = (max(16, round(w * scale)), max(16, round(h * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def write_image(path: Path, img: np.ndarray) -> None:
    """Encode by the path's extension and write atomically."""
    path = Path(path)
    ext = path.suffix.lower() or ".png"
    try:
        ok, buf = cv2.imencode(ext, img)
    except cv2.error:
        ok = False
    if not ok:
        raise RtstyleError(f"cannot write images with extension '{ext}'; use .jpg, .png or .webp")
    write_bytes_atomic(path, buf.tobytes())
