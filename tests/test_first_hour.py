"""What a new user trips over in the first hour (issue 29): typo'd flags, a missing model
file, the offline advice, the README's examples. Each runs the CLI as a user would."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import cli


@pytest.fixture()
def photo(tmp_path):
    rng = np.random.default_rng(0)
    img = cv2.resize(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), (80, 60))
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), img)
    return path


def error_line(r) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    return r.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(("argv", "expected"), [
    (["image", "a.jpg", "-o", "b.jpg", "--stlye", "udnie"], "did you mean --style?"),
    (["video", "a.mp4", "-o", "b.mp4", "--precison=int8"], "did you mean --precision?"),
    (["imgae", "a.jpg"], "did you mean 'image'?"),
    (["image", "a.jpg", "-o", "b.jpg", "--precision", "int9"], "did you mean 'int8'?"),
    (["styles", "lst"], "did you mean 'list'?"),
])
def test_mistyped_flag_or_choice_suggests_the_nearest(argv, expected):
    line = error_line(cli(*argv))
    assert expected in line
    # The usage shown is the sub-command's, whose flags the user was typing.
    assert argv[0] in line or "rtstyle:" in line


def test_unknown_flag_with_no_near_match_is_still_an_error():
    line = error_line(cli("image", "a.jpg", "-o", "b.jpg", "--zzzz"))
    assert "unrecognized arguments: --zzzz" in line and "did you mean" not in line


@pytest.mark.parametrize("spec", ["sn-int8.onnx", "./sn-int8.onnx", "models/sn.safetensors",
                                  "missing.pth"])
def test_missing_model_file_is_a_missing_file_not_an_unknown_style(photo, tmp_path, spec):
    r = cli("image", str(photo), "-o", str(tmp_path / "o.png"), "--style", spec, cwd=tmp_path)
    line = error_line(r)
    assert "does not exist" in line and "unknown style" not in line
    assert not (tmp_path / "o.png").exists()


def test_unrunnable_model_file_says_import_it(photo, tmp_path):
    (tmp_path / "net.pth").write_bytes(b"not a model")
    r = cli("image", str(photo), "-o", str(tmp_path / "o.png"), "--style", "net.pth",
            cwd=tmp_path)
    assert "rtstyle styles import net.pth" in error_line(r)


def test_mistyped_style_name_is_still_an_unknown_style(photo, tmp_path):
    line = error_line(cli("image", str(photo), "-o", str(tmp_path / "o.png"),
                          "--style", "udnei"))
    assert "unknown style 'udnei'" in line and "did you mean 'udnie'" in line


def test_pull_offline_advice_is_a_command_that_downloads_a_folder(monkeypatch):
    from rtstyle.errors import RtstyleError
    from rtstyle.styles import catalogue

    # An unreachable port on loopback stands in for "offline".
    monkeypatch.setattr(catalogue, "ML5_URL", "http://127.0.0.1:9/{style}/{file}")
    with pytest.raises(RtstyleError) as e:
        catalogue.pull_style("udnie", timeout=2)
    text = str(e.value)
    assert "raw.githubusercontent" not in text and "\n" not in text
    assert "sparse-checkout set models/style-transfer/udnie" in text
    assert "rtstyle styles import udnie" in text
