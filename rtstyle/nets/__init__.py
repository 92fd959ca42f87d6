"""Transform-net architectures, built by name so model files can say which one they hold.

Every net maps float RGB in 0..255, shape (N, 3, H, W), to the same range and size.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from rtstyle.errors import RtstyleError
from rtstyle.nets.lite import LiteNet, lite_config
from rtstyle.nets.transform import TransformNet, fst_config, johnson_config

# arch name -> (function(**options) returning the net's config, the net class built from
# that config). A new architecture registers its pair here.
ARCHITECTURES = {
    "fst": (fst_config, TransformNet),
    "johnson": (johnson_config, TransformNet),
    "lite": (lite_config, LiteNet),
}


def build_net(arch: str, **options: Any) -> nn.Module:
    """Build an untrained net of the named architecture; options override its widths."""
    if arch not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise RtstyleError(f"unknown architecture '{arch}'; known ones are: {known}")
    make_config, net_class = ARCHITECTURES[arch]
    return net_class(make_config(**options))
