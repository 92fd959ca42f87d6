"""`rtstyle train-swap` end to end on a tiny set: output with record, checkpoint, resume."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import torch
from conftest import asset, cli

from rtstyle.swap.decoder import load_decoder


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
