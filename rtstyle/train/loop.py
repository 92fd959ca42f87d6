"""The training loop both makers share: `rtstyle train` (a transform net) and `rtstyle
train-swap` (the style-swap decoder).

One place for what every run needs around its own step: the refusal to overwrite an
earlier run's checkpoint without --resume (and to resume from nothing), checkpoints as
one safetensors file (net and optimiser tensors, JSON state in its header; no pickle)
written atomically every N steps and at the end, one-line errors for a corrupt or
foreign checkpoint, a time limit counted across resumes, and Ctrl-C / SIGTERM finishing
the current step and saving. The caller gives the step (a function of the step number
returning the losses to show) and what to save in the checkpoint's state.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from rtstyle.errors import RtstyleError
from rtstyle.files import write_bytes_atomic
from rtstyle.styles.modelfile import load_state_strict

STATE_KEY = "state"  # the safetensors header entry holding the run's JSON state


def check_resume(ckpt: Path, resume: bool) -> None:
    """Refuse to overwrite an earlier run's checkpoint, and to resume from none."""
    if ckpt.exists() and not resume:
        raise RtstyleError(f"{ckpt} exists from an earlier run; add --resume to continue it, "
                           "or delete it to start over")
    if resume and not ckpt.is_file():
        raise RtstyleError(f"nothing to resume: {ckpt} does not exist; run without --resume")


def save_checkpoint(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer,
                    state: dict[str, Any]) -> None:
    """Net and optimiser tensors plus JSON state in one safetensors file, written atomically."""
    tensors = {f"net/{k}": v.detach().contiguous() for k, v in net.state_dict().items()}
    opt_state = opt.state_dict()
    for idx, per_param in opt_state["state"].items():
        for key, value in per_param.items():
            tensors[f"opt/{idx}/{key}"] = torch.as_tensor(value).contiguous()
    meta = {**state, "opt_groups": opt_state["param_groups"]}
    write_bytes_atomic(path, save(tensors, metadata={STATE_KEY: json.dumps(meta)}))


def read_checkpoint(path: Path, kind: str,
                    keys: set[str]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The JSON state and tensors of a checkpoint, or one line: an unreadable file (corrupt,
    truncated, a pickle) or one of another kind (without `keys` in its state)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(STATE_KEY)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise RtstyleError(f"checkpoint {path} is unreadable ({str(e)[:80]}); delete it to "
                           "start over") from None
    try:
        meta = json.loads(raw) if raw else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or not keys | {"opt_groups"} <= meta.keys():
        raise RtstyleError(f"checkpoint {path} is not a {kind} checkpoint; delete it to start "
                           "over")
    return meta, tensors


def restore(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer,
            meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Load a checkpoint read by `read_checkpoint` into `net` (strictly) and `opt`."""
    load_state_strict(net, {k[4:]: v for k, v in tensors.items() if k.startswith("net/")},
                      str(path))
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt/"):
            _, idx, key = k.split("/", 2)
            per_param.setdefault(int(idx), {})[key] = v
    try:
        opt.load_state_dict({"state": per_param, "param_groups": meta["opt_groups"]})
    except (ValueError, KeyError, TypeError) as e:
        raise RtstyleError(f"checkpoint {path} does not fit this net's optimiser ({e}); "
                           "delete it to start over") from None


@contextmanager
def stop_requests() -> Iterator[dict[str, bool]]:
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


@dataclass
class Loop:
    """Where a run starts and stops: steps, the resumed step and time, limits."""

    ckpt: Path
    steps: int
    start: int = 0
    elapsed: float = 0.0  # training seconds before this process (resumed runs)
    time_limit_min: float | None = None
    checkpoint_every: int = 50
    label: str = "train"
    progress: bool = True


@dataclass
class Outcome:
    step: int  # the last step done
    interrupted: bool  # Ctrl-C / SIGTERM: the checkpoint is saved, no model is written
    seconds: float  # training time in all, across resumes


def run_loop(loop: Loop, step: Callable[[int], dict[str, float]],
             save_state: Callable[[int, float], None],
             after_step: Callable[[int], None] | None = None) -> Outcome:
    """Run `step(n)` for n = loop.start .. loop.steps - 1, showing the losses it returns;
    `after_step(done)` after each; `save_state(done, seconds)` writes the checkpoint
    every checkpoint_every steps and when the run stops (limit, Ctrl-C or the end)."""
    from rtstyle.progress import progress_bar

    t0 = time.monotonic()

    def seconds() -> float:
        return loop.elapsed + time.monotonic() - t0

    done, interrupted = loop.start, False
    bar = progress_bar(loop.steps, "step", loop.label, loop.progress, initial=loop.start)
    with stop_requests() as stop:
        while done < loop.steps:
            shown = step(done)
            done += 1
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in shown.items()})
            if after_step:
                after_step(done)
            if stop["stop"]:
                interrupted = True
                break
            if loop.time_limit_min and seconds() > 60 * loop.time_limit_min:
                bar.write(f"time limit of {loop.time_limit_min} min reached at step {done}")
                break
            if done % loop.checkpoint_every == 0:
                save_state(done, seconds())
    bar.close()
    if done > loop.start or not loop.ckpt.exists():
        save_state(done, seconds())
    return Outcome(done, interrupted, seconds())
