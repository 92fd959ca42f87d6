"""Paintings uploaded from the page: size-limited, decoded with limits, kept in $RTSTYLE_HOME.

Pillow reads the header first, so a file that is not a JPEG/PNG/BMP/WebP, or claims more
pixels than MAX_PIXELS (a decompression bomb), is refused before anything is decoded.
The accepted painting is downscaled to the style-swap budget and stored as a PNG under
$RTSTYLE_HOME/serve/uploads, named by the server, never by the client.
"""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path, PureWindowsPath

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from rtstyle.images import write_image
from rtstyle.styles.catalogue import home

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # 40 MP: bigger than any camera photo, far below a bomb
FORMATS = {"JPEG", "PNG", "BMP", "WEBP"}
MAX_LABEL = 40  # characters of an upload's name shown on the page


class UploadError(ValueError):
    """The upload is refused; the message says why, for an HTTP 4xx."""


def uploads_dir() -> Path:
    return home() / "serve" / "uploads"


def decode_painting(data: bytes, max_side: int) -> np.ndarray:
    """The upload as BGR uint8 with its longer side at most `max_side`."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format not in FORMATS:
                raise UploadError(f"{im.format} images are not accepted; upload a JPEG, PNG, "
                                  "BMP or WebP")
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise UploadError(f"the image is {w}x{h} px, over the {MAX_PIXELS // 10**6} MP "
                                  "limit; scale it down first")
            if min(w, h) < 16:
                raise UploadError(f"the image is {w}x{h} px; give one at least 16 px per side")
            im.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced size directly
            rgb = np.asarray(im.convert("RGB"))
    except UploadError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise UploadError("the upload is not an image rtstyle can read; upload a JPEG, PNG, "
                          "BMP or WebP painting") from None
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    h, w = bgr.shape[:2]
    scale = max_side / max(h, w)
    if scale < 1.0:
        bgr = cv2.resize(bgr, (max(16, round(w * scale)), max(16, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
    return bgr


def store_painting(name: str, image: np.ndarray) -> Path:
    """Write the decoded painting atomically as uploads/<name>.png and return its path."""
    folder = uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    write_image(path, image)
    return path


def painting_label(file_name: str | None) -> str:
    """What the page calls an upload: the stem of the name the browser gave, with any
    folder, control or markup character removed (it is only ever a label, never a path)."""
    stem = PureWindowsPath(file_name or "").stem  # also cuts POSIX folders: / is a separator
    stem = "".join(ch for ch in unicodedata.normalize("NFC", stem)
                   if unicodedata.category(ch)[0] in "LNZ" or ch in "-_.,()'&+")
    stem = re.sub(r"\s+", " ", stem).strip(" .")[:MAX_LABEL].strip()
    return stem or "my painting"
