"""`rtstyle train-swap` end to end on a tiny set: output with record, checkpoint, resume."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import torch
from conftest import asset, cli

from rtstyle.swap.decoder import load_decoder, save_decoder


def _folders(tmp_path):
    photos, paintings = tmp_path / "photos", tmp_path / "paintings"
    photos.mkdir()
    paintings.mkdir()
    for name in ("bike.jpg", "golden_gate.jpg"):
        img = cv2.imread(str(asset(f"photos/{name}")))
        cv2.imwrite(str(photos / name), cv2.resize(img, (64, 48), interpolation=cv2.INTER_AREA))
    shutil.copy(asset("paintings/udnie.jpg"), paintings / "udnie.jpg")
    return photos, paintings


def test_train_checkpoint_and_resume(tmp_path):
    photos, paintings = _folders(tmp_path)
    out = tmp_path / "decoder.safetensors"
    common = ["train-swap", "--photos", str(photos), "--paintings", str(paintings),
              "-o", str(out), "--size", "32", "--checkpoint-every", "1", "--threads", "1",
              "--vgg-weights", str(asset("weights/vgg19_features_relu3_4.safetensors"))]
    r = cli(*common, "--steps", "2")
    assert r.returncode == 0, r.stderr
    net, meta = load_decoder(out)
    assert meta["steps"] == 2 and len(meta["loss_curve"]) == 2
    assert meta["photos"] == 2 and meta["paintings"] == 1 and meta["vgg_fingerprint"]
    assert (tmp_path / "decoder.ckpt").exists()
    r = cli(*common, "--steps", "3", "--resume")
    assert r.returncode == 0, r.stderr
    assert "resuming from" in r.stdout and "at step 2" in r.stdout
    _, meta = load_decoder(out)
    assert meta["steps"] == 3 and len(meta["loss_curve"]) == 3
    assert not list(tmp_path.glob(".*partial*"))  # no temp files left behind
    feats = np.random.default_rng(0).random((1, 256, 4, 5), dtype=np.float32)
    assert net(torch.from_numpy(feats)).shape == (1, 3, 16, 20)


def test_init_starts_from_another_decoder(tmp_path):
    """--init continues a decoder's training: with lr 0 its weights come out unchanged."""
    photos, paintings = _folders(tmp_path)
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    common = ["train-swap", "--photos", str(photos), "--paintings", str(paintings),
              "--size", "32", "--threads", "1",
              "--vgg-weights", str(asset("weights/vgg19_features_relu3_4.safetensors"))]
    assert cli(*common, "-o", str(first), "--steps", "2").returncode == 0
    r = cli(*common, "-o", str(second), "--steps", "1", "--lr", "0", "--init", str(first))
    assert r.returncode == 0, r.stderr
    (a, _), (b, meta) = load_decoder(first), load_decoder(second)
    assert [run["steps"] for run in meta["init_history"]] == [2]
    assert meta["config"]["init"] == str(first)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                 b.state_dict().values(), strict=True))
    other = tmp_path / "other-vgg.safetensors"  # a decoder made for other VGG weights
    save_decoder(other, a, {"vgg_fingerprint": "0123456789abcdef",
                            "config": {"vgg_weights": "mine.safetensors"}})
    r = cli(*common, "-o", str(tmp_path / "third.safetensors"), "--steps", "1", "--init",
            str(other))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "mine.safetensors" in r.stderr and "--vgg-weights" in r.stderr


def test_train_bad_folders(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("train-swap", "--photos", str(tmp_path / "none"), "--paintings", str(empty),
            "-o", str(tmp_path / "d.safetensors"))
    assert r.returncode == 2 and "photos folder" in r.stderr and "does not exist" in r.stderr
    r = cli("train-swap", "--photos", str(empty), "--paintings", str(empty),
            "-o", str(tmp_path / "d.safetensors"))
    assert r.returncode == 2 and "holds no images" in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_an_earlier_checkpoint_is_not_overwritten(tmp_path):
    """As `rtstyle train`: a second run into the same output needs --resume (the shared loop)."""
    photos, paintings = _folders(tmp_path)
    common = ["train-swap", "--photos", str(photos), "--paintings", str(paintings),
              "-o", str(tmp_path / "d.safetensors"), "--size", "32", "--steps", "1",
              "--threads", "1",
              "--vgg-weights", str(asset("weights/vgg19_features_relu3_4.safetensors"))]
    assert cli(*common).returncode == 0
    before = (tmp_path / "d.ckpt").read_bytes()
    r = cli(*common)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--resume" in r.stderr
    assert (tmp_path / "d.ckpt").read_bytes() == before
