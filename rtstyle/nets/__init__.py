"""Net architectures, registered by name so model files can say which one they hold.

Every net maps float RGB in 0..255, shape (N, 3, H, W), to the same range; the
transform nets keep the size, the super-resolution net (`sr`) multiplies it by its scale.
An architecture is its module (the torch net and, in rtstyle.graphs, its ONNX graph) plus
one `Architecture` row here, which also holds what training needs to know about it. This
module imports no torch: the runtime checks model files and builds their ONNX graphs
(rtstyle.graphs) from the configs alone, and the torch net is imported only when a net
is built (training, export).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rtstyle.errors import RtstyleError, require_extra
from rtstyle.nets.configs import fst_config, johnson_config, lite_config, sr_config

if TYPE_CHECKING:
    from torch import nn


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One architecture: how to build it (config, torch net, ONNX graph) and train it."""

    config: Callable[..., Any]  # options -> the frozen config dataclass (nets/configs.py)
    net: str  # "module:Class" of the torch net, imported on use (maker side)
    graph: str  # "module:function(graph, x, config)": its ONNX graph, built without torch
    lr: float  # Adam's default learning rate for `rtstyle train --arch`
    help: str  # what `rtstyle train --arch` says about it
    # options given to nets trained from scratch here (imported nets keep their own)
    new_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    style: bool = True  # a style net, trained by `rtstyle train` (sr has its own trainer)
    # `train --init auto`: built-ins of this arch are named PAINTING + suffix, and `init`
    # is the cleanest one, used when none is named after the painting (None: from scratch)
    suffix: str = ""
    init: str | None = None


# fst/johnson stall at 2e-3 and train at 3e-4; lite trains at 2e-3. Trained nets get an
# edge margin (see NetConfig.border); imported ones keep none. A new architecture is its
# module plus one row here. johnson has no built-in, so it trains from scratch.
ARCHITECTURES = {
    "fst": Architecture(fst_config, "rtstyle.nets.transform:TransformNet",
                        "rtstyle.graphs.transform:transform_body", 3e-4,
                        "full, the default", {"border": 16}, init="udnie"),
    "johnson": Architecture(johnson_config, "rtstyle.nets.transform:TransformNet",
                            "rtstyle.graphs.transform:transform_body", 3e-4,
                            "pytorch/examples", {"border": 16}),
    "lite": Architecture(lite_config, "rtstyle.nets.lite:LiteNet",
                         "rtstyle.graphs.lite:lite_body", 2e-3, "real time on a CPU",
                         suffix="-lite", init="udnie-lite"),
    "sr": Architecture(sr_config, "rtstyle.nets.upscale:UpscaleNet",
                       "rtstyle.graphs.upscale:sr_body", 2e-3, "x4 super-resolution",
                       style=False),
}


def resolve(ref: str) -> Any:
    """The object a "module:name" reference in ARCHITECTURES names."""
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


# What a model file may claim, checked before anything is built. The nets here use widths
# up to 128 and 5 residual blocks; these bounds leave room for larger experiments while
# keeping any net under ~300 MB of weights (a claim of 10^7 blocks or 200000 channels
# would otherwise be built, and allocated, before a single tensor is read).
MAX_WIDTH = 512
BOUNDS = {"res_blocks": (0, 16), "border": (0, 64), "widths": (1, MAX_WIDTH),
          "width": (1, MAX_WIDTH), "convs": (1, 16), "scale": (2, 8)}
CHOICES = {"padding": ("reflect", "same"), "upsample": ("nearest", "deconv"),
           "output": ("linear", "tanh")}


def check_options(arch: object, options: object) -> dict[str, Any]:
    """`options` for `arch` checked against its config's fields, types and bounds: a copy,
    or a one-line error naming the first bad option (from a model file or a caller)."""
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise RtstyleError(f"unknown architecture {str(arch)[:40]!r}; known ones are: {known}")
    if not isinstance(options, dict):
        raise RtstyleError(f"the '{arch}' options are not a JSON object")
    base = ARCHITECTURES[arch].config()
    defaults = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)
                if f.name != "arch"}
    for key, value in options.items():
        if key not in defaults:
            raise RtstyleError(f"unknown '{arch}' option {str(key)[:40]!r}; known ones are: "
                               + ", ".join(sorted(defaults)))
        _check_option(arch, key, value, defaults[key])
    return dict(options)


def _check_option(arch: str, key: str, value: Any, default: Any) -> None:
    def bad(why: str) -> RtstyleError:
        return RtstyleError(f"'{arch}' option {key} = {repr(value)[:40]} is {why}")

    low, high = BOUNDS.get(key, (-math.inf, math.inf))
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("not true/false")
    elif isinstance(default, int):
        if type(value) is not int or not low <= value <= high:
            raise bad(f"not a whole number in {low}..{high}")
    elif isinstance(default, float):
        if type(value) not in (int, float) or not 0 < value < 1:
            raise bad("not a number between 0 and 1")
    elif isinstance(default, str):
        if value not in CHOICES.get(key, (default,)):
            raise bad("not one of " + ", ".join(CHOICES.get(key, (default,))))
    elif isinstance(default, tuple):
        if (not isinstance(value, list | tuple) or len(value) != len(default)
                or not all(type(v) is int and low <= v <= high for v in value)):
            raise bad(f"not {len(default)} whole numbers in {low}..{high}")


def make_config(arch: str, **options: Any) -> Any:
    """The config of the named architecture, options (checked) overriding its defaults."""
    return ARCHITECTURES[arch].config(**check_options(arch, options))


def build_net(arch: str, **options: Any) -> nn.Module:
    """Build an untrained torch net of the named architecture (needs torch: rtstyle[train]);
    options (checked) override its defaults, e.g. widths."""
    require_extra("torch", "train", f"building a torch '{arch}' net")
    cfg = make_config(arch, **options)
    return resolve(ARCHITECTURES[arch].net)(cfg)


def style_arches() -> list[str]:
    """The architectures `rtstyle train --arch` offers."""
    return [name for name, a in ARCHITECTURES.items() if a.style]
