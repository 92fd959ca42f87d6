"""`rtstyle train`: a tiny real training run, checkpoints and resume, Ctrl-C, bad input, and the
built-in styles it produced."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import cli
from safetensors import safe_open
from safetensors.torch import save_file
from torchvision.models import vgg19

from rtstyle.styles.catalogue import BUILTIN_DIR, list_styles
from rtstyle.styles.modelfile import load_net, read_meta
from rtstyle.train.trainer import CHECKPOINT, TrainConfig, train

BUILTINS = ["udnie", "udnie-lite", "starry_night", "starry_night-lite", "great_wave",
            "great_wave-lite"]


@pytest.fixture(scope="module")
def material(tmp_path_factory) -> dict[str, Path]:
    """Six synthetic photos, a striped 'painting' and a random VGG19 up to relu3_1."""
    root = tmp_path_factory.mktemp("train-material")
    rng = np.random.default_rng(0)
    photos = root / "photos"
    photos.mkdir()
    for i in range(6):
        img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (80, 60),
                         interpolation=cv2.INTER_CUBIC)
        cv2.circle(img, (20 + 5 * i, 30), 12, (255, 255, 255), -1)
        cv2.imwrite(str(photos / f"p{i}.png"), img)
    painting = np.zeros((64, 64, 3), np.uint8)
    painting[:, ::8] = (40, 200, 250)
    painting[::8] = (200, 40, 30)
    cv2.imwrite(str(root / "painting.png"), painting)
    torch.manual_seed(0)
    save_file({k: v.contiguous() for k, v in vgg19().features[:12].state_dict().items()},
              str(root / "vgg.safetensors"))
    return {"photos": photos, "painting": root / "painting.png",
            "vgg": root / "vgg.safetensors"}


def _config(material, workdir: Path, steps: int, **kw) -> TrainConfig:
    return TrainConfig(style_image=material["painting"], data=material["photos"], name="stripes",
                       workdir=workdir, arch="lite", size=32, batch=2, steps=steps, lr=5e-3,
                       vgg_weights=str(material["vgg"]), holdout=1, sample_every=10,
                       checkpoint_every=5, **kw)


def test_loss_goes_down_and_a_resumed_run_equals_an_uninterrupted_one(material, tmp_path):
    torch.set_num_threads(1)
    straight = train(_config(material, tmp_path / "a", 30), progress=False)
    curve = [row[1] for row in json.loads((tmp_path / "a" / "record.json").read_text())
             ["loss_curve"]]
    assert np.mean(curve[-5:]) < 0.8 * np.mean(curve[:5])
    assert (tmp_path / "a" / "samples" / "step_000030.jpg").is_file()

    first = train(_config(material, tmp_path / "b", 12), progress=False)
    assert first.steps == 12
    resumed = train(_config(material, tmp_path / "b", 30, resume=True), progress=False)
    assert resumed.steps == 30
    a, meta = load_net(straight.model)
    b, _ = load_net(resumed.model)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-5), name

    made_by = meta["made_by"]
    assert meta["source"] == "trained by rtstyle" and meta["arch"] == "lite"
    assert made_by["steps"] == 30 and made_by["size"] == 32 and made_by["batch"] == 2
    assert set(made_by["final_losses"]) == {"total", "content", "style", "tv", "temporal"}
    assert made_by["layers"] == {"content": ["relu3_1"],
                                 "style": ["relu1_1", "relu1_2", "relu2_1", "relu2_2",
                                           "relu3_1"]}
    assert {s.name: s.origin for s in list_styles()}["stripes"] == "user"
    # the checkpoint is safetensors with JSON state: no pickle anywhere
    with safe_open(str(tmp_path / "b" / CHECKPOINT), framework="pt") as f:
        state = json.loads(f.metadata()["state"])
        assert state["step"] == 30 and any(k.startswith("opt/") for k in f.keys())


def test_fst_nets_get_an_edge_border_and_init_keeps_the_history(material, tmp_path):
    torch.set_num_threads(1)
    base = _config(material, tmp_path / "a", 2)
    first = train(TrainConfig(**{**base.__dict__, "arch": "fst"}), progress=False)
    net, meta = load_net(first.model)
    assert net.config.border == 16  # trained here: no zero-padding strip at the edges
    second = train(TrainConfig(**{**base.__dict__, "arch": "fst", "workdir": tmp_path / "b",
                                  "init": first.model, "steps": 1}), progress=False)
    made_by = read_meta(second.model)["made_by"]
    assert made_by["init"] == first.model.name and made_by["steps"] == 1
    assert [run["steps"] for run in made_by["init_history"]] == [2]
    assert "loss_curve" not in made_by["init_history"][0]


def test_stability_term_reads_as_gain_and_a_temporal_run_records_it(material, tmp_path):
    from rtstyle.train.losses import stability_loss

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 48, 48, generator=gen) * 255
    identity = torch.nn.Identity()
    assert stability_loss(identity, x, x, gen) == pytest.approx(1.0, rel=0.1)

    class Doubling(torch.nn.Module):  # gain 2 on any change: 4 in energy
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return 2 * t

    assert stability_loss(Doubling(), x, 2 * x, gen) == pytest.approx(4.0, rel=0.1)

    torch.set_num_threads(1)
    result = train(_config(material, tmp_path / "t", 4, temporal_weight=0.5), progress=False)
    made_by = read_meta(result.model)["made_by"]
    assert made_by["weights"]["temporal"] == 0.5
    assert made_by["final_losses"]["temporal"] > 0  # computed and recorded when weighted


def _train_args(material, workdir: Path, steps: int) -> list[str]:
    return ["train", "--style-image", str(material["painting"]), "--data",
            str(material["photos"]), "-o", "stripes", "--arch", "lite", "--size", "32",
            "--batch", "2", "--steps", str(steps), "--vgg-weights", str(material["vgg"]),
            "--workdir", str(workdir), "--checkpoint-every", "2", "--holdout", "1",
            "--threads", "1"]


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(material, tmp_path, rtstyle_home):
    work = tmp_path / "work"
    proc = subprocess.Popen([sys.executable, "-m", "rtstyle",
                             *_train_args(material, work, 100000)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (work / CHECKPOINT).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in out and "Traceback" not in err
    with safe_open(str(work / CHECKPOINT), framework="pt") as f:
        step = json.loads(f.metadata()["state"])["step"]
    assert step >= 2

    again = cli(*_train_args(material, work, step + 2))
    assert again.returncode == 2 and "--resume" in again.stderr  # won't overwrite silently
    done = cli(*_train_args(material, work, step + 2), "--resume")
    assert done.returncode == 0, done.stderr
    assert f"for {step + 2} steps" in done.stdout
    listed = cli("styles", "list")
    assert "stripes" in listed.stdout and "trained by rtstyle" in listed.stdout


@pytest.mark.parametrize("change, message", [
    ({"--data": "/nonexistent/photos"}, "not a folder"),
    ({"--style-layers": "relu4_1"}, "beyond"),
    ({"--content-layers": "pool1"}, "unknown"),
    ({"--style-image": "/nonexistent.jpg"}, "does not exist"),
])
def test_bad_input_is_one_line_error(material, tmp_path, change, message):
    args = _train_args(material, tmp_path / "w", 2)
    for flag, value in change.items():
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    r = cli(*args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_resume_without_a_checkpoint_says_so(material, tmp_path):
    r = cli(*_train_args(material, tmp_path / "w", 2), "--resume")
    assert r.returncode == 2 and "nothing to resume" in r.stderr


# --- the built-in styles this trainer produced -------------------------------------------


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_style_is_ours_and_records_its_training(name):
    path = BUILTIN_DIR / f"{name}.safetensors"
    meta = read_meta(path)
    assert meta["source"] == "trained by rtstyle" and "public domain" in meta["licence"]
    assert meta["arch"] == ("lite" if name.endswith("-lite") else "fst")
    made_by = meta["made_by"]
    # a fine-tune may be short; the runs behind it (its --init's record) count too
    steps = made_by["steps"] + sum(r.get("steps", 0) for r in made_by.get("init_history", []))
    assert made_by["command"].startswith("rtstyle train") and steps >= 100
    assert made_by["time_s"] > 0 and made_by["held_out_losses"]["style"] > 0
    with safe_open(str(path), framework="pt") as f:  # fp16 package data
        assert all(f.get_slice(k).get_dtype() == "F16" for k in f.keys())


def test_fresh_home_lists_builtins_and_stylises_with_udnie_offline(tmp_path):
    listed = cli("styles", "list")
    assert listed.returncode == 0
    for name in BUILTINS:
        line = next(x for x in listed.stdout.splitlines() if x.split()[:1] == [name])
        assert "built-in" in line and "trained by rtstyle" in line
    photo = np.zeros((90, 120, 3), np.uint8)
    photo[:, :60] = (30, 140, 220)
    cv2.circle(photo, (80, 45), 25, (250, 250, 250), -1)
    cv2.imwrite(str(tmp_path / "photo.png"), photo)
    for extra in ([], ["--style", "udnie"], ["--style", "udnie-lite"]):
        out = tmp_path / f"out{len(extra)}{'-'.join(extra)}.png"
        r = cli("image", str(tmp_path / "photo.png"), "-o", str(out), *extra,
                env={"no_proxy": "*", "https_proxy": "http://127.0.0.1:9", "http_proxy":
                     "http://127.0.0.1:9"})
        assert r.returncode == 0, r.stderr
        styled = cv2.imread(str(out))
        assert styled.shape == photo.shape
        assert np.abs(styled.astype(int) - photo.astype(int)).mean() > 10  # really restyled
