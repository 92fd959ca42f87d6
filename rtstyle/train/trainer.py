"""The training loop of `rtstyle train`: one painting -> one transform net.

Adam on weighted perceptual losses (rtstyle.train.losses) over augmented crops of the
training photos. A few photos are held out: samples are drawn on them as training
goes and the final losses are measured on them. Checkpoints are one safetensors file
(net and optimiser tensors, with the step, loss history and generator state as JSON
in its header), written atomically, so Ctrl-C or a kill at any point leaves the last
whole checkpoint and `--resume` continues from it. Ctrl-C (or SIGTERM) finishes the
current step, saves a checkpoint and returns.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from rtstyle.errors import RtstyleError
from rtstyle.files import write_bytes_atomic
from rtstyle.images import read_image, write_image
from rtstyle.nets import ARCHITECTURES, build_net
from rtstyle.nets.frames import rgb_to_frames
from rtstyle.styles.modelfile import load_net, read_meta, save_model
from rtstyle.train import (
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_STYLE_LAYERS,
    DEFAULT_STYLE_SIZE,
    DEFAULT_WEIGHTS,
    prior_runs,
)
from rtstyle.train.data import CropSampler, image_files, load_scaled, split_holdout, to_rgb255
from rtstyle.train.loop import (
    Loop,
    check_resume,
    read_checkpoint,
    restore,
    run_loop,
    save_checkpoint,
)
from rtstyle.train.losses import PerceptualLoss, stability_loss

CHECKPOINT = "checkpoint.safetensors"
RESUME_KEYS = {"step", "elapsed", "history", "identity", "rng"}
TERMS = ("content", "style", "tv", "temporal")
SAMPLE_PHOTOS = 4
SAMPLE_HEIGHT = 192


@dataclass
class TrainConfig:
    style_image: Path
    data: Path
    name: str
    workdir: Path
    arch: str = "fst"
    size: int = 256
    batch: int = 4
    steps: int = 2000
    lr: float = 1e-3
    content_weight: float = DEFAULT_WEIGHTS["content"]
    style_weight: float = DEFAULT_WEIGHTS["style"]
    tv_weight: float = DEFAULT_WEIGHTS["tv"]
    temporal_weight: float = DEFAULT_WEIGHTS["temporal"]
    content_layers: list[str] = field(default_factory=lambda: list(DEFAULT_CONTENT_LAYERS))
    style_layers: list[str] = field(default_factory=lambda: list(DEFAULT_STYLE_LAYERS))
    style_size: int = DEFAULT_STYLE_SIZE
    vgg_weights: str = "builtin"
    holdout: int = 4
    sample_every: int = 100
    checkpoint_every: int = 50
    resume: bool = False
    time_limit_min: float | None = None  # finish early (with a model) after this much training
    init: Path | None = None  # start from this model file's weights (fine-tune another style)
    seed: int = 0
    licence: str = "CC0 (weights trained by rtstyle); the painting's own licence applies"
    command: str = field(default_factory=lambda: shlex.join(["rtstyle", *sys.argv[1:]]))

    @property
    def weights(self) -> dict[str, float]:
        return {k: getattr(self, f"{k}_weight") for k in TERMS}

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must share with this run to be resumed by it."""
        keys = ("arch", "size", "batch", "content_layers", "style_layers", "style_size")
        return {"style_image": str(Path(self.style_image).resolve()),
                **{k: getattr(self, k) for k in keys}}


@dataclass
class TrainResult:
    model: Path
    steps: int
    interrupted: bool
    record: dict[str, Any]


def read_style_image(path: Path, longer: int) -> torch.Tensor:
    """The painting as a (1, 3, H, W) float RGB batch with its longer side at `longer` px."""
    bgr = read_image(path)
    h, w = bgr.shape[:2]
    k = longer / max(h, w)
    bgr = cv2.resize(bgr, (max(16, round(w * k)), max(16, round(h * k))),
                     interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
    return to_rgb255(bgr)[None]


def weighted_total(terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    return sum(weights[k] * terms[k] for k in TERMS if k in terms)


def step_terms(net: torch.nn.Module, loss: PerceptualLoss, x: torch.Tensor,
               gen: torch.Generator, temporal: bool) -> dict[str, torch.Tensor]:
    """The loss terms of one batch; the temporal term only when it is weighted (it costs a
    second pass of the net), else 0."""
    y = net(x)
    terms = loss(y, loss.content_targets(x))
    terms["temporal"] = stability_loss(net, x, y, gen) if temporal else y.new_zeros(())
    return terms


@torch.no_grad()
def held_out_losses(net: torch.nn.Module, loss: PerceptualLoss, photos: list[torch.Tensor],
                    weights: dict[str, float]) -> dict[str, float]:
    """Mean unweighted loss terms (and the weighted total) of `net` over whole photos."""
    sums = dict.fromkeys((*TERMS, "total"), 0.0)
    gen = torch.Generator().manual_seed(0)
    for photo in photos:
        terms = step_terms(net, loss, photo[None], gen, weights["temporal"] > 0)
        terms["total"] = weighted_total(terms, weights)
        for k in sums:
            sums[k] += float(terms[k]) / len(photos)
    return sums


def _initial_net(cfg: TrainConfig) -> torch.nn.Module:
    """A fresh net, or one starting from `cfg.init` (fine-tuning converges far faster)."""
    if cfg.init is None:
        return build_net(cfg.arch, **ARCHITECTURES[cfg.arch].new_options)
    net, meta = load_net(cfg.init)
    if meta["arch"] != cfg.arch:
        raise RtstyleError(f"--init {cfg.init} holds a '{meta['arch']}' net, not '{cfg.arch}'; "
                           f"pick a model of the same --arch")
    return net


def _write_samples(path: Path, net: torch.nn.Module, photos: list[torch.Tensor]) -> None:
    """A two-row sheet: held-out photos on top, their stylised versions below."""
    top, bottom = [], []
    with torch.no_grad():
        for x in photos:
            y = net(x[None])
            for row, img in ((top, x[None]), (bottom, y)):
                frame = rgb_to_frames(img)[0].numpy()
                h, w = frame.shape[:2]
                row.append(cv2.resize(frame, (round(w * SAMPLE_HEIGHT / h), SAMPLE_HEIGHT),
                                      interpolation=cv2.INTER_AREA))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, np.vstack([np.hstack(top), np.hstack(bottom)]))


def _check(cfg: TrainConfig) -> None:
    if cfg.size < 32 or cfg.batch < 1 or cfg.steps < 1:
        raise RtstyleError("--size must be >= 32, --batch and --steps >= 1")
    if min(cfg.sample_every, cfg.checkpoint_every) < 1:
        raise RtstyleError("--sample-every and --checkpoint-every must be at least 1")


def _resume(cfg: TrainConfig, ckpt: Path, net: torch.nn.Module, opt: torch.optim.Optimizer,
            sampler: CropSampler) -> tuple[int, float, list]:
    """Step, seconds and loss history of the checkpoint, loaded into net, opt and sampler."""
    meta, tensors = read_checkpoint(ckpt, "rtstyle train", RESUME_KEYS)
    if meta["identity"] != cfg.identity():
        raise RtstyleError(f"{ckpt} was made with other settings ({meta['identity']}); "
                           "resume with the same options or delete it")
    restore(ckpt, net, opt, meta, tensors)
    sampler.gen.set_state(torch.tensor(meta["rng"], dtype=torch.uint8))
    for group in opt.param_groups:  # a resumed run may change the learning rate
        group["lr"] = cfg.lr
    return meta["step"], meta["elapsed"], meta["history"]


def train(cfg: TrainConfig, progress: bool = True,
          on_step: Callable[[int], None] | None = None) -> TrainResult:
    """Train (or resume) `cfg.name`; write samples, checkpoints and the model under cfg.workdir.
    `on_step(step)` runs after every step (progress for `--instant` and the live hand-over)."""
    _check(cfg)
    train_files, held_files = split_holdout(image_files(cfg.data), cfg.holdout)
    style = read_style_image(cfg.style_image, cfg.style_size)
    workdir = Path(cfg.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt = workdir / CHECKPOINT
    check_resume(ckpt, cfg.resume)
    torch.manual_seed(cfg.seed)
    net = _initial_net(cfg).train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    loss = PerceptualLoss(style, cfg.vgg_weights, cfg.content_layers, cfg.style_layers)
    sampler = CropSampler(train_files, cfg.size, cfg.seed)
    held = [load_scaled(p, cfg.size) for p in held_files]
    start, elapsed, history = _resume(cfg, ckpt, net, opt, sampler) if cfg.resume else (0, 0.0, [])

    def step(n: int) -> dict[str, float]:
        x = sampler.batch(cfg.batch)
        terms = step_terms(net, loss, x, sampler.gen, cfg.temporal_weight > 0)
        total = weighted_total(terms, cfg.weights)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        history.append([n + 1, total.item(), *(terms[k].item() for k in TERMS)])
        if on_step:
            on_step(n + 1)
        # the weighted total, then each term unweighted (as in the model's record)
        return dict(zip(("total", *TERMS), history[-1][1:], strict=True))

    def samples(done: int) -> None:
        if held and (done % cfg.sample_every == 0 or done == cfg.steps):
            _write_samples(workdir / "samples" / f"step_{done:06d}.jpg", net.eval(),
                           held[:SAMPLE_PHOTOS])
            net.train()

    def save_state(done: int, seconds: float) -> None:
        save_checkpoint(ckpt, net, opt, {
            "step": done, "elapsed": seconds, "history": history,
            "identity": cfg.identity(), "rng": sampler.gen.get_state().tolist()})

    loop = Loop(ckpt, cfg.steps, start, elapsed, cfg.time_limit_min, cfg.checkpoint_every,
                cfg.name, progress)
    outcome = run_loop(loop, step, save_state, samples)
    if outcome.interrupted:
        return TrainResult(ckpt, outcome.step, True, {})
    return _finish(cfg, net.eval(), loss, held, history, outcome.seconds, len(train_files),
                   workdir)


def init_history(init_meta: dict) -> list[dict]:
    """The training runs behind an --init model, newest first, without their loss curves:
    a fine-tuned model's record then accounts for all the steps it took."""
    made_by = init_meta.get("made_by")
    if not isinstance(made_by, dict):  # an imported model: its source says where it came from
        return [{"source": init_meta.get("source"), "style": init_meta.get("style")}]
    return prior_runs(made_by)


def _finish(cfg: TrainConfig, net: torch.nn.Module, loss: PerceptualLoss,
            held: list[torch.Tensor], history: list[list[float]], seconds: float,
            n_train: int, workdir: Path) -> TrainResult:
    """Write the model with its training record and register it as a user style."""
    from rtstyle.styles.catalogue import copy_into_catalogue

    # rows from before the temporal term have one column fewer: average what each row has
    tail = history[-50:]
    final = {name: float(np.mean([h[i] for h in tail if len(h) > i]))
             for i, name in enumerate(("total", *TERMS), start=1) if any(len(h) > i for h in tail)}
    record = {
        "command": cfg.command, "steps": history[-1][0] if history else 0,
        "size": cfg.size, "batch": cfg.batch, "time_s": round(seconds),
        "final_losses": final,
        "held_out_losses": held_out_losses(net, loss, held, cfg.weights) if held else None,
        "layers": {"content": cfg.content_layers, "style": cfg.style_layers},
        "weights": cfg.weights,
        "loss_network": f"VGG19 ({Path(cfg.vgg_weights).name})",
        "lr": cfg.lr, "style_size": cfg.style_size, "style_image": Path(cfg.style_image).name,
        "init": Path(cfg.init).name if cfg.init else None,
        "init_history": init_history(read_meta(cfg.init)) if cfg.init else [],
        "train_photos": n_train, "held_out_photos": len(held), "seed": cfg.seed,
        "loss_curve": history[:: max(1, len(history) // 100)],
        "torch": torch.__version__,
    }
    model = workdir / f"{cfg.name}.safetensors"
    save_model(model, net, {"style": cfg.name, "source": "trained by rtstyle",
                            "licence": cfg.licence, "made_by": record})
    copy_into_catalogue(model, cfg.name)
    write_bytes_atomic(workdir / "record.json", json.dumps(record, indent=1).encode())
    return TrainResult(model, record["steps"], False, record)

