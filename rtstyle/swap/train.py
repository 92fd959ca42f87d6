"""Train the style-swap inverse net once, for all styles (Chen & Schmidt 2016, section 4).

Objective: E_H ||Phi(f(H)) - H||^2 / E||H||^2 + tv_weight * TV(f(H)), with H drawn from
Phi(C) (photos), Phi(S) (paintings) and Phi_ss(C, S) (photos style-swapped with paintings),
Phi = VGG19 up to relu3_1. The feature term is relative (divided by the mean of H^2), so it
reads as a fraction and does not depend on the VGG weights' scale. Each step uses two photo
crops and one painting crop, giving H = [Phi(C1), Phi(S), Phi_ss(C1, S), Phi_ss(C2, S)].
Checkpoints hold the decoder, the optimiser and the step, so an interrupted run resumes
where it stopped.

Added to the paper's objective: `pixel_weight` x the pixel MSE (0..1 scale) of f(Phi(C1))
and f(Phi(S)) against their images. relu3_1 barely constrains global colour, and with the
few thousand steps we can afford on a CPU (the paper trained ~100x longer) the decoder
otherwise gives every style the same colour cast.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from rtstyle.errors import RtstyleError
from rtstyle.files import atomic_output
from rtstyle.images import read_image
from rtstyle.swap.decoder import Decoder, encoder_fingerprint, load_decoder, save_decoder
from rtstyle.swap.op import style_patches, swap
from rtstyle.train import prior_runs
from rtstyle.train.data import image_files, to_rgb255
from rtstyle.train.losses import tv_loss

SCALES = (1.0, 1.5, 2.0)  # shorter side as a multiple of the crop size


@dataclass
class TrainConfig:
    photos: Path
    paintings: Path
    output: Path
    steps: int = 1000
    size: int = 96
    lr: float = 1e-3
    tv_weight: float = 0.5
    pixel_weight: float = 3.0
    vgg_weights: str = "builtin"
    checkpoint: Path | None = None
    checkpoint_every: int = 50
    resume: bool = False
    init: Path | None = None  # start from this decoder's weights (train an existing one on)
    time_limit_min: float | None = None
    seed: int = 0
    widths: tuple[int, int, int] = (128, 64, 32)
    command: list[str] = field(default_factory=lambda: list(sys.argv))


def _pyramid(files: list[Path], size: int) -> list[list[torch.Tensor]]:
    """Each image as float RGB (3, H, W) tensors at SCALES x `size` on the shorter side."""
    out = []
    for path in files:
        bgr = read_image(path)
        h, w = bgr.shape[:2]
        levels = []
        for s in SCALES:
            k = s * size / min(h, w)
            if k > 1.0 and s > 1.0:
                continue  # don't upscale beyond the smallest level
            im = cv2.resize(bgr, (max(size, round(w * k)), max(size, round(h * k))),
                            interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
            levels.append(to_rgb255(im))
        out.append(levels)
    return out


def _crop(pyramid: list[list[torch.Tensor]], size: int, g: torch.Generator) -> torch.Tensor:
    def pick(n: int) -> int:
        return int(torch.randint(n, (1,), generator=g))

    levels = pyramid[pick(len(pyramid))]
    im = levels[pick(len(levels))]
    y, x = pick(im.shape[1] - size + 1), pick(im.shape[2] - size + 1)
    crop = im[:, y:y + size, x:x + size]
    return crop.flip(2) if pick(2) else crop


_CKPT_KEYS = {"net", "opt", "rng", "feature_scale", "step", "losses", "elapsed"}


def _load_checkpoint(ckpt: Path) -> dict:
    """What --resume continues from, or one line: a missing, corrupt or foreign file is
    refused (weights_only: a file that carries code is refused too, never run)."""
    if not ckpt.is_file():
        raise RtstyleError(f"nothing to resume: {ckpt} does not exist; run without --resume "
                           "or give --checkpoint")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickles before refusing
            warnings.simplefilter("ignore")
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError (not a zip), EOFError, ...
        raise RtstyleError(f"checkpoint {ckpt} is unreadable ({type(e).__name__}); delete it "
                           "to start over") from None
    if not isinstance(state, dict) or not _CKPT_KEYS <= state.keys():
        raise RtstyleError(f"checkpoint {ckpt} is not a train-swap checkpoint; delete it to "
                           "start over")
    return state


def train(cfg: TrainConfig) -> dict:
    """Run training; writes cfg.output (decoder + record) and returns the record."""
    from rtstyle.nets.vgg import VGGFeatures
    from rtstyle.progress import progress_bar

    photos = image_files(cfg.photos, "photos folder")
    paintings = image_files(cfg.paintings, "paintings folder")
    if cfg.size < 32:
        raise RtstyleError(f"--size {cfg.size} is too small; use at least 32")
    ckpt = cfg.checkpoint or cfg.output.with_suffix(".ckpt")
    state = _load_checkpoint(ckpt) if cfg.resume else None
    encoder = VGGFeatures(["relu3_1"], cfg.vgg_weights)
    photo_px = _pyramid(photos, cfg.size)
    painting_px = _pyramid(paintings, cfg.size)
    g = torch.Generator().manual_seed(cfg.seed)
    init = None
    if state:
        scale = state["feature_scale"]
    elif cfg.init is not None:
        init, init_meta = load_decoder(cfg.init)
        if init_meta.get("vgg_fingerprint") not in (None, encoder_fingerprint(encoder)):
            raise RtstyleError(f"--init {cfg.init} was trained with other VGG weights "
                               f"({init_meta.get('config', {}).get('vgg_weights')}); "
                               "pass those with --vgg-weights")
        scale = init.feature_scale
    else:
        with torch.no_grad():
            crops = torch.stack([_crop(photo_px, cfg.size, g) for _ in range(8)])
            scale = float(encoder(crops)["relu3_1"].square().mean().sqrt())
    torch.manual_seed(cfg.seed)
    net = Decoder(cfg.widths, scale)
    if init is not None:
        if init.widths != net.widths:
            raise RtstyleError(f"--init {cfg.init} has widths {list(init.widths)}, not "
                               f"{list(net.widths)}")
        net.load_state_dict(init.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    start, losses, elapsed = 0, [], 0.0
    if state:
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        g.set_state(state["rng"])
        start, losses, elapsed = state["step"], state["losses"], state["elapsed"]
        print(f"resuming from {ckpt} at step {start}")

    def encode(rgb: torch.Tensor) -> torch.Tensor:
        return encoder(rgb)["relu3_1"]

    def save_checkpoint(step: int) -> None:
        with atomic_output(ckpt) as tmp:
            torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "rng": g.get_state(),
                        "feature_scale": scale, "step": step, "losses": losses,
                        "elapsed": elapsed + time.monotonic() - t0}, tmp)

    t0 = time.monotonic()
    bar = progress_bar(cfg.steps, "step", "train-swap", initial=start)
    step = start
    for step in range(start, cfg.steps):
        with torch.no_grad():
            c = torch.stack([_crop(photo_px, cfg.size, g) for _ in range(2)])
            s = _crop(painting_px, cfg.size, g)[None]
            fc, fs = encode(c), encode(s)
            h = torch.cat([fc[:1], fs, swap(fc, style_patches(fs))])
        out = net(h)
        feat_loss = F.mse_loss(encode(out), h) / h.square().mean()
        tv = tv_loss(out)
        pixel = F.mse_loss(out[:2] / 255.0, torch.cat([c[:1], s]) / 255.0)
        loss = feat_loss + cfg.tv_weight * tv + cfg.pixel_weight * pixel
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append([round(feat_loss.item(), 5), round(tv.item(), 7), round(pixel.item(), 6)])
        bar.set_postfix(feat=f"{feat_loss.item():.3f}", tv=f"{tv.item():.5f}",
                        pixel=f"{pixel.item():.4f}")
        bar.update(1)
        done = step + 1
        if done % cfg.checkpoint_every == 0:
            save_checkpoint(done)
        if cfg.time_limit_min and elapsed + time.monotonic() - t0 > cfg.time_limit_min * 60:
            bar.write(f"time limit of {cfg.time_limit_min} min reached at step {done}")
            break
    else:
        done = cfg.steps
    bar.close()
    if done > start:
        save_checkpoint(done)
    tail = losses[-50:]
    record = {
        "made_by": "rtstyle train-swap",
        "command": " ".join(cfg.command),
        "objective": "mse(relu3_1(f(H)), H) / mean(H^2) + tv_weight * TV(f(H)) "
                     "+ pixel_weight * mse(f(H), image) on the unswapped H; "
                     "H from [Phi(C1), Phi(S), Phi_ss(C1,S), Phi_ss(C2,S)] per step",
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()
                   if k not in ("command", "output", "checkpoint")},
        # The runs behind --init, newest first, so the record counts every step.
        "init_history": prior_runs(init_meta) if init is not None else [],
        "vgg_fingerprint": encoder_fingerprint(encoder),
        "photos": len(photos), "paintings": len(paintings),
        "steps": done,
        "final_feature_loss": float(np.mean([x[0] for x in tail])) if tail else None,
        "final_tv": float(np.mean([x[1] for x in tail])) if tail else None,
        "final_pixel_loss": float(np.mean([x[2] for x in tail])) if tail else None,
        "loss_curve": losses[:: max(1, len(losses) // 100)],
        "train_seconds": round(elapsed + time.monotonic() - t0),
        "torch": torch.__version__,
    }
    save_decoder(cfg.output, net, record)
    return record
