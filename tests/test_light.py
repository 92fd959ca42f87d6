"""The light install (`pip install rtstyle`, no torch) runs styles; the maker needs torch.

CI has torch, so "no torch" is a subprocess whose import system refuses torch, torchvision
and onnxscript (a meta-path blocker). Outputs of the light commands are compared with the
same commands run with torch importable (the full install's code paths), and the runtime's
hand-built graphs with the torch nets they stand for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import asset, cli

from rtstyle.metrics import psnr

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("torch", "torchvision", "onnxscript")
BLOCKER = f"""
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{top!r}}", name=top)
sys.meta_path.insert(0, NoTorch())
"""
# The maker side: torch modules, imported only to train, export from torch or run torch.
MAKER = ("rtstyle.nets.transform", "rtstyle.nets.lite", "rtstyle.nets.upscale",
         "rtstyle.nets.vgg", "rtstyle.optimize",
         "rtstyle.nets.frames", "rtstyle.train", "rtstyle.swap.train", "rtstyle.swap.model",
         "rtstyle.swap.decoder", "rtstyle.swap.op", "rtstyle.engines.torch_engine",
         "rtstyle.engines.torch_cuda_engine")


def light(*args: str, env: dict | None = None, cwd: Path | None = None
          ) -> subprocess.CompletedProcess:
    """`rtstyle ARGS` with torch unimportable, as on the light install."""
    code = BLOCKER + "from rtstyle.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=600)


def test_every_runtime_module_imports_without_torch():
    code = BLOCKER + f"""
import importlib, pkgutil, rtstyle
maker = {MAKER!r}
names = [m.name for m in pkgutil.walk_packages(rtstyle.__path__, "rtstyle.")
         if m.name != "rtstyle.__main__" and not m.name.startswith(maker)]
failed = []
for name in names:
    try:
        importlib.import_module(name)
    except ImportError as e:
        failed.append(f"{{name}}: {{e}}")
assert not failed, "\\n".join(failed)
assert not any(b in sys.modules for b in {BLOCKED!r})
print(len(names))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) > 80  # the runtime really was walked, not an empty list


def _photo(tmp_path: Path) -> Path:
    img = cv2.imread(str(asset("photos/" + sorted(os.listdir(asset("photos")))[0])))
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), cv2.resize(img, (150, 101), interpolation=cv2.INTER_AREA))
    return path


@pytest.mark.parametrize("style", [["--style", "udnie-lite"], ["--style", "udnie"],
                                   ["--style-image", "paintings/udnie.jpg"]])
def test_image_on_the_light_install_matches_the_full_one(tmp_path, style):
    if style[0] == "--style-image":
        style = [style[0], str(asset(style[1])), "--style-size", "96"]
    photo = _photo(tmp_path)
    outs = {}
    for kind, run in (("light", light), ("full", cli)):
        outs[kind] = tmp_path / f"{kind}.png"
        r = run("image", str(photo), "-o", str(outs[kind]), *style, "--threads", "1")
        assert r.returncode == 0, r.stderr
    light_img, full_img = (cv2.imread(str(outs[k])) for k in ("light", "full"))
    assert light_img.shape == (101, 150, 3)
    assert psnr(light_img, full_img) >= 40
    assert psnr(light_img, cv2.imread(str(photo))) < 30  # it was stylised


def test_styles_list_and_bench_on_the_light_install(tmp_path):
    r = light("styles", "list")
    assert r.returncode == 0, r.stderr
    assert "udnie-lite" in r.stdout and "starry_night" in r.stdout
    report = tmp_path / "bench.json"
    r = light("bench", "--models", "lite", "--sizes", "48x32", "--runs", "2", "--min-runs", "1",
              "--warmup", "1", "--threads", "1", "--no-pipelines", "--json", str(report))
    assert r.returncode == 0, r.stderr
    data = json.loads(report.read_text())
    assert data["settings"]["reference"] == "onnxruntime"
    ok = [e for e in data["engines"] if e["status"] == "ok"]
    assert {e["engine"] for e in ok} >= {"onnxruntime"} and all(e["ms_median"] > 0 for e in ok)


@pytest.mark.parametrize("args, extra", [
    (["train", "--style-image", "x.jpg", "--data", ".", "-o", "mine"], "rtstyle[train]"),
    (["train-swap", "--photos", ".", "--paintings", ".", "-o", "d.safetensors"],
     "rtstyle[train]"),
    (["image", "in.png", "-o", "out.png", "--style", "udnie", "--backend", "torch"],
     "rtstyle[train]"),
    (["optimize", "in.png", "-o", "out.png", "--style-image", "in.png"], "rtstyle[train]"),
    (["styles", "import", "net.pth", "--name", "mine"], "rtstyle[train]"),
])
def test_maker_commands_name_the_extra_in_one_line(tmp_path, args, extra):
    cv2.imwrite(str(tmp_path / "in.png"), np.full((32, 32, 3), 128, np.uint8))
    (tmp_path / "net.pth").write_bytes(b"not read: torch is needed before the file is")
    r = light(*args, env={"RTSTYLE_HOME": str(tmp_path)}, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and extra in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert 'pip install "rtstyle[train]"' in lines[0]


def test_video_on_the_light_install_matches_the_full_one(tmp_path):
    from video_media import decode, make_clip

    clip = make_clip(tmp_path / "clip.mp4", seconds=0.4, size="96x64", audio=None)
    outs = {}
    for kind, run in (("light", light), ("full", cli)):
        outs[kind] = tmp_path / f"{kind}.mp4"
        r = run("video", str(clip), "-o", str(outs[kind]), "--style", "udnie-lite",
                "--threads", "1")
        assert r.returncode == 0, r.stderr
    got, want, source = (decode(outs["light"]), decode(outs["full"]), decode(clip))
    assert len(got) == len(want) == len(source) == 10
    assert min(psnr(a, b) for a, b in zip(got, want, strict=True)) >= 40
    assert psnr(got[0], source[0]) < 30  # it was stylised


def test_upscale_and_export_on_the_light_install(tmp_path):
    """The sr net's graph and a style's export are built from their weights, no torch."""
    photo = _photo(tmp_path)
    outs = {}
    for kind, run in (("light", light), ("full", cli)):
        outs[kind] = tmp_path / f"{kind}.png"
        r = run("upscale", str(photo), "-o", str(outs[kind]), "--threads", "1")
        assert r.returncode == 0, r.stderr
    light_img, full_img = (cv2.imread(str(outs[k])) for k in ("light", "full"))
    assert light_img.shape == (404, 600, 3) and psnr(light_img, full_img) >= 40
    onnx_file = tmp_path / "udnie-lite.onnx"
    r = light("export", "--style", "udnie-lite", "-o", str(onnx_file))
    assert r.returncode == 0, r.stderr
    r = light("image", str(photo), "-o", str(tmp_path / "exported.png"), "--style",
              str(onnx_file), "--backend", "onnxruntime")
    assert r.returncode == 0, r.stderr
    r = cli("image", str(photo), "-o", str(tmp_path / "builtin.png"), "--style", "udnie-lite",
            "--backend", "onnxruntime")
    assert r.returncode == 0, r.stderr
    assert psnr(*(cv2.imread(str(tmp_path / f)) for f in ("exported.png", "builtin.png"))) >= 40


def test_ml5_import_without_torch_matches_the_torch_net(tmp_path):
    """The ml5 importer reads with numpy; its style runs (light) as the torch net would."""
    home = {"RTSTYLE_HOME": str(tmp_path / "home")}
    r = light("styles", "import", str(asset("styles-ml5/udnie")), "--name", "ml5-udnie", env=home)
    assert r.returncode == 0, r.stderr
    photo, out = _photo(tmp_path), tmp_path / "light.png"
    r = light("image", str(photo), "-o", str(out), "--style", "ml5-udnie", env=home)
    assert r.returncode == 0, r.stderr
    ref = tmp_path / "torch.png"
    r = cli("image", str(photo), "-o", str(ref), "--style", "ml5-udnie", "--backend", "torch",
            env=home)
    assert r.returncode == 0, r.stderr
    assert psnr(cv2.imread(str(out)), cv2.imread(str(ref))) >= 40
