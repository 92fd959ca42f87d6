"""Drive `rtstyle serve` with real Chromium pages and record what they show.

Run inside a network namespace that has only loopback (the tests and the figures script
start it with `unshare -rn`), so neither the browser nor the server has any address but
127.0.0.1 to put in an ICE candidate. It records (frames as PNGs, stats as JSON); the
callers judge. Two modes:

  scenario: one page, switch style, upload a painting, a second page, a third beyond
            --max-clients, the first leaves;
  clients N: N pages at once for S seconds: received FPS (getStats), server latency;
  settings: one page (over HTTPS with --https): the mirror and keep-colours settings.
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from serve_helpers import http, running_server

from rtstyle.metrics import psnr

CHROMIUM = "/usr/bin/chromium"


def in_loopback_namespace(argv: list[str], script: str = __file__) -> subprocess.CompletedProcess:
    """Run this driver (or another `script`) with `argv` in a new user+network namespace
    whose only interface is loopback (brought up first)."""
    cmd = " ".join(["ip link set lo up && exec", sys.executable, str(Path(script).resolve()),
                    *(shlex.quote(a) for a in argv)])
    return subprocess.run(["unshare", "-rn", "sh", "-c", cmd], capture_output=True, text=True,
                          timeout=900)


def grab(page, path: Path) -> None:
    url = page.evaluate("window.rtstyle.grab()")
    path.write_bytes(base64.b64decode(url.split(",", 1)[1]))
    # What the server said it showed at that moment, for the test's messages.
    SHOWN[path.name] = page.evaluate(STATE_JS)


def _pixels(page) -> np.ndarray:
    url = page.evaluate("window.rtstyle.grab()")
    data = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


SHOWN: dict = {}


def wait_showing(page, key: str, timeout: float = 120, settle: int = 10) -> None:
    """Until the server stylises with `key` and `settle` more frames have been decoded by
    the page since then, so whatever was already in flight (encoder, network, jitter
    buffer) has been replaced by frames of `key`. Reads both live, not the page's
    once-a-second overlay state."""
    deadline, s = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        s = page.evaluate(STATE_JS)
        if s and s["showing"] == key and s["frames_out"] > 0:
            first = page.evaluate(FRAMES_JS)
            while page.evaluate(FRAMES_JS) < first + settle:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{key}: fewer than {settle} frames in {timeout} s")
                time.sleep(0.3)
            # The codec may still be converging after a big change of picture: wait
            # until two grabs a few frames apart agree (a frozen page fails below).
            before = _pixels(page)
            while time.monotonic() < deadline:
                n = page.evaluate(FRAMES_JS)
                while page.evaluate(FRAMES_JS) < n + 3 and time.monotonic() < deadline:
                    time.sleep(0.3)
                now = _pixels(page)
                if psnr(now, before) >= 35:
                    return
                before = now
            raise RuntimeError(f"{key}: the picture never settled in {timeout} s")
        time.sleep(0.3)
    raise RuntimeError(f"page never showed {key}; last state {s}")


# The page sets window.rtstyle only after its module imports, which can be after
# page.goto returns: until then there is no state yet (null), not an error.
STATE_JS = """async () => {
    const id = window.rtstyle && window.rtstyle.state.id;
    return id ? (await fetch('/api/clients/' + id)).json() : null;
}"""

PAIR_JS = """async () => {
    const stats = await window.rtstyle.state.pc.getStats();
    let pair = null;
    stats.forEach((s) => {
        if (s.type === "transport") pair = stats.get(s.selectedCandidatePairId);
    });
    return [stats.get(pair.localCandidateId).address, stats.get(pair.remoteCandidateId).address];
}"""

FRAMES_JS = """async () => {
    const stats = await window.rtstyle.state.pc.getStats();
    let n = null;
    stats.forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") n = s.framesDecoded;
    });
    return n || 0;
}"""


def scenario(browser, url: str, out: Path, upload: str) -> dict:
    r: dict = {"shown": SHOWN}
    page = browser.new_page()
    page.goto(url)
    wait_showing(page, "style:udnie-lite")
    grab(page, out / "first.png")
    r["pair1"] = page.evaluate(PAIR_JS)

    page.select_option("#style", "style:great_wave-lite")
    wait_showing(page, "style:great_wave-lite")
    grab(page, out / "switched.png")

    page.set_input_files("#painting", upload)
    page.wait_for_function("document.querySelector('#style').value.startsWith('upload:')")
    r["upload_key"] = key = page.eval_on_selector("#style", "s => s.value")
    wait_showing(page, key, timeout=240)
    grab(page, out / "uploaded.png")
    page.screenshot(path=str(out / "page.png"))
    r["status_upload"] = http("GET", url + "api/status")[1]
    # Meanwhile a real-time net trains for it (--instant); the page says how far, then
    # the server switches the page to the net.
    page.wait_for_function("document.querySelector('#instant').textContent.includes('%')")
    r["instant_progress"] = page.inner_text("#instant")
    page.screenshot(path=str(out / "page_training.png"))
    instant = f"style:{Path(upload).stem}-instant"
    wait_showing(page, instant, timeout=300)
    grab(page, out / "instant.png")
    r["instant_menu"] = page.eval_on_selector("#style", "s => s.value")
    r["instant_label"] = page.inner_text("#instant")
    page.select_option("#style", "style:udnie-lite")  # style-swap is slow: back to a lite net
    wait_showing(page, "style:udnie-lite")
    r["status_back"] = http("GET", url + "api/status")[1]

    page2 = browser.new_page()
    page2.goto(url)
    wait_showing(page2, "style:udnie-lite")
    before = [pg.evaluate(FRAMES_JS) for pg in (page, page2)]
    time.sleep(6)
    after = [pg.evaluate(FRAMES_JS) for pg in (page, page2)]
    r["frames_in_6s"] = [a - b for a, b in zip(after, before, strict=True)]
    grab(page2, out / "second.png")
    r["pair2"] = page2.evaluate(PAIR_JS)

    page3 = browser.new_page()
    page3.goto(url)
    page3.wait_for_selector("#message:not([hidden])", timeout=60_000)
    r["third_message"] = page3.inner_text("#message")
    page3.close()

    r["status_two"] = http("GET", url + "api/status")[1]
    page.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r["status_after_leave"] = http("GET", url + "api/status")[1]
        if r["status_after_leave"]["clients"] == 1:
            break
        time.sleep(0.3)
    return r


SETTINGS_JS = """async (body) => {
    const r = await fetch('/api/clients/' + window.rtstyle.state.id + '/settings',
        {method: 'POST', headers: {'Content-Type': 'application/json'},
         body: JSON.stringify(body)});
    return r.json();
}"""


def settings(browser, url: str, out: Path) -> dict:
    """The page plays; then mirror, then keep-colours too, as the page's toggles POST them."""
    page = browser.new_page()
    page.goto(url)
    r: dict = {"shown": SHOWN, "url": page.url}
    wait_showing(page, "style:udnie-lite")
    grab(page, out / "first.png")
    for name, body in (("mirror", {"mirror": True}), ("keep", {"keep_colours": True})):
        r[name] = page.evaluate(SETTINGS_JS, body)
        wait_showing(page, "style:udnie-lite")
        grab(page, out / f"{name}.png")
    page.wait_for_timeout(1500)  # the overlay refreshes once a second
    page.screenshot(path=str(out / "page.png"))
    r["overlay"] = page.inner_text("#overlay")
    r["favicon"] = page.evaluate("fetch('/favicon.ico').then(r => [r.status, "
                                 "r.headers.get('content-type')])")
    return r


def clients(browser, url: str, n: int, seconds: float) -> dict:
    pages = []
    for _ in range(n):
        page = browser.new_page()
        page.goto(url)
        pages.append(page)
    for page in pages:
        wait_showing(page, "style:udnie-lite")
    before = [p.evaluate(FRAMES_JS) for p in pages]
    t0 = time.monotonic()
    time.sleep(seconds)
    after = [p.evaluate(FRAMES_JS) for p in pages]
    dt = time.monotonic() - t0
    servers = [p.evaluate("window.rtstyle.state.server") for p in pages]
    size = pages[0].evaluate("[document.querySelector('video').videoWidth, "
                             "document.querySelector('video').videoHeight]")
    pages[0].screenshot(path=str(Path(OUT) / f"clients-{n}.png"))
    return {"clients": n, "seconds": round(dt, 1), "size": size,
            "fps": [round((a - b) / dt, 1) for a, b in zip(after, before, strict=True)],
            "server": servers}


OUT = "."


def main() -> None:
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--y4m", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cwd", required=True)
    ap.add_argument("--upload", default=None)
    ap.add_argument("--clients", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--settings", action="store_true")
    ap.add_argument("--https", action="store_true",
                    help="serve over HTTPS (self-signed): the browser accepts the certificate")
    ap.add_argument("serve_args", nargs="*")
    a = ap.parse_args()
    OUT = a.out
    from playwright.sync_api import sync_playwright

    flags = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             f"--use-file-for-fake-video-capture={a.y4m}", "--allow-loopback-in-peer-connection"]
    serve_args = a.serve_args
    if a.https:
        flags.append("--ignore-certificate-errors")
        serve_args = ["--https", *serve_args]
    with running_server(*serve_args, cwd=Path(a.cwd)) as (url, log), \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            if a.clients:
                result = clients(browser, url, a.clients, a.seconds)
            elif a.settings:
                result = settings(browser, url, Path(a.out))
            else:
                result = scenario(browser, url, Path(a.out), a.upload)
        finally:
            browser.close()
    (Path(a.out) / "result.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
