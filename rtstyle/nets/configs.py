"""Each architecture's config: the options a model file stores to rebuild its net.

Plain dataclasses without torch, so the runtime can check a model file's claims and build
its ONNX graph (rtstyle.graphs) on a light install; the torch nets (transform.py,
lite.py, upscale.py) are built from the same configs when training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


def config_options(cfg: Any) -> dict:
    """The JSON-able options that rebuild a net config (a dataclass) through `build_net`."""
    d = asdict(cfg)
    d.pop("arch")
    if "widths" in d:
        d["widths"] = list(cfg.widths)
    return d


def normalise_options(options: dict) -> dict:
    """Options as read from JSON: `widths` back to a tuple, as the frozen configs hold it."""
    if "widths" in options:
        options = {**options, "widths": tuple(options["widths"])}
    return options


@dataclass(frozen=True)
class NetConfig:
    """Everything that distinguishes one transform-net variant (`fst`, `johnson`) from another."""

    arch: str
    widths: tuple[int, int, int] = (32, 64, 128)
    res_blocks: int = 5
    padding: str = "reflect"  # "reflect" | "same" (TF SAME, zeros)
    bias: bool = True
    upsample: str = "nearest"  # "nearest" (x2 then conv) | "deconv" (TF SAME transposed conv)
    eps: float = 1e-5
    output: str = "linear"  # "linear" | "tanh" (tanh * 150 + 127.5)
    output_norm: bool = False  # instance norm after the last conv (lengstrom's nets have one)
    # Edge-replicate the input by this many px and crop them off the output. Zero "SAME"
    # padding pads stride-2 convs on the right/bottom only, and nets trained on small crops
    # learn a bright or dark strip there; moving the image edge into a discarded margin
    # removes it (~12% more pixels at 640x480). 0 reproduces published nets exactly.
    border: int = 0

    def options(self) -> dict:
        return config_options(self)


def fst_config(**options) -> NetConfig:
    base = dict(padding="same", bias=False, upsample="deconv", eps=1e-3, output="tanh",
                output_norm=True)
    base.update(normalise_options(options))
    return NetConfig(arch="fst", **base)


def johnson_config(**options) -> NetConfig:
    return NetConfig(arch="johnson", **normalise_options(options))


@dataclass(frozen=True)
class LiteConfig:
    """Widths and depth of a lite net; stored in model files to rebuild it."""

    arch: str = "lite"
    widths: tuple[int, int] = (32, 64)  # at 1/4 and 1/8 resolution
    res_blocks: int = 4
    separable: bool = True  # depthwise-separable residual blocks and upsampling convs

    def options(self) -> dict:
        return config_options(self)


def lite_config(**options) -> LiteConfig:
    return LiteConfig(**normalise_options(options))


@dataclass(frozen=True)
class UpscaleConfig:
    """Scale, width and depth of an sr net (nets/upscale.py); stored in model files."""

    arch: str = "sr"
    scale: int = 4
    width: int = 24
    convs: int = 3  # 3x3 convs (with ReLU) before the 1x1 sub-pixel conv

    def options(self) -> dict:
        return config_options(self)


def sr_config(**options) -> UpscaleConfig:
    return UpscaleConfig(**options)
