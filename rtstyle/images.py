"""Reading, resizing and (atomically) writing still images.

Reading checks what a file claims before decoding it: the size in its header (read with
Pillow, which parses headers without decoding pixels; OpenCV cannot), so a small file
claiming a huge image fails at once, and, for JPEGs and PNGs, that the data is complete:
libjpeg fills a truncated image with grey and only prints a warning, libpng prints its
own error line.
"""

from __future__ import annotations

import stat
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from rtstyle.errors import RtstyleError
from rtstyle.files import write_bytes_atomic
from rtstyle.limits import MAX_IMAGE_PIXELS, MAX_SIDE

# rtstyle applies its own pixel bound (MAX_IMAGE_PIXELS) with a one-line error; Pillow's
# bomb check would otherwise raise or warn first, for header reads that allocate nothing.
Image.MAX_IMAGE_PIXELS = None

# Still-image suffixes rtstyle reads (a style given as one of these is a painting).
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header without decoding it; None when Pillow does not
    know the format (OpenCV may still decode it). A one-line error for a missing file,
    a folder or anything but a regular file."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise RtstyleError(f"input {path} does not exist") from None
    except OSError as e:
        raise RtstyleError(f"cannot read input {path} ({e.strerror or e})") from e
    if stat.S_ISDIR(mode):
        raise RtstyleError(f"input {path} is a folder; give image files")
    if not stat.S_ISREG(mode):
        raise RtstyleError(f"input {path} is not a regular file (a device or FIFO); give an "
                           "image file")
    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None  # not a format Pillow parses (or a broken header): cv2 has its say


SHRINK_HINT = "add --max-size (e.g. --max-size 1920)"
SCALE_DOWN = "scale it down with another program first"


def check_image_size(path: Path, max_size: int | None, what: str = "input",
                     fix: str = SHRINK_HINT) -> tuple[int, int] | None:
    """The header's (width, height), refused when decoding it would be unreasonable or when
    the nets could not take it (more than MAX_SIDE px a side) and no --max-size shrinks it
    (`fix` says what the user can do instead)."""
    size = image_size(path)
    if size is None:
        return None
    w, h = size
    if w * h > MAX_IMAGE_PIXELS:
        raise RtstyleError(f"{what} {path} is {w}x{h} px, more than the {MAX_IMAGE_PIXELS} "
                           f"pixels rtstyle decodes; {SCALE_DOWN}")
    if not max_size and max(w, h) > MAX_SIDE:
        raise RtstyleError(f"{what} {path} is {w}x{h} px, larger than the {MAX_SIDE} px a "
                           f"side rtstyle decodes; {fix}")
    return size


def jpeg_is_truncated(data: bytes) -> bool:
    """True for JPEG data that ends inside its image data, before the end-of-image marker.

    Walks the marker segments (skipping EXIF thumbnails, which have their own markers) to
    the first start-of-scan, then looks for the end marker after it: inside entropy-coded
    data a 0xFF byte is always stuffed, so the marker cannot appear by chance. Data after
    the end marker (e.g. a motion photo's video) is fine.
    """
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False  # not a marker where one must be: let the decoder judge
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0xDA:  # start of scan: the image data
            return data.find(b"\xff\xd9", pos) < 0
        elif marker == 0xD9:
            return False
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return True  # the headers themselves are cut off


def read_image(path: Path, max_size: int | None = None, what: str = "input") -> np.ndarray:
    """A BGR uint8 image, or a one-line error saying why not (`what` names the file's role
    in it). With `max_size`, large JPEGs are decoded directly at a reduced scale (1/2, 1/4,
    1/8) still at least that big."""
    path = Path(path)
    size = check_image_size(path, max_size or MAX_SIDE, what)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise RtstyleError(f"cannot read {what} {path} ({e.strerror or e})") from e
    if not data:
        raise RtstyleError(f"{what} {path} is empty (0 bytes); give a JPEG, PNG, BMP or "
                           "WebP file")
    if data[:2] == b"\xff\xd8" and jpeg_is_truncated(data):
        raise RtstyleError(f"input {path} is a truncated JPEG (the data ends before the "
                           "image does); download or copy it again")
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data:
        raise RtstyleError(f"input {path} is a truncated PNG (it has no end chunk); download "
                           "or copy it again")
    flag = cv2.IMREAD_COLOR
    if max_size and size:
        for factor, reduced in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                                (2, cv2.IMREAD_REDUCED_COLOR_2)):
            if max(size) // factor >= max_size:
                flag = reduced
                break
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    except cv2.error as e:  # e.g. out of memory for a huge image within MAX_IMAGE_PIXELS
        raise RtstyleError(f"cannot decode {what} {path} ({_cv2_reason(e)}); "
                           f"{SCALE_DOWN}") from None
    if img is None:
        raise RtstyleError(f"cannot decode {what} {path} as an image; give a JPEG, PNG, BMP "
                           "or WebP file")
    return img


def _cv2_reason(e: cv2.error) -> str:
    """OpenCV's reason without its source path and line: '(-4:Insufficient memory) ...'."""
    return str(e).strip().splitlines()[-1].split(" error: ", 1)[-1][:160]


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


def check_image_output(path: Path) -> None:
    """Fail before any work if `path`'s extension names no format OpenCV can write."""
    ext = Path(path).suffix.lower() or ".png"
    if not cv2.haveImageWriter(f"x{ext}"):
        raise RtstyleError(f"cannot write images with extension '{ext}'; use .jpg, .png or .webp")


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
