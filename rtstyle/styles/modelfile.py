"""rtstyle's own model file: safetensors weights with JSON metadata in the header.

One self-contained file per style. The metadata records the architecture and its
options (so the net can be rebuilt), the style name, source, licence and how the
weights were made. Loading never unpickles anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from rtstyle.errors import RtstyleError
from rtstyle.files import write_bytes_atomic
from rtstyle.nets import build_net

FORMAT = "rtstyle-model"
FORMAT_VERSION = 1
META_KEY = "rtstyle"


def save_model(path: Path, net: torch.nn.Module, meta: dict[str, Any],
               half: bool = False) -> None:
    """Write `net` (a TransformNet or similar with `.config`) with `meta` to `path`.

    `meta` should hold style, source, licence and made_by; arch and options come from the net.
    `half` stores fp16 weights (half the size, for package data); loading restores fp32.
    """
    cfg = net.config
    full = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "arch": cfg.arch, "options": cfg.options(), **meta}
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().to(dtype).contiguous().cpu() for k, v in net.state_dict().items()}
    write_bytes_atomic(Path(path), save(tensors, metadata={META_KEY: json.dumps(full)}))


def read_meta(path: Path) -> dict[str, Any]:
    """The metadata of a model file, without loading its weights."""
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(META_KEY)
    except (SafetensorError, OSError, ValueError) as e:
        raise RtstyleError(f"model file {path} is corrupt or truncated ({e}); "
                           "re-import or re-train it") from e
    if raw is None:
        raise RtstyleError(f"{path} is a safetensors file but not an rtstyle model; "
                           "import it with `rtstyle styles import`")
    return json.loads(raw)


def load_net(path: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the net described by the file's metadata and load its weights strictly."""
    meta = read_meta(path)
    net = build_net(meta["arch"], **meta.get("options", {}))
    try:
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k).float() for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise RtstyleError(f"model file {path} is corrupt or truncated ({e}); "
                           "re-import or re-train it") from e
    load_state_strict(net, state, str(path))
    return net.eval(), meta


def load_state_strict(net: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """load_state_dict(strict=True), turning mismatches into a one-line user error."""
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        arch = getattr(getattr(net, "config", None), "arch", "this")
        detail = (f"missing {missing[:2]}" if missing else
                  f"unexpected {unexpected[:2]}" if unexpected else
                  f"shape of {wrong[0]} is {tuple(state[wrong[0]].shape)}, "
                  f"expected {tuple(expected[wrong[0]].shape)}")
        raise RtstyleError(f"{source} does not fit the '{arch}' architecture ({detail}); "
                           "it is a checkpoint of another architecture - pick the matching --arch")
    net.load_state_dict(state, strict=True)
