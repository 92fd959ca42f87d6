"""The selfie segmentation model: MediaPipe's `selfie_segmentation.tflite` (Apache-2.0),
taken from the mediapipe 0.10.14 wheel on PyPI, never committed to this repo.

Why not `pip install mediapipe`: the wheels that still bundle this model (0.10.x up to
0.10.21) pin protobuf<5 (and 0.10.21 numpy<2) and pull jax and a second OpenCV build
(opencv-contrib-python), which break rtstyle's dependency set; the 0.10.30+ and 1.x wheels
ship no selfie model. So `pip download --no-deps` fetches the pinned wheel once (pip
checks the wheel against PyPI's hash), only the model file is unpacked, and its sha256 is
checked against the one pinned here. It lands in $RTSTYLE_HOME/models;
RTSTYLE_REGION_MODEL points at a copy fetched by hand instead.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from rtstyle.errors import RtstyleError
from rtstyle.files import ensure_dir, write_bytes_atomic
from rtstyle.styles.catalogue import home

PACKAGE, VERSION = "mediapipe", "0.10.14"
MEMBER = "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"
SHA256 = "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"
# Any one wheel will do (the model file is the same in all); naming one makes the
# download the same on every Python and platform.
WHEEL_TAGS = ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
              "--platform", "manylinux_2_17_x86_64"]
ENV = "RTSTYLE_REGION_MODEL"


def cached_path() -> Path:
    return home() / "models" / "selfie_segmentation.tflite"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def locate() -> Path | None:
    """The model file if it is here: $RTSTYLE_REGION_MODEL, else the cached copy."""
    given = os.environ.get(ENV)
    if given:
        if not Path(given).is_file():
            raise RtstyleError(f"{ENV}={given} is not a file; point it at "
                               "selfie_segmentation.tflite, or unset it to fetch the model")
        return Path(given)
    path = cached_path()
    return path if path.is_file() else None


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fetch(log: Callable[[str], None] = _to_stderr) -> Path:
    """The model file, fetched from PyPI (about 36 MB, once) when it is not here yet."""
    found = locate()
    if found is not None:
        return found
    log(f"rtstyle: fetching the person mask model from PyPI ({PACKAGE} {VERSION} wheel, "
        "about 36 MB, once)")
    with tempfile.TemporaryDirectory(prefix="rtstyle-region-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               *WHEEL_TAGS, "-q", "-d", tmp, f"{PACKAGE}=={VERSION}"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        wheels = list(Path(tmp).glob("*.whl"))
        if r.returncode != 0 or not wheels:
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise RtstyleError(f"could not download {PACKAGE}=={VERSION} for the person mask "
                               f"({last}); check the network, or set {ENV} to a "
                               "selfie_segmentation.tflite taken from that wheel")
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read(MEMBER)
    if _sha256(data) != SHA256:
        raise RtstyleError(f"{MEMBER} in {PACKAGE} {VERSION} does not match its pinned "
                           "sha256; refusing to use it")
    ensure_dir(cached_path().parent, "model folder")
    write_bytes_atomic(cached_path(), data)
    return cached_path()


if __name__ == "__main__":  # `python -m rtstyle.region.model`: fetch ahead (CI, offline use)
    print(fetch())
