"""The style catalogue: built-in styles (package data) and user styles in $RTSTYLE_HOME.

A style is one model file named after it: `<name>.safetensors` (rtstyle's format) or
`<name>.onnx` (an exported or imported graph, run as it is). A user style shadows a
built-in one of the same name.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import platformdirs

from rtstyle.errors import RtstyleError
from rtstyle.export.onnx import get_metadata, set_metadata
from rtstyle.export.tensorrt import ENGINE_SUFFIX, EngineFile
from rtstyle.files import atomic_output
from rtstyle.styles.importers import PUBLISHED, UNKNOWN_LICENCE, import_net
from rtstyle.styles.modelfile import FORMAT as MODEL_FORMAT
from rtstyle.styles.modelfile import read_meta, save_model

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "builtin"
SUFFIXES = (".safetensors", ".onnx")
ML5_URL = ("https://raw.githubusercontent.com/ml5js/ml5-data-and-models/main/models/"
           "style-transfer/{style}/{file}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Style:
    name: str
    path: Path
    origin: str  # "built-in", "user" or "file"
    meta: dict[str, Any]

    @property
    def is_onnx(self) -> bool:
        return self.path.suffix == ".onnx"

    @property
    def is_engine_file(self) -> bool:
        """A TensorRT engine exported by `rtstyle export --format tensorrt`."""
        return self.path.suffix == ENGINE_SUFFIX


def home() -> Path:
    """$RTSTYLE_HOME, else the platform's user data dir (e.g. ~/.local/share/rtstyle)."""
    return Path(os.environ.get("RTSTYLE_HOME") or platformdirs.user_data_dir("rtstyle"))


def user_dir() -> Path:
    return home() / "styles"


def read_style_meta(path: Path) -> dict[str, Any]:
    if path.suffix == ".onnx":
        try:
            return get_metadata(onnx.load(str(path), load_external_data=False))
        except Exception as e:  # onnx raises DecodeError and others for bad files
            raise RtstyleError(f"{path} is not a readable ONNX file ({type(e).__name__}); "
                               "re-export or re-import it") from e
    return read_meta(path)


def _scan(folder: Path, origin: str) -> dict[str, Style]:
    found = {}
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.suffix in SUFFIXES and not p.name.startswith("."):
                try:
                    meta = read_style_meta(p)
                except RtstyleError as e:
                    meta = {"error": str(e)}
                if p.suffix == ".safetensors" and meta.get("format", MODEL_FORMAT) != MODEL_FORMAT:
                    continue  # another rtstyle file kept alongside, e.g. the swap decoder
                found[p.stem] = Style(p.stem, p, origin, meta)
    return found


def list_styles() -> list[Style]:
    """All styles by name; user styles shadow built-in ones."""
    styles = {**_scan(BUILTIN_DIR, "built-in"), **_scan(user_dir(), "user")}
    return [styles[k] for k in sorted(styles)]


def find_style(name_or_path: str) -> Style:
    """A style by catalogue name, or a model file given by path (.safetensors, .onnx, or a
    TensorRT .engine from `rtstyle export --format tensorrt`)."""
    p = Path(name_or_path)
    if p.suffix == ENGINE_SUFFIX:
        if not p.is_file():
            raise RtstyleError(f"engine file {p} does not exist")
        return Style(p.stem, p, "file", EngineFile.read(p).header.get("style_meta", {}))
    if p.suffix in SUFFIXES and (p.exists() or os.sep in name_or_path):
        if not p.is_file():
            raise RtstyleError(f"model file {p} does not exist")
        return Style(p.stem, p, "file", read_style_meta(p))
    styles = {s.name: s for s in list_styles()}
    if name_or_path in styles:
        style = styles[name_or_path]
        if "error" in style.meta:
            raise RtstyleError(style.meta["error"])
        return style
    near = difflib.get_close_matches(name_or_path, list(styles), n=1, cutoff=0.5)
    hint = f"did you mean '{near[0]}'? " if near else ""
    raise RtstyleError(f"unknown style '{name_or_path}'; {hint}see `rtstyle styles list`, or "
                       "`rtstyle styles import`/`pull` to add one")


def _target(name: str, suffix: str) -> Path:
    if not _NAME.match(name):
        raise RtstyleError(f"style name '{name}' is not allowed; use letters, digits, '_', '-'")
    folder = user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for other in SUFFIXES:  # one file per name
        if other != suffix:
            (folder / f"{name}{other}").unlink(missing_ok=True)
    return folder / f"{name}{suffix}"


def import_style(path: Path, name: str | None = None, arch: str | None = None) -> Style:
    """Import an ml5 folder, a pytorch/examples .pth or an .onnx file as a user style."""
    path = Path(path)
    if not path.exists():
        raise RtstyleError(f"{path} does not exist; give an ml5 folder, a .pth or an .onnx file")
    name = name or (path.name if path.is_dir() else path.stem)
    if path.suffix == ".onnx":
        return _import_onnx(path, name)
    net, provenance = import_net(path, arch)
    target = _target(name, ".safetensors")
    save_model(target, net, {"style": name, **provenance})
    return Style(name, target, "user", read_meta(target))


def _import_onnx(path: Path, name: str) -> Style:
    """Check the graph, work out its input convention, and store it with metadata."""
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as e:
        raise RtstyleError(f"{path} is not a valid ONNX model ({type(e).__name__}); "
                           "re-export it") from e
    inputs = [i for i in proto.graph.input
              if i.name not in {t.name for t in proto.graph.initializer}]
    if len(inputs) != 1 or len(inputs[0].type.tensor_type.shape.dim) != 4:
        raise RtstyleError(f"{path} must have one 4-D image input; it has {len(inputs)} inputs")
    ttype = inputs[0].type.tensor_type
    dims = [d.dim_value or None for d in ttype.shape.dim]
    if ttype.elem_type == onnx.TensorProto.UINT8 and dims[3] == 3:
        io, fixed = "frames", dims[1:3]
    elif dims[1] == 3:  # pytorch/examples export: float RGB NCHW in 0..255
        io, fixed = "rgb255", dims[2:4]
    else:
        raise RtstyleError(f"{path}: input shape {dims} is neither NHWC uint8 frames nor "
                           "NCHW RGB; export it with `rtstyle export`")
    meta = get_metadata(proto)
    source, licence = PUBLISHED.get(name, (f"imported ONNX {path.name}", UNKNOWN_LICENCE))
    meta = {"style": name, "source": source, "licence": licence, "arch": "onnx",
            **meta, "onnx_io": io, "fixed_size": fixed if all(fixed) else None,
            "made_by": meta.get("made_by", {"imported_from": str(path.resolve())})}
    set_metadata(proto, meta)
    target = _target(name, ".onnx")
    with atomic_output(target) as tmp:
        onnx.save(proto, str(tmp))
    return Style(name, target, "user", meta)


def pull_style(name: str, timeout: float = 30.0) -> Style:
    """Download a published ml5 checkpoint and import it. Prints nothing; returns the style."""
    if name not in PUBLISHED:
        raise RtstyleError(f"'{name}' is not a published ml5 style; choose one of: "
                           + ", ".join(sorted(PUBLISHED)))
    with tempfile.TemporaryDirectory(prefix="rtstyle-pull-") as tmp:
        folder = Path(tmp) / name
        folder.mkdir()
        try:
            manifest = _fetch(ML5_URL.format(style=name, file="manifest.json"), timeout)
            (folder / "manifest.json").write_bytes(manifest)
            for entry in json.loads(manifest).values():
                data = _fetch(ML5_URL.format(style=name, file=entry["filename"]), timeout)
                (folder / entry["filename"]).write_bytes(data)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            reason = getattr(e, "reason", e)
            raise RtstyleError(
                f"cannot download '{name}' ({reason}); check your network, or download "
                f"{ML5_URL.format(style=name, file='')} elsewhere and run "
                "`rtstyle styles import FOLDER`") from e
        return import_style(folder, name)


def _fetch(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (fixed https host)
        return r.read()


def remove_style(name: str) -> Path:
    for suffix in SUFFIXES:
        p = user_dir() / f"{name}{suffix}"
        if p.exists():
            p.unlink()
            return p
    raise RtstyleError(f"no user style '{name}'; built-in styles cannot be removed")


def copy_into_catalogue(model_file: Path, name: str) -> Path:
    """Register an rtstyle model file (e.g. a training result) as a user style."""
    target = _target(name, model_file.suffix)
    with atomic_output(target) as tmp:
        shutil.copyfile(model_file, tmp)
    return target
