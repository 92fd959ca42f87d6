"""Transform-net architectures, built by name so model files can say which one they hold.

Every net maps float RGB in 0..255, shape (N, 3, H, W), to the same range and size.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from rtstyle.errors import RtstyleError
from rtstyle.nets.lite import LiteConfig, LiteNet, lite_config
from rtstyle.nets.transform import TransformNet, fst_config, johnson_config

# arch name -> function(**options) returning the net's config. A new architecture
# (e.g. `lite`) registers its config builder here and, if it needs new layer types,
# adds them to transform.py.
ARCHITECTURES = {
    "fst": fst_config,
    "johnson": johnson_config,
    "lite": lite_config,
}


def build_net(arch: str, **options: Any) -> nn.Module:
    """Build an untrained net of the named architecture; options override its widths."""
    if arch not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise RtstyleError(f"unknown architecture '{arch}'; known ones are: {known}")
    cfg = ARCHITECTURES[arch](**options)
    return LiteNet(cfg) if isinstance(cfg, LiteConfig) else TransformNet(cfg)
