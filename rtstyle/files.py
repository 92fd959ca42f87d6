"""Safe output files: write to a temporary sibling and rename into place.

An interrupted or failed run therefore never leaves a broken file under the name
the user asked for, and an existing file there survives until the new one is whole.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from rtstyle.errors import RtstyleError

# Read once, at import: reading the umask means setting it, which would briefly change it
# for every thread of a running pipeline (screenshots are written while frames flow).
_UMASK = os.umask(0)
os.umask(_UMASK)


def check_writable(path: Path) -> None:
    """Fail early, before any work, if `path` cannot be created."""
    parent = path.resolve().parent
    if path.is_dir():
        raise RtstyleError(f"output {path} is a folder; give a file name")
    if not parent.is_dir():
        raise RtstyleError(f"output folder {parent} does not exist; create it or choose another")
    if not os.access(parent, os.W_OK):
        raise RtstyleError(f"cannot write to {parent} (permission denied); choose another output")


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it to `path` only if the block succeeds.

    The temporary name keeps the suffix, so tools that pick a format by extension work.
    """
    path = Path(path)
    check_writable(path)
    tmp_path = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}",
                                   dir=path.resolve().parent)
        os.close(fd)
        tmp_path = Path(tmp)
        yield tmp_path
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
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
