"""Turn other projects' checkpoints into rtstyle model files (or checked ONNX files).

Supported: ml5/TF.js per-variable folders (lengstrom's `fst` net, read with numpy: no
torch needed), pytorch/examples `.pth` state dicts (`johnson` net, loaded with torch's
weights_only=True, so they need rtstyle[train]), and ONNX files.
"""

from __future__ import annotations

import json
import os
import re
import stat
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rtstyle.errors import RtstyleError, require_extra
from rtstyle.graphs import net_shapes
from rtstyle.nets import check_options
from rtstyle.styles.modelfile import check_shapes

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


MANIFEST_MAX_BYTES = 1 << 20  # ml5's manifests are ~4 KB; a bigger one is not a manifest


def parse_manifest(data: bytes, source: object) -> dict[str, dict[str, Any]]:
    """An ml5/TF.js manifest's entries ({name: {"filename": str, "shape": [int...]}}),
    checked for form only; `source` names it in errors."""
    try:
        manifest = json.loads(data)
    except ValueError as e:
        raise RtstyleError(f"{source} is not valid JSON ({e}); point to an ml5 checkpoint "
                           "folder") from e
    ok = isinstance(manifest, dict) and all(
        isinstance(v, dict) and isinstance(v.get("filename"), str)
        and isinstance(v.get("shape"), list)
        and all(type(d) is int and d >= 0 for d in v["shape"]) for v in manifest.values())
    if not ok:
        raise RtstyleError(f"{source} is not an ml5 manifest (an object of variables, each "
                           "with a filename and a list of dimensions); point to an ml5 "
                           "checkpoint folder")
    return manifest


def manifest_path(folder: Path, filename: str) -> Path:
    """A manifest's file name as a path, refused unless it stays inside `folder` (after
    following links): a manifest must never make rtstyle read or write elsewhere."""
    root = Path(folder).resolve()
    if not filename or "\x00" in filename or Path(filename).is_absolute():
        raise RtstyleError(f"{folder}/manifest.json names the file {filename!r}, which is "
                           "not inside the checkpoint folder; refusing to use it")
    p = (root / filename).resolve()
    if root not in p.parents:
        raise RtstyleError(f"{folder}/manifest.json names the file {filename!r}, which is "
                           "not inside the checkpoint folder; refusing to use it")
    return p


def _read_exact(path: Path, size: int, name: str) -> bytes:
    """Exactly `size` bytes from a regular file of exactly that size, or a one-line error."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise RtstyleError(f"{name}'s file {path.name} is not a regular file; the "
                               "checkpoint is corrupt, download it again")
        if st.st_size != size:
            raise RtstyleError(f"{path} holds {st.st_size} bytes, expected {size}: the "
                               "checkpoint is truncated or corrupt; download it again")
        with open(path, "rb") as f:
            raw = f.read(size)
    except OSError as e:
        raise RtstyleError(f"cannot read {name} from {path} ({e.strerror or e}); the "
                           "checkpoint is incomplete, download it again") from e
    if len(raw) != size:
        raise RtstyleError(f"{path} changed while it was read; the checkpoint is truncated "
                           "or corrupt, download it again")
    return raw


def _fst_tf_shapes() -> dict[str, tuple[int, ...]]:
    """Each of the 48 ml5 variables' TF shape, from the `fst` net's tensor shapes (no
    memory): what a manifest must declare before anything is read."""
    state = net_shapes("fst", {})
    shapes = {}
    for i, (conv, norm) in enumerate(_fst_layer_names()):
        w = state[f"{conv}.conv2d.weight"]  # torch = tf.transpose(3, 2, 0, 1)
        for j, shape in enumerate(((w[2], w[3], w[1], w[0]), state[f"{norm}.bias"],
                                   state[f"{norm}.weight"])):
            k = 3 * i + j
            shapes["Variable" if k == 0 else f"Variable_{k}"] = tuple(int(d) for d in shape)
    return shapes


def ml5_state_dict(folder: Path) -> dict[str, np.ndarray]:
    """Read an ml5/TF.js per-variable checkpoint into `fst` state-dict keys.

    Conv k's weight is Variable_k, its IN beta k+1 and gamma k+2. TF weights are
    [kh, kw, in, out] (or [kh, kw, out, in] for transposed convs); transpose(3, 2, 0, 1)
    gives torch's layout in both cases. Every declared shape is checked against the net
    before any file is read, and each file is read only at that size.
    """
    manifest_path_ = folder / "manifest.json"
    if not manifest_path_.is_file():
        raise RtstyleError(f"{manifest_path_} is missing; point to an ml5 checkpoint folder")
    size = manifest_path_.stat().st_size
    if size > MANIFEST_MAX_BYTES:
        raise RtstyleError(f"{manifest_path_} is {size} bytes, too large for an ml5 manifest; "
                           "point to an ml5 checkpoint folder")
    manifest = parse_manifest(_read_exact(manifest_path_, size, "manifest.json"),
                              manifest_path_)
    expected = _fst_tf_shapes()
    if len(manifest) != len(expected):
        raise RtstyleError(f"{folder} has {len(manifest)} variables, expected 48; it is a "
                           "checkpoint of another architecture, not the fast-style net")
    for name, shape in expected.items():
        if name not in manifest:
            raise RtstyleError(f"{folder} lacks {name}; it is not a 48-variable fast-style "
                               "checkpoint (checkpoint of another architecture?)")
        declared = manifest[name]["shape"]
        if tuple(declared) != shape:
            raise RtstyleError(f"{folder}: {name} has shape {declared[:6]}, expected "
                               f"{list(shape)}; it is a checkpoint of another architecture")
    paths = {name: manifest_path(folder, manifest[name]["filename"]) for name in expected}

    def var(k: int) -> np.ndarray:
        name = "Variable" if k == 0 else f"Variable_{k}"
        shape = expected[name]
        raw = _read_exact(paths[name], 4 * int(np.prod(shape)), name)
        return np.frombuffer(raw, dtype="<f4").reshape(shape)

    state = {}
    for i, (conv, norm) in enumerate(_fst_layer_names()):
        k = 3 * i
        state[f"{conv}.conv2d.weight"] = var(k).transpose(3, 2, 0, 1).copy()
        state[f"{norm}.bias"] = var(k + 1).copy()
        state[f"{norm}.weight"] = var(k + 2).copy()
    return state


_LEGACY_KEY = re.compile(r"in\d+\.running_(mean|var)$")


def pth_state_dict(path: Path) -> dict[str, np.ndarray]:
    """A pytorch/examples `.pth`, loaded without unpickling code, legacy IN keys dropped."""
    require_extra("torch", "train", f"importing {path.name} (a torch .pth)")
    import torch

    try:
        with warnings.catch_warnings():  # torch warns about legacy or odd files first
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for bad or unsafe pickles
        text = str(e).strip()
        first = text.splitlines()[0].split(". ")[0][:160] if text else type(e).__name__
        raise RtstyleError(f"cannot read {path} as a weights-only state dict ({first}); "
                           "the file is corrupt, truncated or not a pytorch/examples .pth") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RtstyleError(f"{path} holds no plain state dict; save one with "
                           "torch.save(model.state_dict(), path)")
    return {k: v.float().numpy() for k, v in state.items() if not _LEGACY_KEY.search(k)}


def import_net(path: Path, arch: str | None = None
               ) -> tuple[str, dict[str, np.ndarray], dict[str, Any]]:
    """Read an ml5 folder or a `.pth`: its architecture, its weights (checked against that
    architecture) and the provenance metadata to save."""
    path = Path(path)
    if path.is_dir():
        if arch not in (None, "fst"):
            raise RtstyleError(f"ml5 checkpoints are 'fst' nets, not '{arch}'; drop --arch")
        arch, state, kind = "fst", ml5_state_dict(path), "ml5/TF.js checkpoint"
    elif path.suffix == ".pth" or path.suffix == ".pt":
        arch = arch or "johnson"
        check_options(arch, {})
        state, kind = pth_state_dict(path), "pytorch .pth"
    else:
        raise RtstyleError(f"cannot import {path}: expected an ml5 folder, a .pth or an .onnx file")
    check_shapes(net_shapes(arch, {}), {k: v.shape for k, v in state.items()}, arch, str(path))
    source, licence = PUBLISHED.get(path.stem if path.is_file() else path.name,
                                    (f"imported {kind}", UNKNOWN_LICENCE))
    return arch, state, {"source": source, "licence": licence,
                         "made_by": {"imported_from": str(path.resolve()), "format": kind}}
