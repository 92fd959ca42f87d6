"""Optimise the image itself: Gatys et al. 2016, and the optimisation form of style-swap.

The feed-forward nets approximate this. Starting from the photo (or noise), the pixels
move by L-BFGS (or Adam) to lower

- **gram** (Gatys): content distance at relu3_1 + Gram distance at relu1_1, relu1_2,
  relu2_1, relu2_2, relu3_1 + total variation, the relative terms of
  `rtstyle.train.losses.PerceptualLoss` (so weights do not depend on the VGG's scale);
- **swap** (Chen & Schmidt 2016, section 3.1): the relu3_1 distance to the style-swapped
  relu3_1 features of the photo (`rtstyle.swap.op`, computed once) + total variation.

Only the shipped VGG slice (conv1_1 -> relu3_1) is used, so it runs offline. The painting
is seen at `style_size` px on its longer side (512 by default, as the strength measure
sees it); the swap matches patches by the painting's principal directions
(`swap.op.index_style`), as `rtstyle image --style-image` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rtstyle.nets.frames import frames_to_rgb, rgb_to_frames
from rtstyle.nets.vgg import VGGFeatures
from rtstyle.swap.op import index_style, style_patches, swap_indexed
from rtstyle.train.losses import PerceptualLoss, tv_loss
from rtstyle.train.strength import fit_longer

CONTENT_LAYERS = ("relu3_1",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1")  # Gatys's first three; the measure's
SWAP_LAYER = "relu3_1"
LOSSES = ("gram", "swap")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise")


@dataclass(frozen=True)
class Settings:
    """What `rtstyle optimize` asks for."""

    size: int = 384  # longer side of the result, px
    steps: int = 100  # loss evaluations in all, coarse stage included
    loss: str = "gram"
    optimizer: str = "lbfgs"
    init: str = "content"
    content_weight: float = 1.0
    style_weight: float = 20.0
    tv_weight: float = 1.0
    style_size: int = 0  # longer side of the painting as the losses see it, px; 0: `size`
    lr: float = 2.0  # Adam only, in 0..255 pixel units
    line_search: str = "none"  # L-BFGS: "none" (fixed step 1) or "strong_wolfe"
    coarse: float = 0.5  # a first, cheaper stage at this fraction of `size`; 0: none
    coarse_steps: int = 40  # of `steps`
    style_layers: tuple = STYLE_LAYERS
    seed: int = 0

    def layers(self) -> str:
        """One line naming the VGG layers this run uses, for the user."""
        if self.loss == "swap":
            return f"style-swap target and content at {SWAP_LAYER} (VGG19 slice to relu3_1)"
        return (f"content {', '.join(CONTENT_LAYERS)}; Gram style {', '.join(self.style_layers)} "
                "(VGG19 slice to relu3_1)")


def _rgb(bgr: np.ndarray) -> torch.Tensor:
    return frames_to_rgb(torch.from_numpy(np.ascontiguousarray(bgr))[None])


def objective(photo: torch.Tensor, painting: torch.Tensor,
              s: Settings) -> Callable[[torch.Tensor], torch.Tensor]:
    """The weighted loss of an image (1, 3, H, W) in 0..255, with targets computed once."""
    if s.loss == "swap":
        vgg = VGGFeatures([SWAP_LAYER]).eval()
        with torch.no_grad():
            index = index_style(style_patches(vgg(painting)[SWAP_LAYER]))
            target = swap_indexed(vgg(photo)[SWAP_LAYER], *index)
        energy = target.square().mean()

        def swap_loss(x: torch.Tensor) -> torch.Tensor:
            f = vgg(x)[SWAP_LAYER]
            return ((f - target).square().mean() / energy * s.style_weight
                    + tv_loss(x) * s.tv_weight)
        return swap_loss

    losses = PerceptualLoss(painting, "builtin", CONTENT_LAYERS, s.style_layers).eval()
    targets = losses.content_targets(photo)

    def gram_loss(x: torch.Tensor) -> torch.Tensor:
        terms = losses(x, targets)
        return (terms["content"] * s.content_weight + terms["style"] * s.style_weight
                + terms["tv"] * s.tv_weight)
    return gram_loss


def optimise(photo_bgr: np.ndarray, painting_bgr: np.ndarray, s: Settings,
             progress: Callable[[int, float], None] | None = None,
             keep: dict | None = None) -> np.ndarray:
    """The optimised image (uint8 BGR, `s.size` px on its longer side).

    With `s.coarse` set, the first `s.coarse_steps` evaluations run at that fraction of the
    size (at 0.5 a quarter of the pixels, so each is 4x cheaper), and the result, upsampled,
    starts the run at full size: the broad strokes settle cheaply, the fine ones after.
    `progress(evaluation, loss)` is called after each loss evaluation (`s.steps` in all).
    `keep`, if given, holds the latest image under "image" throughout, so a caller can
    save it after an interrupt.
    """
    keep = {} if keep is None else keep
    torch.manual_seed(s.seed)
    stages = [(s.size, s.steps)]
    coarse = round(s.size * s.coarse)
    if 16 <= coarse < s.size and 0 < s.coarse_steps < s.steps:
        stages = [(coarse, s.coarse_steps), (s.size, s.steps - s.coarse_steps)]
    x = None
    done = 0
    for size, steps in stages:
        photo = _rgb(fit_longer(photo_bgr, size))
        painting = _rgb(fit_longer(painting_bgr, round((s.style_size or s.size) * size / s.size)))
        if x is None:
            x = photo.clone() if s.init == "content" else torch.rand_like(photo) * 255.0
        else:
            x = F.interpolate(x, size=photo.shape[2:], mode="bilinear", align_corners=False)
        x = _run(objective(photo, painting, s), x, steps, s, keep,
                 lambda i, loss, d=done: progress and progress(d + i, loss))
        done += steps
    return keep["image"]


def _run(loss_of: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor, steps: int,
         s: Settings, keep: dict, progress: Callable[[int, float], None]) -> torch.Tensor:
    """`steps` loss evaluations of `s.optimizer` from `start`; the best image seen.

    L-BFGS without a line search (the fast default) takes unit steps, and on some photos
    a late step overshoots: the loss jumps and the image with it. Keeping the image of
    the lowest loss evaluated makes the result never worse than the best point reached."""
    x = start.detach().clone().requires_grad_(True)
    # torch's L-BFGS updates its curvature only while s.y > 1e-10, an absolute bound; the
    # loss is a mean, so at full size its gradient per pixel is too small to pass it, and
    # every step stays the first one's tiny -g/|g|_1. As a sum over pixels it passes (the
    # method is otherwise blind to the loss's scale). Adam is blind to it anyway.
    scale = float(x.numel()) if s.optimizer == "lbfgs" else 1.0
    evaluations = 0
    best = {"loss": float("inf"), "x": start.detach().clone()}

    def closure() -> torch.Tensor:
        nonlocal evaluations
        opt.zero_grad()
        loss = loss_of(x)
        scaled = loss * scale  # what L-BFGS sees, line search included
        scaled.backward()
        evaluations += 1
        value = loss.item()
        if value < best["loss"]:  # NaN never is
            best.update(loss=value, x=x.detach().clone())
            keep["image"] = rgb_to_frames(best["x"])[0].numpy()  # clamped to 0..255
        progress(evaluations, value)
        return scaled

    if s.optimizer == "lbfgs":
        # One call runs all the iterations, so L-BFGS keeps its history; `steps` bounds
        # the loss evaluations (each a VGG forward and backward pass).
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [x], lr=1.0, max_iter=steps, max_eval=steps, tolerance_grad=0.0,
            tolerance_change=0.0, history_size=50,
            line_search_fn=None if s.line_search == "none" else s.line_search)
        opt.step(closure)
    else:
        opt = torch.optim.Adam([x], lr=s.lr)
        for _ in range(steps):
            opt.step(closure)
            with torch.no_grad():
                x.clamp_(0.0, 255.0)
    return best["x"]
