"""rtstyle's own model file: safetensors weights with JSON metadata in the header.

One self-contained file per style. The metadata records the architecture and its
options (so the net can be rebuilt), the style name, source, licence and how the
weights were made. Loading never unpickles anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from rtstyle.errors import RtstyleError
from rtstyle.files import write_bytes_atomic
from rtstyle.graphs import net_shapes
from rtstyle.nets import build_net, check_options

if TYPE_CHECKING:
    import torch

FORMAT = "rtstyle-model"
FORMAT_VERSION = 1
META_KEY = "rtstyle"


def save_model(path: Path, net: torch.nn.Module, meta: dict[str, Any],
               half: bool = False) -> None:
    """Write `net` (a TransformNet or similar with `.config`) with `meta` to `path`.

    `meta` should hold style, source, licence and made_by; arch and options come from the net.
    `half` stores fp16 weights (half the size, for package data); loading restores fp32.
    """
    write_bytes_atomic(Path(path), model_bytes(net, meta, half))


def model_bytes(net: torch.nn.Module, meta: dict[str, Any], half: bool = False) -> bytes:
    """The model file's bytes (see `save_model`), for writers that manage the file."""
    state = {k: v.detach().float().cpu().numpy() for k, v in net.state_dict().items()}
    return weights_bytes(net.config.arch, net.config.options(), state, meta, half)


def weights_bytes(arch: str, options: dict[str, Any], state: dict[str, np.ndarray],
                  meta: dict[str, Any], half: bool = False) -> bytes:
    """A model file's bytes from numpy weights (what importers write, without torch)."""
    full = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "arch": arch, "options": options, **meta}
    dtype = np.float16 if half else np.float32
    tensors = {k: np.ascontiguousarray(v, dtype) for k, v in state.items()}
    return save(tensors, metadata={META_KEY: json.dumps(full)})


def read_meta(path: Path) -> dict[str, Any]:
    """The metadata of a model file, without loading its weights.

    For rtstyle models (format FORMAT) the architecture and its options are checked against
    the architecture's schema and bounds here, so nothing built from them can be a memory
    bomb or a traceback. Other rtstyle files (e.g. the swap decoder) keep their own format.
    """
    try:
        with safe_open(str(path), framework="numpy") as f:
            raw = (f.metadata() or {}).get(META_KEY)
    except (SafetensorError, OSError, ValueError) as e:
        raise RtstyleError(f"model file {path} is corrupt or truncated ({e}); "
                           "re-import or re-train it") from e
    if raw is None:
        raise RtstyleError(f"{path} is a safetensors file but not an rtstyle model; "
                           "import it with `rtstyle styles import`")
    try:
        meta = json.loads(raw)
    except ValueError as e:
        raise RtstyleError(f"model file {path} has metadata that is not JSON ({e}); "
                           "re-import or re-train it") from e
    if not isinstance(meta, dict):
        raise RtstyleError(f"model file {path} has metadata that is not a JSON object; "
                           "re-import or re-train it")
    if meta.get("format", FORMAT) == FORMAT:
        if not isinstance(meta.get("arch"), str):
            raise RtstyleError(f"model file {path} does not say its architecture ('arch'); "
                               "re-import or re-train it")
        try:
            meta["options"] = check_options(meta["arch"], meta.get("options", {}))
        except RtstyleError as e:
            raise RtstyleError(f"model file {path}: {e}") from e
    return meta


def load_weights(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The file's weights as float32 numpy arrays, and its metadata; no torch.

    Every tensor's name and shape is checked against the architecture (read off its graph
    builder, which allocates nothing) before any tensor is read.
    """
    meta = read_meta(path)
    shapes = net_shapes(meta["arch"], meta["options"])
    try:
        with safe_open(str(path), framework="numpy") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            check_shapes(shapes, found, meta["arch"], str(path))
            state = {k: f.get_tensor(k).astype(np.float32) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise RtstyleError(f"model file {path} is corrupt or truncated ({e}); "
                           "re-import or re-train it") from e
    return state, meta


def load_net(path: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the torch net described by the file's metadata and load its weights
    strictly (needs torch: rtstyle[train]); the weights are checked as in `load_weights`."""
    state, meta = load_weights(path)
    net = build_net(meta["arch"], **meta["options"])
    load_state_strict(net, state, str(path))
    return net.eval(), meta


def check_shapes(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]],
                 arch: str, source: str) -> None:
    """The same names and shapes, or a one-line error naming the first difference."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
    if missing or unexpected or wrong:
        detail = (f"missing {missing[:2]}" if missing else
                  f"unexpected {unexpected[:2]}" if unexpected else
                  f"shape of {wrong[0]} is {found[wrong[0]][:8]}, "
                  f"expected {expected[wrong[0]]}")
        raise RtstyleError(f"{source} does not fit the '{arch}' architecture ({detail}); "
                           "it is a checkpoint of another architecture - pick the matching --arch")


def load_state_strict(net: torch.nn.Module, state: dict[str, Any], source: str) -> None:
    """load_state_dict(strict=True), turning mismatches into a one-line user error."""
    check_shapes({k: tuple(v.shape) for k, v in net.state_dict().items()},
                 {k: tuple(v.shape) for k, v in state.items()},
                 getattr(getattr(net, "config", None), "arch", "this"), source)
    import torch

    net.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=True)
