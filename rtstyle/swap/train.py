"""Train the style-swap inverse net once, for all styles (Chen & Schmidt 2016, section 4).

Objective: E_H ||Phi(f(H)) - H||^2 / E||H||^2 + tv_weight * TV(f(H)), with H drawn from
Phi(C) (photos), Phi(S) (paintings) and Phi_ss(C, S) (photos style-swapped with paintings),
Phi = VGG19 up to relu3_1. The feature term is relative (divided by the mean of H^2), so it
reads as a fraction and does not depend on the VGG weights' scale. Each step uses two photo
crops and one painting crop, giving H = [Phi(C1), Phi(S), Phi_ss(C1, S), Phi_ss(C2, S)].
Checkpoints (rtstyle.train.loop, shared with `rtstyle train`) hold the decoder, the
optimiser, the step and the crop generator, so an interrupted run resumes where it
stopped; an earlier run's checkpoint is not overwritten without --resume.

Added to the paper's objective: `pixel_weight` x the pixel MSE (0..1 scale) of f(Phi(C1))
and f(Phi(S)) against their images. relu3_1 barely constrains global colour, and with the
few thousand steps we can afford on a CPU (the paper trained ~100x longer) the decoder
otherwise gives every style the same colour cast.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from rtstyle.errors import RtstyleError
from rtstyle.images import read_image
from rtstyle.swap.decoder import Decoder, encoder_fingerprint, load_decoder, save_decoder
from rtstyle.swap.op import style_patches, swap
from rtstyle.train import prior_runs
from rtstyle.train.data import image_files, to_rgb255
from rtstyle.train.loop import (
    Loop,
    Outcome,
    check_resume,
    read_checkpoint,
    restore,
    run_loop,
    save_checkpoint,
)
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


RESUME_KEYS = {"rng", "feature_scale", "step", "losses", "elapsed"}


@dataclass
class _Data:
    """The run's inputs: image pyramids, the encoder, the crop generator."""

    photos: list[Path]
    paintings: list[Path]
    photo_px: list[list[torch.Tensor]]
    painting_px: list[list[torch.Tensor]]
    encoder: torch.nn.Module
    gen: torch.Generator


def _data(cfg: TrainConfig) -> _Data:
    from rtstyle.nets.vgg import VGGFeatures

    photos = image_files(cfg.photos, "photos folder")
    paintings = image_files(cfg.paintings, "paintings folder")
    if cfg.size < 32:
        raise RtstyleError(f"--size {cfg.size} is too small; use at least 32")
    return _Data(photos, paintings, _pyramid(photos, cfg.size), _pyramid(paintings, cfg.size),
                 VGGFeatures(["relu3_1"], cfg.vgg_weights),
                 torch.Generator().manual_seed(cfg.seed))


def _initial_decoder(cfg: TrainConfig, data: _Data,
                     meta: dict | None) -> tuple[Decoder, dict | None]:
    """A decoder whose feature scale comes from the checkpoint's state, --init's decoder
    (returned with its record) or the photos' relu3_1 features."""
    init, init_meta = None, None
    if meta:
        scale = meta["feature_scale"]
    elif cfg.init is not None:
        init, init_meta = load_decoder(cfg.init)
        if init_meta.get("vgg_fingerprint") not in (None, encoder_fingerprint(data.encoder)):
            raise RtstyleError(f"--init {cfg.init} was trained with other VGG weights "
                               f"({init_meta.get('config', {}).get('vgg_weights')}); "
                               "pass those with --vgg-weights")
        scale = init.feature_scale
    else:
        with torch.no_grad():
            crops = torch.stack([_crop(data.photo_px, cfg.size, data.gen) for _ in range(8)])
            scale = float(data.encoder(crops)["relu3_1"].square().mean().sqrt())
    torch.manual_seed(cfg.seed)
    net = Decoder(cfg.widths, scale)
    if init is not None:
        if init.widths != net.widths:
            raise RtstyleError(f"--init {cfg.init} has widths {list(init.widths)}, not "
                               f"{list(net.widths)}")
        net.load_state_dict(init.state_dict())
    return net, init_meta


def _step(cfg: TrainConfig, data: _Data, net: Decoder,
          opt: torch.optim.Optimizer) -> list[float]:
    """One optimiser step on H = [Phi(C1), Phi(S), Phi_ss(C1, S), Phi_ss(C2, S)]: the
    feature, TV and pixel losses."""

    def encode(rgb: torch.Tensor) -> torch.Tensor:
        return data.encoder(rgb)["relu3_1"]

    with torch.no_grad():
        c = torch.stack([_crop(data.photo_px, cfg.size, data.gen) for _ in range(2)])
        s = _crop(data.painting_px, cfg.size, data.gen)[None]
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
    return [round(feat_loss.item(), 5), round(tv.item(), 7), round(pixel.item(), 6)]


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training; writes cfg.output (decoder + record) and returns the
    record. Checkpoints, --resume and the time limit are the shared loop's."""
    data = _data(cfg)
    ckpt = cfg.checkpoint or cfg.output.with_suffix(".ckpt")
    check_resume(ckpt, cfg.resume)
    meta, tensors = (read_checkpoint(ckpt, "train-swap", RESUME_KEYS) if cfg.resume
                     else (None, {}))
    net, init_meta = _initial_decoder(cfg, data, meta)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    losses: list[list[float]] = []
    loop = Loop(ckpt, cfg.steps, time_limit_min=cfg.time_limit_min,
                checkpoint_every=cfg.checkpoint_every, label="train-swap")
    if meta:
        restore(ckpt, net, opt, meta, tensors)
        data.gen.set_state(torch.tensor(meta["rng"], dtype=torch.uint8))
        loop.start, loop.elapsed, losses = meta["step"], meta["elapsed"], meta["losses"]
        print(f"resuming from {ckpt} at step {loop.start}")

    def step(_: int) -> dict[str, float]:
        losses.append(_step(cfg, data, net, opt))
        return dict(zip(("feat", "tv", "pixel"), losses[-1], strict=True))

    def save_state(done: int, seconds: float) -> None:
        save_checkpoint(ckpt, net, opt, {
            "rng": data.gen.get_state().tolist(), "feature_scale": net.feature_scale,
            "step": done, "losses": losses, "elapsed": seconds})

    outcome = run_loop(loop, step, save_state)
    if outcome.interrupted:  # the decoder as it is now; --resume goes on from the checkpoint
        print(f"stopped at step {outcome.step}; add --resume to continue from {ckpt}")
    record = _record(cfg, data, init_meta, losses, outcome)
    save_decoder(cfg.output, net, record)
    return record


def _record(cfg: TrainConfig, data: _Data, init_meta: dict | None,
            losses: list[list[float]], outcome: Outcome) -> dict:
    """The decoder's training record (stored in its file)."""
    tail = losses[-50:]
    return {
        "made_by": "rtstyle train-swap",
        "command": " ".join(cfg.command),
        "objective": "mse(relu3_1(f(H)), H) / mean(H^2) + tv_weight * TV(f(H)) "
                     "+ pixel_weight * mse(f(H), image) on the unswapped H; "
                     "H from [Phi(C1), Phi(S), Phi_ss(C1,S), Phi_ss(C2,S)] per step",
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()
                   if k not in ("command", "output", "checkpoint")},
        # The runs behind --init, newest first, so the record counts every step.
        "init_history": prior_runs(init_meta) if init_meta is not None else [],
        "vgg_fingerprint": encoder_fingerprint(data.encoder),
        "photos": len(data.photos), "paintings": len(data.paintings),
        "steps": outcome.step,
        "final_feature_loss": float(np.mean([x[0] for x in tail])) if tail else None,
        "final_tv": float(np.mean([x[1] for x in tail])) if tail else None,
        "final_pixel_loss": float(np.mean([x[2] for x in tail])) if tail else None,
        "loss_curve": losses[:: max(1, len(losses) // 100)],
        "train_seconds": round(outcome.seconds),
        "torch": torch.__version__,
    }
