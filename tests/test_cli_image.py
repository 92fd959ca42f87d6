"""`rtstyle image` and `rtstyle styles` as a user runs them: outputs, options and bad inputs."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
import torch
from conftest import asset, cli

from rtstyle.nets import build_net
from rtstyle.styles.modelfile import save_model


@pytest.fixture()
def rand_style(rtstyle_home):
    """A small random-weight fst style registered in the test's catalogue."""
    torch.manual_seed(0)
    folder = rtstyle_home / "styles"
    folder.mkdir(parents=True, exist_ok=True)
    save_model(folder / "noise.safetensors", build_net("fst", widths=[8, 16, 32], res_blocks=1),
               {"style": "noise", "source": "test", "licence": "CC0"})
    return "noise"


def assert_one_line_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtstyle: error: "), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_stylises_one_image(rand_style, photo, tmp_path):
    out = tmp_path / "out.jpg"
    r = cli("image", str(photo), "-o", str(out), "--style", rand_style)
    assert r.returncode == 0, r.stderr
    img = cv2.imread(str(out))
    assert img.shape == (60, 80, 3)
    assert not list(tmp_path.glob(".*partial*"))  # no temp files left


def test_several_inputs_go_to_a_folder_and_max_size_applies(rand_style, photo, tmp_path):
    second = tmp_path / "second.png"
    shutil.copy(photo, second)
    r = cli("image", str(photo), str(second), "-o", str(tmp_path / "styled"),
            "--style", rand_style, "--max-size", "40")
    assert r.returncode == 0, r.stderr
    for name in ("photo.png", "second.png"):
        assert cv2.imread(str(tmp_path / "styled" / name)).shape == (30, 40, 3)


def test_strength_zero_returns_the_original(rand_style, photo, tmp_path):
    out = tmp_path / "same.png"
    assert cli("image", str(photo), "-o", str(out), "--style", rand_style,
               "--strength", "0").returncode == 0
    assert np.array_equal(cv2.imread(str(out)), cv2.imread(str(photo)))


def test_preserve_colors_keeps_chroma(rand_style, photo, tmp_path):
    plain, kept = tmp_path / "plain.png", tmp_path / "kept.png"
    assert cli("image", str(photo), "-o", str(plain), "--style", rand_style).returncode == 0
    assert cli("image", str(photo), "-o", str(kept), "--style", rand_style,
               "--preserve-colors").returncode == 0

    def chroma(p):
        return cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2YCrCb)[..., 1:].astype(int)

    def luma(p):
        return cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2YCrCb)[..., 0].astype(int)

    assert np.abs(chroma(kept) - chroma(photo)).mean() < 2.0
    assert np.abs(chroma(plain) - chroma(photo)).mean() > 5.0
    assert np.abs(luma(kept) - luma(plain)).mean() < 2.0


def test_missing_input(rand_style, tmp_path):
    out = tmp_path / "o.jpg"
    assert_one_line_error(cli("image", str(tmp_path / "nope.jpg"), "-o", str(out),
                              "--style", rand_style), "does not exist")
    assert not out.exists()


def test_non_image_input(rand_style, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    out = tmp_path / "o.jpg"
    assert_one_line_error(cli("image", str(bad), "-o", str(out), "--style", rand_style),
                          "cannot decode")
    assert not out.exists()


def test_unknown_style_suggests_the_nearest(rand_style, photo, tmp_path):
    out = tmp_path / "o.jpg"
    assert_one_line_error(cli("image", str(photo), "-o", str(out), "--style", "nosie"),
                          "unknown style 'nosie'", "did you mean 'noise'")
    assert not out.exists()


@pytest.mark.parametrize("target", ["missing-dir/o.jpg", "/proc/rtstyle-test.jpg"])
def test_unwritable_output(rand_style, photo, tmp_path, target):
    out = tmp_path / target if not target.startswith("/") else target
    assert_one_line_error(cli("image", str(photo), "-o", str(out), "--style", rand_style))
    assert not (tmp_path / "missing-dir").exists()


def test_output_equal_to_input_is_refused(rand_style, photo):
    before = photo.read_bytes()
    assert_one_line_error(cli("image", str(photo), "-o", str(photo), "--style", rand_style),
                          "overwrite its input")
    assert photo.read_bytes() == before


def test_truncated_model_file(rtstyle_home, photo, tmp_path):
    src = rtstyle_home / "styles"
    src.mkdir(parents=True, exist_ok=True)
    save_model(src / "cut.safetensors", build_net("fst"), {"style": "cut"})
    data = (src / "cut.safetensors").read_bytes()
    (src / "cut.safetensors").write_bytes(data[: len(data) // 2])
    out = tmp_path / "o.jpg"
    assert_one_line_error(cli("image", str(photo), "-o", str(out), "--style", "cut"),
                          "corrupt or truncated")
    assert not out.exists()


def test_import_truncated_ml5_checkpoint(tmp_path):
    src = asset("styles-ml5/udnie")
    broken = tmp_path / "udnie"
    shutil.copytree(src, broken)
    victim = broken / "Variable_9"
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes()[:100])
    assert_one_line_error(cli("styles", "import", str(broken)), "truncated or corrupt")


def test_import_checkpoint_of_another_architecture(tmp_path):
    state = build_net("johnson").state_dict()
    pth = tmp_path / "mosaic.pth"
    torch.save(state, pth)
    assert_one_line_error(cli("styles", "import", str(pth), "--arch", "fst"),
                          "another architecture")
    bogus = tmp_path / "resnet.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, bogus)
    assert_one_line_error(cli("styles", "import", str(bogus)), "another architecture")


def test_import_refuses_pickled_code(tmp_path):
    """A .pth holding arbitrary objects is not unpickled (weights_only=True)."""
    evil = tmp_path / "evil.pth"
    torch.save({"conv1.conv2d.weight": torch.zeros(1), "x": object()}, evil)
    assert_one_line_error(cli("styles", "import", str(evil)), "weights-only")


def test_import_pth_onnx_and_list(tmp_path, photo):
    pth = tmp_path / "mosaic.pth"
    torch.save(build_net("johnson").state_dict(), pth)
    assert cli("styles", "import", str(pth)).returncode == 0
    from rtstyle.export.onnx import export_onnx

    export_onnx(build_net("fst", widths=[8, 16, 32], res_blocks=1), tmp_path / "tiny.onnx",
                {"style": "tiny"})
    r = cli("styles", "import", str(tmp_path / "tiny.onnx"), "--name", "tinyonnx")
    assert r.returncode == 0, r.stderr
    listing = cli("styles", "list").stdout
    assert "mosaic" in listing and "johnson" in listing
    assert "tinyonnx" in listing and "onnx" in listing
    out = tmp_path / "o.png"
    r = cli("image", str(photo), "-o", str(out), "--style", "tinyonnx")
    assert r.returncode == 0, r.stderr
    assert cv2.imread(str(out)).shape == (60, 80, 3)
    r = cli("image", str(photo), "-o", str(out), "--style", "tinyonnx", "--backend", "torch")
    assert_one_line_error(r, "ONNX file", "onnxruntime")


def test_import_corrupt_onnx(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    assert_one_line_error(cli("styles", "import", str(bad)), "not a valid ONNX")


def test_pull_offline_says_how_to_import():
    # A dead proxy makes the download fail the same way on any machine, online or not.
    r = cli("styles", "pull", "wave", env={"https_proxy": "http://127.0.0.1:9",
                                           "HTTPS_PROXY": "http://127.0.0.1:9"})
    assert_one_line_error(r, "cannot download 'wave'", "rtstyle styles import")
    assert "licence" in r.stdout  # the licence is shown before downloading


def test_pull_unknown_name_lists_published():
    assert_one_line_error(cli("styles", "pull", "mona_lisa"), "udnie")


def test_outputs_get_the_usual_file_mode(rand_style, photo, tmp_path):
    """Atomic writes go through mkstemp (0600); the result must be as readable as any file."""
    import os

    out = tmp_path / "mode.png"
    assert cli("image", str(photo), "-o", str(out), "--style", rand_style).returncode == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_fresh_catalogue_lists_only_styles():
    """Built-in styles are listed; other package data (the swap decoder, the VGG slice)
    is not a style."""
    from rtstyle.styles.catalogue import BUILTIN_DIR, list_styles

    names = {s.name for s in list_styles()}
    assert "udnie" in names
    assert "swap_decoder" not in names and "vgg19_relu3_1" not in names
    assert all("error" not in s.meta for s in list_styles())
    not_styles = [p for p in ("swap_decoder.safetensors", "vgg19_relu3_1.safetensors",
                                  "upscale-x4.safetensors")
                  if (BUILTIN_DIR / p).exists()]
    assert len(names) == len(list(BUILTIN_DIR.glob("*.safetensors"))) - len(not_styles)
