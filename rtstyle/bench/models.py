"""The models a benchmark runs: the full transform net, the lite net, style-swap and the
built-in x4 super-resolution net (`sr`, only when asked for).

Each is found the way a user would run it (a catalogue style, a model file, a painting)
and falls back to seeded random weights where no trained one exists: speed does not
depend on the weights, and the cross-engine check still compares real outputs. Each
model also says what it costs per frame, counted from its torch graph (where torch is
installed; the light install reports no count).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rtstyle.errors import RtstyleError

if TYPE_CHECKING:
    from torch import nn

FLOP_METHOD = ("torch.utils.flop_counter.FlopCounterMode over the model's torch forward on "
               "meta tensors (no compute): 2 FLOPs per multiply-add of every convolution, "
               "transposed convolution and matmul; element-wise ops (norms, activations) "
               "are not counted")


@dataclass
class BenchModel:
    """One model to benchmark: what `open_engine` takes, and how to count its cost."""

    key: str  # "full", "lite", "swap", "sr"
    spec: str  # a model file or painting path, as open_engine takes it
    weights: str  # where the weights came from, for the report
    frame_module: Callable[[], nn.Module] | None = None  # frames -> frames, for FLOP counting

    _gflops: dict[tuple[int, int], float | None] = field(default_factory=dict, repr=False)

    def gflops(self, height: int, width: int) -> float | None:
        """GFLOPs of one (height, width) frame, or None where the model has no torch graph."""
        if self.frame_module is None or not has_torch():
            return None
        if (height, width) not in self._gflops:
            import torch
            from torch.utils.flop_counter import FlopCounterMode

            module = self.frame_module().eval().to("meta")
            frames = torch.empty(1, height, width, 3, dtype=torch.uint8, device="meta")
            with FlopCounterMode(display=False) as counter, torch.no_grad():
                module(frames)
            self._gflops[(height, width)] = round(counter.get_total_flops() / 1e9, 3)
        return self._gflops[(height, width)]


def has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def random_weights(arch: str, options: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded weights for an untrained net whose output is not flat: convs drawn like
    torch's default init (uniform in +-1/sqrt(fan-in)), instance-norm scales and shifts
    around 1 and 0, so engines that disagree produce visibly different images."""
    from rtstyle.graphs import net_shapes

    rng = np.random.default_rng(seed)
    shapes = net_shapes(arch, options)
    state = {}
    for name, shape in shapes.items():
        norm = len(shapes[name.rsplit(".", 1)[0] + ".weight"]) == 1  # 1-D scale: a norm
        if norm and name.endswith(".weight"):
            state[name] = 1.0 + 0.3 * np.abs(rng.standard_normal(shape))
        elif norm:
            state[name] = 0.3 * rng.standard_normal(shape)
        else:
            conv = shapes[name.rsplit(".", 1)[0] + ".weight"]
            bound = 1.0 / np.sqrt(np.prod(conv[1:]))
            state[name] = rng.uniform(-bound, bound, shape)
    return {k: v.astype(np.float32) for k, v in state.items()}


def _torch_frames(arch: str, options: dict) -> Callable[[], nn.Module] | None:
    """The net as a frames module for FLOP counting, where torch is installed."""
    if not has_torch():
        return None

    def make() -> nn.Module:
        from rtstyle.nets import build_net
        from rtstyle.nets.frames import FrameModel

        return FrameModel(build_net(arch, **options))

    return make


def transform_model(key: str, arch: str, style: str | None, workdir: Path,
                    seed: int = 0) -> BenchModel:
    """A transform net of `arch`: the catalogue style or model file `style` when it is one of
    that architecture, else seeded random weights saved to `workdir`."""
    from rtstyle.files import write_bytes_atomic
    from rtstyle.nets import make_config
    from rtstyle.styles.catalogue import find_style
    from rtstyle.styles.modelfile import weights_bytes

    found = None
    if style:
        try:
            found = find_style(style)
        except RtstyleError:
            found = None
    if found is not None and not found.is_onnx and found.meta.get("arch") == arch:
        options = found.meta.get("options", {})
        return BenchModel(key, str(found.path), f"{found.name} ({found.origin} style)",
                          _torch_frames(arch, options))
    path = workdir / f"{key}-{arch}-random{seed}.safetensors"
    options = make_config(arch).options()
    write_bytes_atomic(path, weights_bytes(
        arch, options, random_weights(arch, options, seed),
        {"style": f"{key}-random", "source": "rtstyle bench", "licence": "CC0",
         "made_by": f"random weights, seed {seed}"}))
    why = f"style '{style}' is not an '{arch}' model here" if style else "no trained style"
    return BenchModel(key, str(path), f"random (seed {seed}; {why})",
                      _torch_frames(arch, options))


def find_arch_style(arch: str, prefer: str | None) -> str | None:
    """A catalogue style of architecture `arch`, preferring names that contain `prefer`."""
    from rtstyle.styles.catalogue import list_styles

    names = [s.name for s in list_styles() if s.meta.get("arch") == arch and not s.is_onnx]
    preferred = [n for n in names if prefer and prefer in n]
    return (preferred or names or [None])[0]


def resolve_models(keys: list[str], style: str, painting: Path | None,
                   workdir: Path) -> tuple[list[BenchModel], dict[str, str]]:
    """The requested models that exist in this install, and why each missing one is missing."""
    models, missing = [], {}
    for key in keys:
        if key == "full":
            models.append(transform_model("full", "fst", style, workdir))
        elif key == "lite":
            models.append(transform_model("lite", "lite", find_arch_style("lite", style),
                                          workdir))
        elif key == "swap":
            reason = swap_unavailable(painting, workdir)
            if reason:
                missing[key] = reason
                continue
            from rtstyle.engines.swap import decoder_path

            decoder = decoder_path()
            trained = "random decoder" if decoder.parent == workdir else f"decoder {decoder.name}"
            models.append(BenchModel("swap", str(painting), f"style-swap, painting "
                                     f"{painting.name}, {trained}",
                                     (lambda: swap_frame_module(painting))
                                     if has_torch() else None))
        elif key == "sr":
            models.append(upscale_model())
        else:
            raise RtstyleError(f"unknown model '{key}'; choose from full, lite, swap, sr")
    return models, missing


def upscale_model() -> BenchModel:
    """The built-in x4 upscaler, as `rtstyle upscale` runs it (sizes are its input's)."""
    from rtstyle.styles.catalogue import BUILTIN_DIR, find_style

    path = BUILTIN_DIR / "upscale-x4.safetensors"  # `rtstyle upscale`'s default --model
    options = find_style(str(path)).meta.get("options", {})
    return BenchModel("sr", str(path), f"built-in {path.name}", _torch_frames("sr", options))


def swap_unavailable(painting: Path | None, workdir: Path) -> str | None:
    """Why style-swap cannot be benchmarked here, or None when it can (which loads it).

    Where the decoder file is missing (a trimmed install, or a wrong $RTSTYLE_SWAP_DECODER)
    a seeded random one stands in: speed does not depend on its weights."""
    from rtstyle.engines.swap import DECODER_ENV, decoder_path, open_swap_engine

    if painting is None:
        return "no painting given (--style-image) and none found in the assets"
    if not decoder_path().is_file():
        if not has_torch():
            return f"the style-swap decoder {decoder_path()} is missing; reinstall rtstyle"
        import torch

        from rtstyle.swap.decoder import Decoder, save_decoder

        torch.manual_seed(0)
        path = workdir / "swap-decoder-random.safetensors"
        save_decoder(path, Decoder(), {"made_by": "rtstyle bench: random weights, seed 0"})
        os.environ[DECODER_ENV] = str(path)  # the swap engine's documented setting
    try:
        open_swap_engine(painting, "torch" if has_torch() else "auto").close()
    except RtstyleError as e:
        return str(e)
    return None


def swap_frame_module(painting: Path) -> nn.Module:
    """Style-swap as frames -> frames, with the index (patches x rank) the engine makes of
    `painting`; a copy, so counting FLOPs on it never touches the engine's shared nets."""
    import copy

    import torch
    from torch import nn

    from rtstyle.engines.swap import open_swap_engine

    engine = open_swap_engine(painting, "torch")
    model = copy.deepcopy(engine.runtime.torch.model)
    shapes = [tuple(t.shape) for t in engine.style_tensors]

    class Bound(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, frames: torch.Tensor) -> torch.Tensor:
            h, w = frames.shape[1], frames.shape[2]  # the engine pads to multiples of 4
            padded = frames.new_empty(frames.shape[0], h + -h % 4, w + -w % 4, 3)
            index = [torch.empty(shape, device=frames.device) for shape in shapes]
            return self.model(padded, *index)

    return Bound()
