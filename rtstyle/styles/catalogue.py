"""The style catalogue: built-in styles (package data) and user styles in $RTSTYLE_HOME.

A style is one model file named after it: `<name>.safetensors` (rtstyle's format) or
`<name>.onnx` (an exported or imported graph, run as it is). A user style shadows a
built-in one of the same name.
"""

from __future__ import annotations

import atexit
import contextlib
import difflib
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock
import onnx
import platformdirs

from rtstyle.errors import RtstyleError
from rtstyle.export.onnx import get_metadata, set_metadata
from rtstyle.export.tensorrt import ENGINE_SUFFIX, EngineFile
from rtstyle.files import atomic_output, ensure_dir, stale_partials
from rtstyle.limits import check_size
from rtstyle.nets import make_config
from rtstyle.styles.importers import (
    PUBLISHED,
    UNKNOWN_LICENCE,
    import_net,
    manifest_path,
    parse_manifest,
)
from rtstyle.styles.modelfile import FORMAT as MODEL_FORMAT
from rtstyle.styles.modelfile import read_meta, weights_bytes

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "builtin"
SUFFIXES = (".safetensors", ".onnx")
ML5_URL = ("https://raw.githubusercontent.com/ml5js/ml5-data-and-models/main/models/"
           "style-transfer/{style}/{file}")
# A git folder cannot be downloaded from a raw URL; a sparse clone fetches just one style.
ML5_SPARSE_CLONE = ("git clone --depth 1 --filter=blob:none --sparse "
                    "https://github.com/ml5js/ml5-data-and-models && git -C "
                    "ml5-data-and-models sparse-checkout set models/style-transfer/{style}")
# Names that look like a file, not a catalogue name: a missing one is a missing file.
MODEL_LIKE_SUFFIXES = (*SUFFIXES, ".pth", ".pt", ".t7", ".ckpt", ".bin", ".json")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # used with fullmatch: no "$\\n" hole
MAX_NAME = 64
LOCK_TIMEOUT_S = 120.0
ONNX_IO = ("frames", "rgb255")


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


def check_name(name: str) -> str:
    """The one check of a style name from outside (--name, -o, remove): a plain file name
    of letters, digits, '_', '-', '.', starting with a letter or digit, at most MAX_NAME
    characters, so every catalogue operation stays inside the catalogue folder."""
    shown = repr(name[:40]) + ("..." if len(name) > 40 else "")
    if not _NAME.fullmatch(name):
        raise RtstyleError(f"style name {shown} is not allowed; use letters, digits, '_', "
                           "'-' and '.', starting with a letter or digit")
    if len(name) > MAX_NAME:
        raise RtstyleError(f"style name {shown} is {len(name)} characters long; use at "
                           f"most {MAX_NAME}")
    return name


_fallback_cache: Path | None = None


def cache_dir(kind: str) -> Path:
    """home()/cache/<kind>, created. Caches only save time, so when that folder cannot be
    written (a read-only $RTSTYLE_HOME) this run caches in a private temp folder instead,
    removed at exit, and says so once."""
    global _fallback_cache
    try:
        return ensure_dir(home() / "cache" / kind, "cache folder")
    except RtstyleError as e:
        if _fallback_cache is None:
            _fallback_cache = Path(tempfile.mkdtemp(prefix="rtstyle-cache-"))
            atexit.register(shutil.rmtree, _fallback_cache, ignore_errors=True)
            print(f"rtstyle: note: {e}; caching in a temporary folder for this run",
                  file=sys.stderr)
        return ensure_dir(_fallback_cache / kind, "cache folder")


def declared_input(proto: onnx.ModelProto, path: Path) -> tuple[str, list[int | None]]:
    """The graph's input convention and [height, width] (None where dynamic), refused when
    it is no image input or a fixed size outside the frame bounds: every frame is resized
    to a fixed size, so 100000x100000 would ask any backend for 30 GB."""
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
    if all(fixed):
        check_size(fixed[1], fixed[0], f"declared input of {path.name}")
    return io, fixed


def read_style_meta(path: Path) -> dict[str, Any]:
    """A model file's metadata, checked: ONNX claims (input layout, fixed size) too, and for
    a graph given as a file, what its declared input says, on every backend alike."""
    if path.suffix != ".onnx":
        return read_meta(path)
    try:
        proto = onnx.load(str(path), load_external_data=False)
        meta = get_metadata(proto)
    except Exception as e:  # onnx raises DecodeError and others for bad files
        raise RtstyleError(f"{path} is not a readable ONNX file ({type(e).__name__}); "
                           "re-export or re-import it") from e
    if isinstance(meta, dict) and meta.get("format", MODEL_FORMAT) != MODEL_FORMAT:
        return meta  # another rtstyle graph kept alongside (the swap graph): not a style
    if isinstance(meta, dict) and "onnx_io" not in meta:  # not imported: read the graph
        io, fixed = declared_input(proto, path)
        meta = {"onnx_io": io, "fixed_size": fixed if all(fixed) else None, **meta}
    if not isinstance(meta, dict):
        raise RtstyleError(f"{path} has rtstyle metadata that is not a JSON object; "
                           "re-export or re-import it")
    if meta.get("onnx_io", "frames") not in ONNX_IO:
        raise RtstyleError(f"{path} claims an unknown input layout "
                           f"{str(meta.get('onnx_io'))[:20]!r}; re-import it")
    fixed = meta.get("fixed_size")
    if fixed is not None:
        if not (isinstance(fixed, list) and len(fixed) == 2
                and all(type(d) is int for d in fixed)):
            raise RtstyleError(f"{path} claims a fixed size {str(fixed)[:40]!r} that is not "
                               "[height, width]; re-export or re-import it")
        check_size(fixed[1], fixed[0], f"fixed size of {path.name}")
    return meta


def _scan(folder: Path, origin: str) -> dict[str, Style]:
    found = {}
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.suffix in SUFFIXES and not p.name.startswith("."):
                try:
                    meta = read_style_meta(p)
                except RtstyleError as e:
                    meta = {"error": str(e)}
                if meta.get("format", MODEL_FORMAT) != MODEL_FORMAT:
                    continue  # another rtstyle file kept alongside, e.g. the swap decoder
                if meta.get("arch") == "sr":
                    continue  # the upscaler ships here too but is not a style
                found[p.stem] = Style(p.stem, p, origin, meta)
    return found


def shadows_builtin(name: str) -> bool:
    """True when a user style of this name hides a built-in one (allowed, and said)."""
    return any((BUILTIN_DIR / f"{name}{suffix}").is_file() for suffix in SUFFIXES)


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
            raise RtstyleError(f"model file {p} does not exist; check the path")
        return Style(p.stem, p, "file", read_style_meta(p))
    styles = {s.name: s for s in list_styles()}
    if name_or_path in styles:
        style = styles[name_or_path]
        if "error" in style.meta:
            raise RtstyleError(style.meta["error"])
        return style
    if _looks_like_file(name_or_path):
        raise _not_a_model_file(p)
    near = difflib.get_close_matches(name_or_path, list(styles), n=1, cutoff=0.5)
    hint = f"did you mean '{near[0]}'? " if near else ""
    raise RtstyleError(f"unknown style {name_or_path!r}; {hint}see `rtstyle styles list`, or "
                       "`rtstyle styles import`/`pull` to add one")


def _looks_like_file(text: str) -> bool:
    """A path or model file name (a slash, or a model file's suffix), not a style name."""
    return "/" in text or os.sep in text or Path(text).suffix.lower() in MODEL_LIKE_SUFFIXES


def _not_a_model_file(p: Path) -> RtstyleError:
    if not p.exists():
        return RtstyleError(f"model file {p} does not exist (looked in {Path.cwd()}); check "
                            "the path, or see `rtstyle styles list` for style names")
    if p.is_dir():
        return RtstyleError(f"{p} is a folder; import an ml5 checkpoint folder first with "
                            f"`rtstyle styles import {p}`")
    return RtstyleError(f"{p} is not a model file rtstyle runs directly (.safetensors, .onnx, "
                        f".engine); import it first with `rtstyle styles import {p}`")


@contextlib.contextmanager
def _locked(name: str) -> Iterator[Path]:
    """Hold the name's lock (one writer or remover per style name at a time) and yield the
    catalogue folder. Temp files a killed writer of this name left behind are removed here:
    while the lock is held no live writer of the name can own one."""
    folder = ensure_dir(user_dir(), "style folder")
    lock = filelock.FileLock(ensure_dir(folder / ".locks", "lock folder") / f"{name}.lock")
    try:
        lock.acquire(timeout=LOCK_TIMEOUT_S)
    except filelock.Timeout:
        raise RtstyleError(f"style '{name}' is being imported or removed by another rtstyle "
                           f"for over {LOCK_TIMEOUT_S:g} s; try again when it is done") from None
    except OSError as e:
        raise RtstyleError(f"cannot lock style '{name}' in {folder} ({e.strerror or e}); "
                           "check its permissions") from e
    try:
        _remove_stale(folder, name)
        for other in {m.group(1) for p in folder.iterdir() if (m := _PARTIAL.fullmatch(p.name))}:
            if other != name and _NAME.fullmatch(other):  # another name: only if it is idle
                other_lock = filelock.FileLock(folder / ".locks" / f"{other}.lock")
                with contextlib.suppress(filelock.Timeout, OSError), other_lock.acquire(timeout=0):
                    _remove_stale(folder, other)
        yield folder
    finally:
        lock.release()


_PARTIAL = re.compile(r"\.(.+)\.[0-9a-f]{8}\.partial(?:\.safetensors|\.onnx)")


def _remove_stale(folder: Path, name: str) -> None:
    for suffix in SUFFIXES:
        for stale in stale_partials(folder / f"{name}{suffix}"):
            stale.unlink(missing_ok=True)


def _store(name: str, suffix: str, write: Callable[[Path], None]) -> Path:
    """Write the style file `<name><suffix>` through `write(tmp_path)`, under the name's lock:
    the new file appears whole, then the name's other kind of file goes (one file per name)."""
    check_name(name)
    with _locked(name) as folder:
        target = folder / f"{name}{suffix}"
        with atomic_output(target) as tmp:
            write(tmp)
        for other in SUFFIXES:
            if other != suffix:
                try:
                    (folder / f"{name}{other}").unlink(missing_ok=True)
                except OSError as e:
                    raise RtstyleError(f"cannot replace {folder / (name + other)} "
                                       f"({e.strerror or e}); remove it by hand") from e
    return target


def import_style(path: Path, name: str | None = None, arch: str | None = None) -> Style:
    """Import an ml5 folder, a pytorch/examples .pth or an .onnx file as a user style."""
    path = Path(path)
    if not path.exists():
        raise RtstyleError(f"{path} does not exist; give an ml5 folder, a .pth or an .onnx file")
    # An empty --name is refused by check_name, not replaced by the file's name.
    name = check_name(name if name is not None else (path.name if path.is_dir() else path.stem))
    if path.suffix == ".onnx":
        return _import_onnx(path, name)
    arch, state, provenance = import_net(path, arch)
    options = make_config(arch).options()  # every option written out, as training does
    data = weights_bytes(arch, options, state, {"style": name, **provenance})
    target = _store(name, ".safetensors", lambda tmp: tmp.write_bytes(data))
    return Style(name, target, "user", read_meta(target))


def _import_onnx(path: Path, name: str) -> Style:
    """Check the graph, work out its input convention, and store it with metadata."""
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as e:
        raise RtstyleError(f"{path} is not a valid ONNX model ({type(e).__name__}); "
                           "re-export it") from e
    io, fixed = declared_input(proto, path)
    try:
        meta = get_metadata(proto)
    except ValueError as e:
        raise RtstyleError(f"{path} has rtstyle metadata that is not JSON ({e}); re-export "
                           "it") from e
    if not isinstance(meta, dict):
        raise RtstyleError(f"{path} has rtstyle metadata that is not a JSON object; re-export it")
    source, licence = PUBLISHED.get(name, (f"imported ONNX {path.name}", UNKNOWN_LICENCE))
    meta = {"style": name, "source": source, "licence": licence, "arch": "onnx",
            **meta, "onnx_io": io, "fixed_size": fixed if all(fixed) else None,
            "made_by": meta.get("made_by", {"imported_from": str(path.resolve())})}
    set_metadata(proto, meta)
    target = _store(name, ".onnx", lambda tmp: onnx.save(proto, str(tmp)))
    return Style(name, target, "user", read_style_meta(target))


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
            for entry in parse_manifest(manifest, "the downloaded manifest.json").values():
                target = manifest_path(folder, entry["filename"])  # never outside the folder
                data = _fetch(ML5_URL.format(style=name, file=entry["filename"]), timeout)
                target.write_bytes(data)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            reason = getattr(e, "reason", e)
            raise RtstyleError(
                f"cannot download '{name}' ({reason}); check your network, or on a machine "
                f"online run `{ML5_SPARSE_CLONE.format(style=name)}`, copy the folder "
                f"ml5-data-and-models/models/style-transfer/{name} here and run "
                f"`rtstyle styles import {name}`") from e
        return import_style(folder, name)


def _fetch(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (fixed https host)
        return r.read()


def remove_style(name: str) -> Path:
    """Delete a user style's file: a catalogue name only, never a path."""
    check_name(name)
    if not any((user_dir() / f"{name}{s}").is_file() for s in SUFFIXES):
        raise RtstyleError(f"no user style '{name}'; built-in styles cannot be removed")
    with _locked(name) as folder:
        for suffix in SUFFIXES:
            p = folder / f"{name}{suffix}"
            if p.is_file():
                try:
                    p.unlink()
                except OSError as e:
                    raise RtstyleError(f"cannot remove {p} ({e.strerror or e}); check the "
                                       "permissions of its folder") from e
                return p
    raise RtstyleError(f"no user style '{name}'; it was removed meanwhile")


def check_catalogue_writable(name: str) -> Path:
    """Fail now, before slow work (training), if style `name` could not be stored later."""
    check_name(name)
    folder = ensure_dir(user_dir(), "style folder")
    ensure_dir(folder / ".locks", "lock folder")
    return folder


def copy_into_catalogue(model_file: Path, name: str) -> Path:
    """Register an rtstyle model file (e.g. a training result) as a user style."""
    return _store(name, model_file.suffix, lambda tmp: shutil.copyfile(model_file, tmp))
