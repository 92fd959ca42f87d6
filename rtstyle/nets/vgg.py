"""VGG19 feature extractor: the loss network for training and the style-swap encoder.

Takes float RGB in 0..255 (the transform nets' range) and applies torchvision's
ImageNet normalisation itself. Weights come from `builtin` (the Oxford VGG19 sliced to
relu3_1, shipped with rtstyle: CC BY 4.0, Simonyan & Zisserman; enough for style-swap and
the default training layers, so both work offline), torchvision (`imagenet`, needs
internet once) or a local state dict in torchvision's `features` layout (keys `0.weight`
...), e.g. the offline VGG19 that stops at relu3_4.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from rtstyle.errors import RtstyleError

# torchvision vgg19().features, by index.
LAYERS = [
    "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
    "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
    "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4",
    "pool3",
    "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "conv4_4", "relu4_4",
    "pool4",
    "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3", "conv5_4", "relu5_4",
]
_CHANNELS = {"1": 64, "2": 128, "3": 256, "4": 512, "5": 512}
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# Made by benchmarks/make_vgg_slice.py; its metadata holds the licence and attribution.
BUILTIN_WEIGHTS = Path(__file__).resolve().parents[1] / "builtin" / "vgg19_relu3_1.safetensors"


def _vgg19_layers(upto: int) -> nn.Sequential:
    """torchvision's vgg19().features[:upto + 1], built without downloading anything."""
    mods: list[nn.Module] = []
    cin = 3
    for name in LAYERS[: upto + 1]:
        if name.startswith("conv"):
            cout = _CHANNELS[name[4]]
            mods.append(nn.Conv2d(cin, cout, 3, padding=1))
            cin = cout
        elif name.startswith("relu"):
            mods.append(nn.ReLU(inplace=False))
        else:
            mods.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*mods)


def load_state(weights: str | Path) -> dict[str, torch.Tensor]:
    """A `features` state dict from `builtin` (shipped, to relu3_1), `imagenet`
    (torchvision download) or a local file; float32 whatever the file stores."""
    if str(weights) == "imagenet":
        from torchvision.models import VGG19_Weights, vgg19

        try:
            return vgg19(weights=VGG19_Weights.IMAGENET1K_V1).features.state_dict()
        except Exception as e:  # URLError and friends when offline
            raise RtstyleError(f"cannot download torchvision's VGG19 weights ({e}); "
                               "pass a local state dict (`--vgg-weights PATH` when training, "
                               "`RTSTYLE_VGG_WEIGHTS=PATH` for style-swap)") from e
    path = BUILTIN_WEIGHTS if str(weights) == "builtin" else Path(weights)
    if not path.is_file():
        raise RtstyleError(f"VGG weights {path} not found; pass a local state dict or 'imagenet'")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return {k: v.float() for k, v in load_file(str(path)).items()}
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise RtstyleError(f"cannot read VGG weights {path} ({e}); the file is corrupt") from e


class VGGFeatures(nn.Module):
    """Returns {layer name: activation} for the requested layers, running only as deep as needed."""

    def __init__(self, layers: list[str], weights: str | Path = "builtin"):
        super().__init__()
        unknown = [name for name in layers if name not in LAYERS]
        if unknown:
            raise RtstyleError(f"unknown VGG layer(s) {unknown}; use names like relu2_2")
        self.layers = list(dict.fromkeys(layers))
        deepest = max(LAYERS.index(name) for name in self.layers)
        self.body = _vgg19_layers(deepest)
        state = load_state(weights)
        need = {k for k in self.body.state_dict()}
        if not need <= set(state):
            have = max((int(k.split(".")[0]) for k in state), default=-1)
            raise RtstyleError(
                f"layer {LAYERS[deepest]} needs VGG19 weights beyond {LAYERS[have + 1]}; "
                "use shallower layers, or --vgg-weights imagenet (downloads the full net) or "
                "--vgg-weights PATH (a local VGG19 features state dict)")
        self.body.load_state_dict({k: state[k] for k in need})
        self.body.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1) * 255.0)
        self._index = {LAYERS.index(name): name for name in self.layers}

    def forward(self, rgb255: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (rgb255 - self.mean) / self.std
        out = {}
        for i, module in enumerate(self.body):
            x = module(x)
            if i in self._index:
                out[self._index[i]] = x
        return out
