"""Turn other projects' checkpoints into rtstyle model files (or checked ONNX files).

Supported: ml5/TF.js per-variable folders (lengstrom's `fst` net), pytorch/examples
`.pth` state dicts (`johnson` net, loaded with weights_only=True), and ONNX files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rtstyle.errors import RtstyleError
from rtstyle.nets import build_net
from rtstyle.styles.modelfile import load_state_strict

# Published ml5 checkpoints: who trained them and under which licence.
PUBLISHED = {
    **{name: ("L. Engstrom, fast-style-transfer (via ml5.js)",
              "free for research use; commercial use needs the author's consent")
       for name in ("udnie", "scream", "wave", "la_muse", "rain_princess", "wreck")},
    **{name: ("ml5.js project", "MIT") for name in ("mathura", "matta", "matilde_perez")},
}
UNKNOWN_LICENCE = "unknown: ask the checkpoint's author before sharing outputs"


def _fst_layer_names(res_blocks: int = 5) -> list[tuple[str, str]]:
    """(conv, instance norm) pairs in lengstrom's variable order."""
    pairs = [("conv1", "in1"), ("conv2", "in2"), ("conv3", "in3")]
    for r in range(1, res_blocks + 1):
        pairs += [(f"res{r}.conv1", f"res{r}.in1"), (f"res{r}.conv2", f"res{r}.in2")]
    return pairs + [("deconv1", "in4"), ("deconv2", "in5"), ("deconv3", "in6")]


def ml5_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    """Read an ml5/TF.js per-variable checkpoint into `fst` state-dict keys.

    Conv k's weight is Variable_k, its IN beta k+1 and gamma k+2. TF weights are
    [kh, kw, in, out] (or [kh, kw, out, in] for transposed convs); transpose(3, 2, 0, 1)
    gives torch's layout in both cases.
    """
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as e:
        raise RtstyleError(f"{manifest_path} is missing or not valid JSON ({e}); "
                           "point to an ml5 checkpoint folder") from e

    def var(k: int) -> np.ndarray:
        name = "Variable" if k == 0 else f"Variable_{k}"
        if name not in manifest:
            raise RtstyleError(f"{folder} lacks {name}; it is not a 48-variable fast-style "
                               "checkpoint (checkpoint of another architecture?)")
        entry = manifest[name]
        raw = (folder / entry["filename"]).read_bytes() if (folder / entry["filename"]).exists() \
            else b""
        want = int(np.prod(entry["shape"]))
        if len(raw) != 4 * want:
            raise RtstyleError(f"{folder / entry['filename']} holds {len(raw)} bytes, expected "
                               f"{4 * want}: the checkpoint is truncated or corrupt; download "
                               "it again")
        return np.frombuffer(raw, dtype="<f4").reshape(entry["shape"])

    if len(manifest) != 48:
        raise RtstyleError(f"{folder} has {len(manifest)} variables, expected 48; it is a "
                           "checkpoint of another architecture, not the fast-style net")
    state = {}
    for i, (conv, norm) in enumerate(_fst_layer_names()):
        k = 3 * i
        state[f"{conv}.conv2d.weight"] = torch.from_numpy(var(k).transpose(3, 2, 0, 1).copy())
        state[f"{norm}.bias"] = torch.from_numpy(var(k + 1).copy())
        state[f"{norm}.weight"] = torch.from_numpy(var(k + 2).copy())
    return state


_LEGACY_KEY = re.compile(r"in\d+\.running_(mean|var)$")


def pth_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A pytorch/examples `.pth`, loaded without unpickling code, legacy IN keys dropped."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for bad or unsafe pickles
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RtstyleError(f"cannot read {path} as a weights-only state dict ({first}); "
                           "the file is corrupt, truncated or not a pytorch/examples .pth") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RtstyleError(f"{path} holds no plain state dict; save one with "
                           "torch.save(model.state_dict(), path)")
    return {k: v for k, v in state.items() if not _LEGACY_KEY.search(k)}


def import_net(path: Path, arch: str | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Load an ml5 folder or a `.pth` into a net, with the provenance metadata to save."""
    path = Path(path)
    if path.is_dir():
        net, state, kind = build_net("fst"), ml5_state_dict(path), "ml5/TF.js checkpoint"
        if arch not in (None, "fst"):
            raise RtstyleError(f"ml5 checkpoints are 'fst' nets, not '{arch}'; drop --arch")
    elif path.suffix == ".pth" or path.suffix == ".pt":
        net, state, kind = build_net(arch or "johnson"), pth_state_dict(path), "pytorch .pth"
    else:
        raise RtstyleError(f"cannot import {path}: expected an ml5 folder, a .pth or an .onnx file")
    load_state_strict(net, state, str(path))
    source, licence = PUBLISHED.get(path.stem if path.is_file() else path.name,
                                    (f"imported {kind}", UNKNOWN_LICENCE))
    return net.eval(), {"source": source, "licence": licence,
                        "made_by": {"imported_from": str(path.resolve()), "format": kind}}
