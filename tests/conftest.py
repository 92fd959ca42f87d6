"""Shared fixtures: where the assets are, a private $RTSTYLE_HOME, and the CLI as users run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("RTSTYLE_ASSETS", ROOT.parent / "shared" / "assets"))


def asset(rel: str) -> Path:
    """Path to an asset, skipping the test (with the reason) when it is absent."""
    p = ASSETS / rel
    if not p.exists():
        pytest.skip(f"asset {rel} not found under {ASSETS} (set RTSTYLE_ASSETS)")
    return p


@pytest.fixture(autouse=True)
def rtstyle_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets an empty user catalogue, so results never depend on the machine."""
    home = tmp_path_factory.mktemp("rtstyle-home")
    monkeypatch.setenv("RTSTYLE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def udnie_home(tmp_path_factory) -> Path:
    """A catalogue holding the imported ml5 udnie (shared; import once per session)."""
    src = asset("styles-ml5/udnie")
    home = tmp_path_factory.mktemp("udnie-home")
    r = cli("styles", "import", str(src), env={"RTSTYLE_HOME": str(home)})
    assert r.returncode == 0, r.stderr
    return home


def cli(*args: str, env: dict | None = None, timeout: float = 600,
        **kw) -> subprocess.CompletedProcess:
    """Run `python -m rtstyle ARGS` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "rtstyle", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout, **kw)


def loopback_namespace_problem() -> str | None:
    """Why a network namespace with only loopback cannot be made here (None: it can).
    Tests whose traffic a program would otherwise send over this machine's real
    interfaces (Chromium's ICE, Ray's node address) run inside one."""
    r = subprocess.run(["unshare", "-rn", "sh", "-c", "ip link set lo up"],
                       capture_output=True, text=True)
    if r.returncode == 0:
        return None
    return r.stderr.strip() or f"exit {r.returncode}"


@pytest.fixture()
def photo(tmp_path):
    """A small noisy photo (PNG): enough structure for a net, tiny enough to be fast."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    img = cv2.resize(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), (80, 60))
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), img)
    return path
