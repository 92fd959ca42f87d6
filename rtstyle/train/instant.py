"""`rtstyle train --instant`: a lite net for any painting in about two minutes on a CPU.

It is the ordinary trainer (rtstyle.train.trainer) under a time budget, with settings
measured for a short run (docs/styles/instant.md):

- **The init is the weight average of the shipped lite nets.** They were all fine-tuned
  from udnie-lite, so they share one basin and their average is a generic "any painting"
  net (a cheap meta-learned init) that moves towards a new painting faster than udnie-lite.
- **Small crops** (INSTANT_SIZE px): a step costs about a third of a 256 px step, so the
  budget buys about three times the steps; the strength measure is at 512 px and still holds.
- **A budget in seconds, not steps**: the bar counts seconds, so its ETA is exact.

The work happens in a fresh folder under $RTSTYLE_HOME/training that is removed at the
end; the style is registered only once training has finished (Ctrl-C registers nothing).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from rtstyle.errors import RtstyleError
from rtstyle.files import ensure_dir
from rtstyle.nets import build_net
from rtstyle.styles.catalogue import BUILTIN_DIR, home
from rtstyle.styles.modelfile import load_net, read_meta, save_model
from rtstyle.train.trainer import TrainConfig, TrainResult, train

INSTANT_SECONDS = 90.0  # training budget; with start-up and the finish, about 100-110 s wall
INSTANT_SIZE = 160
INSTANT_BATCH = 4
INSTANT_LR = 2e-3
MAX_PHOTOS = 32  # a run sees ~100-300 crops: more photos only cost loading time
ARCH = "lite"

# (fraction done 0..1, seconds left) after each step; for the HUD and the serve page.
ProgressFn = Callable[[float, float], None]


def builtin_lite_nets() -> list[Path]:
    return sorted(p for p in BUILTIN_DIR.glob("*-lite.safetensors")
                  if read_meta(p).get("arch") == ARCH)


def average_init(out: Path) -> Path:
    """Write the element-wise mean of the built-in lite nets' weights to `out` (the init).

    Nets of another shape (none ship today) are left out rather than failing the run."""
    files = builtin_lite_nets()
    if not files:
        raise RtstyleError("no built-in lite nets to start from; reinstall rtstyle")
    nets = [load_net(p)[0] for p in files]
    first = nets[0].state_dict()
    nets = [n for n in nets if {k: v.shape for k, v in n.state_dict().items()}
            == {k: v.shape for k, v in first.items()}]
    mean = {k: torch.stack([n.state_dict()[k].float() for n in nets]).mean(0) for k in first}
    net = build_net(ARCH, **read_meta(files[0])["options"])
    net.load_state_dict(mean)
    names = [p.stem for p in files]
    save_model(out, net, {"style": "average-lite", "source": "rtstyle --instant init",
                          "licence": "CC0 (weights trained by rtstyle)",
                          "made_by": {"command": "mean of the built-in lite nets",
                                      "styles": names}})
    return out


def instant_config(painting: Path, data: Path, name: str, workdir: Path, init: Path,
                   seconds: float = INSTANT_SECONDS, steps: int = 10**6,
                   seed: int = 0, lr: float = INSTANT_LR) -> TrainConfig:
    """The trainer's settings for an instant run (see the module docstring)."""
    return TrainConfig(style_image=painting, data=data, name=name, workdir=workdir,
                       arch=ARCH, size=INSTANT_SIZE, batch=INSTANT_BATCH, steps=steps,
                       lr=lr, holdout=1, sample_every=10**6, checkpoint_every=10**6,
                       time_limit_min=seconds / 60, init=init, seed=seed)


def train_instant(painting: Path, data: Path, name: str, seconds: float = INSTANT_SECONDS,
                  on_progress: ProgressFn | None = None, bar: bool = True,
                  init: str = "average", steps: int = 10**6,
                  lr: float = INSTANT_LR) -> TrainResult:
    """Train and register `name` for `painting` within `seconds` (or `steps`) of training.
    The painting is checked by the caller (commands.train, or style-swap in the live
    hand-over), so this package needs no engine.

    init: "average" (the default, see the module docstring) or a model file path."""
    root = ensure_dir(home() / "training", "training folder")
    workdir = Path(tempfile.mkdtemp(prefix=f".instant-{name}-", dir=root))
    try:
        start = average_init(workdir / "init-average.safetensors") if init == "average" \
            else Path(init)
        photos = _some_photos(data, workdir / "photos")
        cfg = instant_config(painting, photos, name, workdir, start, seconds, steps, lr=lr)
        return train(cfg, progress=False, on_step=_progress(seconds, on_progress, bar, name))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _some_photos(data: Path, folder: Path) -> Path:
    """`folder` with links to at most MAX_PHOTOS of `data`'s photos, evenly spread."""
    from rtstyle.train.data import image_files

    files = image_files(data)
    folder.mkdir()
    for i in np.linspace(0, len(files) - 1, min(MAX_PHOTOS, len(files))).round().astype(int):
        (folder / files[i].name).symlink_to(files[i].resolve())
    return folder


def _progress(seconds: float, on_progress: ProgressFn | None, bar: bool,
              name: str) -> Callable[[int], None]:
    """A per-step callback: a bar counting seconds of the budget (so its ETA is exact)
    and `on_progress(fraction, seconds_left)`."""
    from rtstyle.progress import progress_bar

    shown = progress_bar(round(seconds), "second", f"{name} (instant)", bar)
    state = {"n": 0, "t0": None, "step_s": 0.0}

    def step(i: int) -> None:
        # The trainer's clock starts with its first step (after loading photos and the
        # painting): count from there, the first step's time estimated by the second's.
        now = time.monotonic()
        if state["t0"] is None:
            state["t0"] = now
        elif i == 2:
            state["step_s"] = now - state["t0"]
        done = min(seconds, now - state["t0"] + state["step_s"])
        shown.update(round(done) - state["n"])
        state["n"] = round(done)
        shown.set_postfix(step=i)
        if state["n"] >= round(seconds):
            shown.close()
        if on_progress:
            on_progress(float(np.clip(done / seconds, 0, 1)), max(0.0, seconds - done))

    return step
