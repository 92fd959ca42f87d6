"""ONNX Runtime Web for the on-device page: fetched from npm at a pinned version, never in git.

`rtstyle serve --fetch-web-runtime` runs `npm pack onnxruntime-web@VERSION` (npm checks
the registry's signature; we check the tarball against the sha512 pinned here as well)
and unpacks only the files the page can load: the WASM build (used where the browser
has no WebGPU adapter) and the WebGPU build, each a loader, its Emscripten module and
its .wasm. The server serves nothing else from the package.

Where it goes: `--web-runtime DIR` if given, else the package's own `serve/web-runtime/`
folder (a checkout: the repo, git-ignored) when that can be written, else
$RTSTYLE_HOME/web-runtime. The server looks in the same places.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from rtstyle.errors import RtstyleError
from rtstyle.files import atomic_output
from rtstyle.styles.catalogue import home

PACKAGE = "onnxruntime-web"
VERSION = "1.31.1"
INTEGRITY = ("sha512-5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7Nm"
             "uZPXrQ73k82URw==")
# backend -> (loader, Emscripten module, wasm binary), all under the package's dist/.
BUILDS = {
    "wasm": ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"),
    "webgpu": ("ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs",
               "ort-wasm-simd-threaded.asyncify.wasm"),
}
FILES = frozenset(f for build in BUILDS.values() for f in build)
PACKAGE_DIR = Path(__file__).resolve().parent / "web-runtime"
FOLDER = f"{PACKAGE}-{VERSION}"


def candidates() -> list[Path]:
    return [PACKAGE_DIR / FOLDER, home() / "web-runtime" / FOLDER]


def locate(override: Path | None = None) -> Path | None:
    """The folder holding the runtime's files, or None when it was never fetched."""
    if override is not None:
        missing = [f for f in sorted(FILES) if not (Path(override) / f).is_file()]
        if missing:
            raise RtstyleError(f"--web-runtime {override} lacks {missing[0]}; give the dist/ "
                               f"folder of {PACKAGE} {VERSION}, or use --fetch-web-runtime")
        return Path(override)
    return next((d for d in candidates() if all((d / f).is_file() for f in FILES)), None)


def _check_integrity(tgz: Path) -> None:
    digest = base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != INTEGRITY:
        raise RtstyleError(f"{tgz.name} does not match the pinned sha512 of {PACKAGE} "
                           f"{VERSION}; refusing to serve it")


def _writable_target(override: Path | None) -> Path:
    for folder in ([Path(override)] if override else candidates()):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".write-test"
            probe.touch()
            probe.unlink()
            return folder
        except OSError:
            continue
    raise RtstyleError("no folder to put the browser runtime in can be written; give "
                       "--web-runtime DIR")


def fetch(override: Path | None = None, npm: str = "npm") -> Path:
    """`npm pack` the pinned package, check it, unpack the served files; returns the folder.
    A folder that already holds them is kept as it is (so running this twice is cheap)."""
    done = next((d for d in ([Path(override)] if override else candidates())
                 if all((d / f).is_file() for f in FILES)), None)
    if done is not None:
        return done
    if shutil.which(npm) is None:
        raise RtstyleError(f"npm is not installed; install Node.js (e.g. apt-get install npm) "
                           f"and run again, or unpack {PACKAGE} {VERSION}'s dist/ folder "
                           "yourself and pass --web-runtime DIR")
    target = _writable_target(override)
    with tempfile.TemporaryDirectory(prefix="rtstyle-npm-") as tmp:
        r = subprocess.run([npm, "pack", f"{PACKAGE}@{VERSION}", "--silent",
                            "--pack-destination", tmp], capture_output=True, text=True,
                           timeout=600)
        tgz = Path(tmp) / f"{PACKAGE}-{VERSION}.tgz"
        if r.returncode != 0 or not tgz.is_file():
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise RtstyleError(f"npm pack {PACKAGE}@{VERSION} failed ({last}); check the "
                               "network, or pass --web-runtime DIR")
        _check_integrity(tgz)
        with tarfile.open(tgz) as tar:
            for name in sorted(FILES):  # named members only: nothing else is unpacked
                src = tar.extractfile(f"package/dist/{name}")
                with atomic_output(target / name) as part, open(part, "wb") as out:
                    shutil.copyfileobj(src, out)
    return target
