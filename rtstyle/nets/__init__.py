"""Net architectures, built by name so model files can say which one they hold.

Every net maps float RGB in 0..255, shape (N, 3, H, W), to the same range; the
transform nets keep the size, the super-resolution net (`sr`) multiplies it by its scale.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from torch import nn

from rtstyle.errors import RtstyleError
from rtstyle.nets.lite import LiteNet, lite_config
from rtstyle.nets.transform import TransformNet, fst_config, johnson_config
from rtstyle.nets.upscale import UpscaleNet, sr_config

# arch name -> (function(**options) returning the net's config, the net class built from
# that config). A new architecture registers its pair here.
ARCHITECTURES = {
    "fst": (fst_config, TransformNet),
    "johnson": (johnson_config, TransformNet),
    "lite": (lite_config, LiteNet),
    "sr": (sr_config, UpscaleNet),
}


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
    defaults = {f.name: getattr(ARCHITECTURES[arch][0](), f.name)
                for f in dataclasses.fields(ARCHITECTURES[arch][0]()) if f.name != "arch"}
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


def build_net(arch: str, **options: Any) -> nn.Module:
    """Build an untrained net of the named architecture; options (checked) override its
    defaults, e.g. widths."""
    options = check_options(arch, options)
    make_config, net_class = ARCHITECTURES[arch]
    return net_class(make_config(**options))
