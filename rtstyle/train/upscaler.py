"""Training and measuring the super-resolution net (Johnson et al. 2016, section 4).

Photos are shrunk by the scale with area averaging (what a camera or a downscaler does),
and the net learns to give them back. The loss is the VGG relu2_2 feature distance (the
paper's) relative to the target's feature energy, plus an L1 pixel term that keeps PSNR
close to bicubic's (feature loss alone drifts colours and adds grid artefacts). The first
`pixel_steps` use the pixel term alone: they cost no VGG pass and put the net near a good
interpolator before the feature loss sharpens it.

Run it as `python -m rtstyle.train.upscaler --photos DIR -o sr.safetensors`; it saves a
model file every `--every` steps and `--resume` continues from one, so nothing is lost.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from rtstyle.images import read_image
from rtstyle.nets import build_net
from rtstyle.nets.frames import frames_to_rgb, rgb_to_frames
from rtstyle.nets.vgg import VGGFeatures
from rtstyle.train.data import image_files

FEATURE_LAYER = "relu2_2"


def shrink(bgr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(original cropped to a multiple of `scale`, its area-averaged 1/scale copy)."""
    h, w = (bgr.shape[0] // scale) * scale, (bgr.shape[1] // scale) * scale
    hr = bgr[:h, :w]
    return hr, cv2.resize(hr, (w // scale, h // scale), interpolation=cv2.INTER_AREA)


def bicubic(bgr: np.ndarray, scale: int) -> np.ndarray:
    h, w = bgr.shape[:2]
    return cv2.resize(bgr, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


@dataclass(frozen=True)
class Quality:
    """One photo: relu2_2 feature distance and PSNR to the original, net and bicubic."""

    feature: float
    feature_bicubic: float
    psnr: float
    psnr_bicubic: float

    @property
    def feature_ratio(self) -> float:
        return self.feature / self.feature_bicubic


class FeatureDistance:
    """Mean squared VGG relu2_2 distance between two uint8 BGR images of one size."""

    def __init__(self, vgg: VGGFeatures | None = None):
        self.vgg = vgg or VGGFeatures([FEATURE_LAYER]).eval()

    @torch.no_grad()
    def __call__(self, a: np.ndarray, b: np.ndarray) -> float:
        x = frames_to_rgb(torch.from_numpy(np.stack([a, b])))
        f = self.vgg(x)[FEATURE_LAYER]
        return float((f[0] - f[1]).square().mean())


def measure(upscale, original: np.ndarray, scale: int,
            distance: FeatureDistance) -> Quality:
    """Shrink `original` by `scale`, upscale it with `upscale` (uint8 BGR -> uint8 BGR) and
    with bicubic, and compare both to the original."""
    hr, lr = shrink(original, scale)
    out, cubic = upscale(lr), bicubic(lr, scale)
    return Quality(distance(out, hr), distance(cubic, hr), psnr(out, hr), psnr(cubic, hr))


class Crops:
    """Random (low-res, high-res) crop pairs from photos held in memory."""

    def __init__(self, folder: Path, scale: int, crop: int, seed: int = 0):
        self.photos = [read_image(p) for p in image_files(folder, "--photos")]
        self.scale, self.crop = scale, crop
        self.rng = np.random.default_rng(seed)

    def one(self) -> tuple[np.ndarray, np.ndarray]:
        img = self.photos[self.rng.integers(len(self.photos))]
        k = self.rng.uniform(max(self.crop / min(img.shape[:2]), 0.5), 1.0)
        if k < 1.0:
            img = cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        y = self.rng.integers(img.shape[0] - self.crop + 1)
        x = self.rng.integers(img.shape[1] - self.crop + 1)
        hr = img[y:y + self.crop, x:x + self.crop]
        if self.rng.random() < 0.5:
            hr = hr[:, ::-1]
        return shrink(np.ascontiguousarray(hr), self.scale)[::-1]

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        lr, hr = zip(*(self.one() for _ in range(n)), strict=True)
        return (frames_to_rgb(torch.from_numpy(np.stack(lr))),
                frames_to_rgb(torch.from_numpy(np.stack(hr))))


def upscaler_fn(net: torch.nn.Module):
    """uint8 BGR image -> its upscale by the torch net (for measuring during training)."""
    @torch.no_grad()
    def run(bgr: np.ndarray) -> np.ndarray:
        return rgb_to_frames(net(frames_to_rgb(torch.from_numpy(bgr)[None])))[0].numpy()
    return run


def train(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from rtstyle.styles.modelfile import load_net, save_model

    if args.resume:
        net, meta = load_net(args.resume)
        step = meta["made_by"]["steps"]
    else:
        net, step = build_net("sr", scale=args.scale, width=args.width, convs=args.convs), 0
    net.train()
    vgg = VGGFeatures([FEATURE_LAYER]).eval()
    data = Crops(args.photos, args.scale, args.crop, seed=args.seed + step)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    start, curve = time.monotonic(), []
    while step < args.steps and (time.monotonic() - start) < args.minutes * 60:
        lr, hr = data.batch(args.batch)
        out = net(lr)
        pixel = (out - hr).abs().mean() / 255.0
        loss = args.pixel_weight * pixel
        if step >= args.pixel_steps:
            with torch.no_grad():
                target = vgg(hr)[FEATURE_LAYER]
            feat = (vgg(out)[FEATURE_LAYER] - target).square().mean() / target.square().mean()
            loss = loss + feat
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        curve.append(loss.item())
        if step % args.every == 0 or step == args.steps:
            print(f"step {step} loss {np.mean(curve[-args.every:]):.4f} "
                  f"({time.monotonic() - start:.0f} s)", flush=True)
            save(save_model, net, args, step)
    save(save_model, net, args, step)


def save(save_model, net: torch.nn.Module, args: argparse.Namespace, step: int) -> None:
    made_by = {"command": "python -m rtstyle.train.upscaler " + " ".join(args.argv),
               "steps": step, "pixel_steps": args.pixel_steps, "batch": args.batch,
               "crop": args.crop, "photos": "70 train photos (docs/upscale.md)",
               "losses": f"VGG19 {FEATURE_LAYER} feature MSE / target energy "
                         f"+ {args.pixel_weight} x L1 pixel (0..1)",
               "downscale": "area averaging"}
    save_model(args.output, net, {"style": "upscale", "source": "trained by rtstyle",
                                  "licence": "same as rtstyle", "made_by": made_by})


def main(argv: list[str] | None = None) -> None:
    import sys

    p = argparse.ArgumentParser(prog="python -m rtstyle.train.upscaler")
    p.add_argument("--photos", type=Path, required=True)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--resume", type=Path)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--width", type=int, default=24)
    p.add_argument("--convs", type=int, default=3)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--pixel-steps", type=int, default=1500)
    p.add_argument("--pixel-weight", type=float, default=10.0)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=96)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    train(args)


if __name__ == "__main__":
    main()
