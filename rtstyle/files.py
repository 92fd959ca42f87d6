"""Safe output files: write to a temporary sibling and rename into place.

An interrupted or failed run therefore never leaves a broken file under the name
the user asked for, and an existing file there survives until the new one is whole.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from rtstyle.errors import RtstyleError

# Read once, at import: reading the umask means setting it, which would briefly change it
# for every thread of a running pipeline (screenshots are written while frames flow).
_UMASK = os.umask(0)
os.umask(_UMASK)


def check_writable(path: Path) -> None:
    """Fail early, before any work, if `path` cannot be created as a regular file.

    An existing output must be a regular file: renaming over a device, FIFO or socket would
    replace it (as root, `-o /dev/full` would replace /dev/full), and a folder is never meant.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # follows links: a link to a device is a device
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise RtstyleError(f"cannot use {path} as output ({e.strerror or e}); "
                           "choose another output") from e
    if mode is not None and stat.S_ISDIR(mode):
        raise RtstyleError(f"output {path} is a folder; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        raise RtstyleError(f"output {path} exists and is not a regular file (a device, FIFO "
                           "or socket); give a new or regular file name")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise RtstyleError(f"output folder {parent} does not exist; create it or choose another")
    if not os.access(parent, os.W_OK):
        raise RtstyleError(f"cannot write to {parent} (permission denied); choose another output")


_PARTIAL = ".partial"


def stale_partials(path: Path) -> list[Path]:
    """The temporary files `atomic_output(path)` runs left behind when they were killed
    (SIGKILL, power loss). Only safe to delete while no other writer of `path` can run."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.stem)}\.[0-9a-f]{{8}}"
                         rf"{re.escape(_PARTIAL + path.suffix)}")
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir() if pattern.fullmatch(p.name))


def ensure_dir(folder: Path, what: str = "folder") -> Path:
    """Create `folder` (and parents), or fail in one line saying why (read-only, a file...)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RtstyleError(f"cannot create {what} {folder} ({e.strerror or e}); check its "
                           "permissions or point RTSTYLE_HOME elsewhere") from e
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RtstyleError(f"cannot write to {what} {folder} (permission denied); check its "
                           "permissions or point RTSTYLE_HOME elsewhere")
    return folder


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it to `path` only if the block succeeds.

    The temporary name keeps the suffix, so tools that pick a format by extension work.
    """
    path = Path(path)
    check_writable(path)
    tmp_path = None
    try:
        folder = path.resolve().parent
        while tmp_path is None:
            candidate = folder / f".{path.stem}.{secrets.token_hex(4)}{_PARTIAL}{path.suffix}"
            try:  # O_EXCL: never reuse or follow an existing name; 0600 until finished
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                tmp_path = candidate
            except FileExistsError:
                continue
        yield tmp_path
        # The temporary file is private (0600); give it the mode a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    except OSError as e:
        raise RtstyleError(f"could not write {path}: {e.strerror or e}; "
                           "check free space and permissions") from e
    finally:
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
