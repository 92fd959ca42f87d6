"""Running `rtstyle serve` as users do (a subprocess) for the serve tests."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def running_server(*args: str, cwd: Path, timeout: float = 120) -> Iterator[tuple[str, Path]]:
    """Start `python -m rtstyle serve --port 0 ARGS`; yield (base URL, stderr log path)."""
    log = cwd.parent / f"{cwd.name}-serve-stderr.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "rtstyle", "serve", "--port", "0", *args],
                                stdout=subprocess.PIPE, stderr=err, text=True, cwd=cwd,
                                env={**os.environ})
    try:
        url, deadline = None, time.monotonic() + timeout
        while url is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start: {log.read_text()[-3000:]}")
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                if line.startswith("rtstyle serve: open "):
                    url = line.split()[3].split("?")[0]
        yield url, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def http(method: str, url: str, body: bytes | dict | list | None = None,
         headers: dict | None = None, timeout: float = 30,
         context: ssl.SSLContext | None = None) -> tuple[int, dict]:
    """(status, JSON body) of one request; 4xx/5xx are returned, not raised. `context`:
    the TLS context for an https URL (e.g. one that accepts a self-signed certificate)."""
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")}
