"""Every command example in the README's table runs and succeeds, as a user would run it.

The table is parsed from README.md, so a new or edited example is tested without editing
this file. Inputs are small real files made here; paths are substituted for the README's
placeholders, and a few sizes are shrunk (listed in SHRINK) so each example takes seconds.
Examples that need hardware this machine may lack (a GPU, a camera, a virtual camera
device, a cluster) are skipped with that reason.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ASSETS, ROOT, cli

# The README's Example column: `rtstyle ...` commands in backticks (one row may hold two).
COMMAND = re.compile(r"`((?:rtstyle|bash) [^`]+)`")
NEEDS = {  # a word in the command -> what it needs that a test machine may not have
    "--virtual-camera": "a virtual camera device (v4l2loopback)",
    "--cluster": "a Ray cluster",
    "gpu-check.sh": "an NVIDIA GPU",
}
# Long-running knobs shrunk so the example finishes in seconds; everything else is as written.
SHRINK = {"--steps": "2", "--size": "32", "--sizes": "64x48"}
EXTRA = {"train-swap": ["--steps", "2", "--size", "32"],
         "bench": ["--runs", "1", "--min-runs", "1", "--no-pipelines"]}


def readme_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    table = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return [m for row in rows for m in COMMAND.findall(row.split("|")[2])]


def _camera_present() -> bool:
    return any(Path("/dev").glob("video*"))


def _inputs(tmp: Path) -> dict[str, str]:
    """Small real files standing in for the README's placeholders."""
    rng = np.random.default_rng(0)
    photo = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (96, 72),
                       interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(tmp / "photo.jpg"), photo)
    cv2.imwrite(str(tmp / "painting.jpg"), photo[:, ::-1])
    for d in ("photos", "paintings", "archive"):
        (tmp / d).mkdir()
    for i in range(8):  # train holds 4 out
        cv2.imwrite(str(tmp / "photos" / f"p{i}.jpg"), np.roll(photo, 9 * i, axis=1))
        cv2.imwrite(str(tmp / "paintings" / f"q{i}.jpg"), np.roll(photo, 7 * i, axis=0))
    writer = cv2.VideoWriter(str(tmp / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10,
                             (96, 72))
    for i in range(10):
        writer.write(np.roll(photo, 3 * i, axis=1))
    writer.release()
    ml5 = ASSETS / "styles-ml5" / "scream"
    return {"photo.jpg": str(tmp / "photo.jpg"), "starry_night.jpg": str(tmp / "painting.jpg"),
            "painting.jpg": str(tmp / "painting.jpg"), "clip.mp4": str(tmp / "clip.mp4"),
            "small.jpg": str(tmp / "photo.jpg"),
            "photos/": str(tmp / "photos"), "paintings/": str(tmp / "paintings"),
            "path/to/ml5-model-dir": str(ml5)}


def _argv(example: str, inputs: dict[str, str], tmp: Path) -> list[str]:
    words = shlex.split(example)[1:]  # drop "rtstyle"
    out = []
    for i, w in enumerate(words):
        if i and words[i - 1] in SHRINK:
            w = SHRINK[words[i - 1]]
        elif i and words[i - 1] in ("-o", "--json", "--record") and words[0] != "train":
            w = str(tmp / w)
        elif w in inputs:
            w = inputs[w]
        out.append(w)
    instant = ["--steps", "2"] if "--instant" in words else []  # 2 steps, not 90 s
    return out + EXTRA.get(words[0], []) + instant


@pytest.mark.parametrize("example", readme_examples())
def test_readme_example_runs(example, tmp_path):
    for word, need in NEEDS.items():
        if word in example:
            pytest.skip(f"needs {need}")
    if example.startswith("rtstyle webcam") and "--demo" not in example and not _camera_present():
        pytest.skip("needs a camera (no /dev/video* here)")
    inputs = _inputs(tmp_path)
    if "path/to/ml5-model-dir" in example and not Path(inputs["path/to/ml5-model-dir"]).is_dir():
        pytest.skip(f"needs an ml5 checkpoint folder (styles-ml5/scream under {ASSETS})")
    argv = _argv(example, inputs, tmp_path)
    if argv[0] == "serve" and "--fetch-web-runtime" not in argv:  # that one exits when done
        return _check_serve(argv)
    r = cli(*argv, cwd=tmp_path, timeout=900)
    assert r.returncode == 0, (example, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    if "-o" in argv:
        target = Path(argv[argv.index("-o") + 1])
        produced = [target] if target.suffix else [target.with_suffix(".safetensors"), target]
        if argv[0] not in ("train", "styles"):
            assert any(p.exists() and (p.is_dir() or p.stat().st_size > 0) for p in produced)


def _check_serve(argv: list[str]) -> None:
    """`rtstyle serve` runs until stopped: start it on a free loopback port, fetch the
    page, stop it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "rtstyle", *argv, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    assert r.status == 200 and b"<html" in r.read().lower()
                    return
            except OSError:
                assert proc.poll() is None, proc.communicate()[1][-2000:]
                assert time.monotonic() < deadline, "serve did not answer in 180 s"
                time.sleep(0.5)
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
