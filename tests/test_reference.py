"""The imported ml5 udnie reproduces its author's published output (>= 30 dB) on every backend."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import asset, cli

from rtstyle.metrics import psnr


def best_offset_psnr(out: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    """The reference is a few rows shorter; align it at the best vertical offset."""
    rows = ref.shape[0]
    return max((psnr(out[o:o + rows], ref), o) for o in range(out.shape[0] - rows + 1))


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_stata_matches_published_reference(udnie_home, tmp_path, backend):
    photo = asset("reference/stata.jpg")
    ref = cv2.imread(str(asset("reference/stata_udnie_reference.jpg")))
    out_path = tmp_path / "stata_udnie.png"
    r = cli("image", str(photo), "-o", str(out_path), "--style", "udnie", "--backend", backend,
            env={"RTSTYLE_HOME": str(udnie_home)})
    assert r.returncode == 0, r.stderr
    out = cv2.imread(str(out_path))
    assert out.shape == (679, 1024, 3)  # native size, no resizing
    db, offset = best_offset_psnr(out, ref)
    assert db >= 30.0, f"{db:.2f} dB at offset {offset}"


def test_a_different_style_does_not_match(tmp_path):
    """The PSNR check discriminates: another ml5 style scores far lower."""
    home = tmp_path / "home"
    assert cli("styles", "import", str(asset("styles-ml5/wave")),
               env={"RTSTYLE_HOME": str(home)}).returncode == 0
    out_path = tmp_path / "wave.png"
    r = cli("image", str(asset("reference/stata.jpg")), "-o", str(out_path), "--style", "wave",
            env={"RTSTYLE_HOME": str(home)})
    assert r.returncode == 0, r.stderr
    ref = cv2.imread(str(asset("reference/stata_udnie_reference.jpg")))
    assert best_offset_psnr(cv2.imread(str(out_path)), ref)[0] < 20.0
