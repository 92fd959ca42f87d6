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
import signal
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from rtstyle.errors import RtstyleError
from rtstyle.files import write_bytes_atomic
from rtstyle.images import read_image, write_image
from rtstyle.nets import build_net
from rtstyle.nets.frames import rgb_to_frames
from rtstyle.styles.modelfile import load_net, load_state_strict, read_meta, save_model
from rtstyle.train import (
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_STYLE_LAYERS,
    DEFAULT_STYLE_SIZE,
    DEFAULT_WEIGHTS,
    prior_runs,
)
from rtstyle.train.data import CropSampler, image_files, load_scaled, split_holdout, to_rgb255
from rtstyle.train.losses import PerceptualLoss

CHECKPOINT = "checkpoint.safetensors"
TERMS = ("content", "style", "tv")
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
    return sum(weights[k] * terms[k] for k in TERMS)


@torch.no_grad()
def held_out_losses(net: torch.nn.Module, loss: PerceptualLoss, photos: list[torch.Tensor],
                    weights: dict[str, float]) -> dict[str, float]:
    """Mean unweighted loss terms (and the weighted total) of `net` over whole photos."""
    sums = dict.fromkeys((*TERMS, "total"), 0.0)
    for photo in photos:
        x = photo[None]
        terms = loss(net(x), loss.content_targets(x))
        terms["total"] = weighted_total(terms, weights)
        for k in sums:
            sums[k] += float(terms[k]) / len(photos)
    return sums


def _save_checkpoint(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer,
                     state: dict[str, Any]) -> None:
    """Net and optimiser tensors plus JSON state in one safetensors file, written atomically."""
    tensors = {f"net/{k}": v.detach().contiguous() for k, v in net.state_dict().items()}
    opt_state = opt.state_dict()
    for idx, per_param in opt_state["state"].items():
        for key, value in per_param.items():
            tensors[f"opt/{idx}/{key}"] = torch.as_tensor(value).contiguous()
    meta = {**state, "opt_groups": opt_state["param_groups"]}
    write_bytes_atomic(path, save(tensors, metadata={"state": json.dumps(meta)}))


def _load_checkpoint(path: Path, net: torch.nn.Module,
                     opt: torch.optim.Optimizer) -> dict[str, Any]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["state"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, KeyError) as e:
        raise RtstyleError(f"checkpoint {path} is unreadable ({e}); delete it to start over") from e
    load_state_strict(net, {k[4:]: v for k, v in tensors.items() if k.startswith("net/")},
                      str(path))
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt/"):
            _, idx, key = k.split("/", 2)
            per_param.setdefault(int(idx), {})[key] = v
    opt.load_state_dict({"state": per_param, "param_groups": meta["opt_groups"]})
    return meta


@contextmanager
def _stop_requests():
    """Turn Ctrl-C / SIGTERM into a flag the loop checks between steps (main thread only)."""
    flag = {"stop": False}

    def handler(signum, frame):
        flag["stop"] = True

    old = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield flag
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


# Nets trained here get an edge margin (see NetConfig.border); imported ones keep none.
NEW_NET_OPTIONS = {"fst": {"border": 16}, "johnson": {"border": 16}}


def _initial_net(cfg: TrainConfig) -> torch.nn.Module:
    """A fresh net, or one starting from `cfg.init` (fine-tuning converges far faster)."""
    if cfg.init is None:
        return build_net(cfg.arch, **NEW_NET_OPTIONS.get(cfg.arch, {}))
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


def train(cfg: TrainConfig, progress: bool = True,
          on_step: Callable[[int], None] | None = None) -> TrainResult:
    """Train (or resume) `cfg.name`; write samples, checkpoints and the model under cfg.workdir.
    `on_step(step)` runs after every step (progress for `--instant` and the live hand-over)."""
    from rtstyle.progress import progress_bar

    if cfg.size < 32 or cfg.batch < 1 or cfg.steps < 1:
        raise RtstyleError("--size must be >= 32, --batch and --steps >= 1")
    if min(cfg.sample_every, cfg.checkpoint_every) < 1:
        raise RtstyleError("--sample-every and --checkpoint-every must be at least 1")
    train_files, held_files = split_holdout(image_files(cfg.data), cfg.holdout)
    style = read_style_image(cfg.style_image, cfg.style_size)
    workdir = Path(cfg.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt = workdir / CHECKPOINT
    if ckpt.exists() and not cfg.resume:
        raise RtstyleError(f"{ckpt} exists from an earlier run; add --resume to continue it, "
                           "or delete it to start over")
    if cfg.resume and not ckpt.exists():
        raise RtstyleError(f"nothing to resume: {ckpt} does not exist; run without --resume")

    torch.manual_seed(cfg.seed)
    net = _initial_net(cfg).train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    loss = PerceptualLoss(style, cfg.vgg_weights, cfg.content_layers, cfg.style_layers)
    sampler = CropSampler(train_files, cfg.size, cfg.seed)
    held = [load_scaled(p, cfg.size) for p in held_files]
    start, elapsed, history = 0, 0.0, []
    if cfg.resume:
        meta = _load_checkpoint(ckpt, net, opt)
        if meta["identity"] != cfg.identity():
            raise RtstyleError(f"{ckpt} was made with other settings ({meta['identity']}); "
                               "resume with the same options or delete it")
        start, elapsed, history = meta["step"], meta["elapsed"], meta["history"]
        sampler.gen.set_state(torch.tensor(meta["rng"], dtype=torch.uint8))
        for group in opt.param_groups:  # a resumed run may change the learning rate
            group["lr"] = cfg.lr

    t0 = time.monotonic()

    def checkpoint(step: int) -> None:
        _save_checkpoint(ckpt, net, opt, {
            "step": step, "elapsed": elapsed + time.monotonic() - t0, "history": history,
            "identity": cfg.identity(), "rng": sampler.gen.get_state().tolist()})

    step, interrupted = start, False
    bar = progress_bar(cfg.steps, "step", cfg.name, progress, initial=start)
    with _stop_requests() as stop:
        while step < cfg.steps:
            x = sampler.batch(cfg.batch)
            terms = loss(net(x), loss.content_targets(x))
            total = weighted_total(terms, cfg.weights)
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            step += 1
            history.append([step, total.item(), *(terms[k].item() for k in TERMS)])
            bar.update(1)
            if on_step:
                on_step(step)
            # the weighted total, then each term unweighted (as in the model's record)
            bar.set_postfix(dict(zip(("total", *TERMS), (f"{v:.3g}" for v in history[-1][1:]),
                                     strict=True)))
            if held and (step % cfg.sample_every == 0 or step == cfg.steps):
                _write_samples(workdir / "samples" / f"step_{step:06d}.jpg", net.eval(),
                               held[:SAMPLE_PHOTOS])
                net.train()
            if stop["stop"]:
                interrupted = True
                break
            if cfg.time_limit_min and elapsed + time.monotonic() - t0 > 60 * cfg.time_limit_min:
                bar.write(f"time limit of {cfg.time_limit_min} min reached at step {step}")
                break
            if step % cfg.checkpoint_every == 0:
                checkpoint(step)
    bar.close()
    if step > start or not ckpt.exists():
        checkpoint(step)
    if interrupted:
        return TrainResult(ckpt, step, True, {})
    return _finish(cfg, net.eval(), loss, held, history, elapsed + time.monotonic() - t0,
                   len(train_files), workdir)


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

    tail = np.array([h[1:] for h in history[-50:]])
    final = dict(zip(("total", *TERMS), (float(v) for v in tail.mean(axis=0)), strict=True))
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

