"""Drive the serve page's on-device mode (and its gallery) in real Chromium, recording what
it shows; the callers judge. Run in a loopback-only network namespace, like
serve_browser_driver.py (`in_loopback_namespace(argv, script=__file__)`).

For each --precision given (in turn, repeated --rounds times, so the figures interleave):
open /?on=device&precision=P, wait for --warmup frames, count frames for --seconds, grab
the canvas. Every page counts RTCPeerConnection constructions and records each request's
method and path. Then the server-mode page's gallery, and screenshots at --sizes.
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from pathlib import Path

from serve_browser_driver import CHROMIUM
from serve_helpers import http, running_server

# Count peer connections before any page script runs.
COUNT_PCS = """(() => {
  window.__pcs = 0;
  const Real = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...a) { window.__pcs += 1; return new Real(...a); };
})();"""

STATE_JS = """() => ({...window.rtstyle.state, isolated: crossOriginIsolated, pcs: window.__pcs,
                      pc: undefined})"""


def frames(page) -> int:
    return page.evaluate("() => (window.rtstyle && window.rtstyle.state.frames) || 0")


def device_run(browser, url: str, precision: str, out: Path, warmup: int,
               seconds: float, tag: str) -> dict:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.add_init_script(COUNT_PCS)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url.split('?')[0]}"))
    page.goto(f"{url}?on=device&precision={precision}")
    deadline = time.monotonic() + 300
    while frames(page) < warmup:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{precision}: fewer than {warmup} frames in 300 s; "
                               f"page says {page.inner_text('#message')!r}")
        time.sleep(0.5)
    n0, t0 = frames(page), time.monotonic()
    time.sleep(seconds)
    n1, t1 = frames(page), time.monotonic()
    data = page.evaluate("window.rtstyle.grab()")
    (out / f"device-{tag}.png").write_bytes(base64.b64decode(data.split(",", 1)[1]))
    r = {"precision": precision, "fps": round((n1 - n0) / (t1 - t0), 2),
         "state": page.evaluate(STATE_JS), "overlay": page.inner_text("#overlay"),
         "status_text": page.inner_text("#status"), "requests": requests}
    page.screenshot(path=str(out / f"page-device-{tag}.png"))
    page.close()
    return r


def gallery(browser, url: str, out: Path, sizes: list[tuple[int, int]]) -> dict:
    r = {}
    for w, h in sizes:
        page = browser.new_page(viewport={"width": w, "height": h})
        page.goto(url)
        page.wait_for_function("document.querySelectorAll('.tile img').length > 0 && "
                               "[...document.querySelectorAll('.tile img')].every("
                               "i => i.complete && i.naturalWidth > 0)", timeout=300_000)
        try:  # for the screenshot: the stylised video playing (not judged here)
            page.wait_for_function("window.rtstyle.state.server && window.rtstyle.state"
                                   ".server.showing.startsWith('style:') && "
                                   "window.rtstyle.state.fps > 0", timeout=90_000)
        except Exception:  # noqa: BLE001 (a slow server only costs the screenshot)
            pass
        page.screenshot(path=str(out / f"page-{w}x{h}.png"))
        r["tiles"] = page.eval_on_selector_all(".tile", "ts => ts.map(t => t.dataset.id)")
        r["images"] = page.eval_on_selector_all(
            ".tile img", "is => is.map(i => [i.naturalWidth, i.naturalHeight])")
        page.close()
    r["menu"] = [s["id"] for s in http("GET", url + "api/styles")[1]["styles"]]
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--y4m", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cwd", required=True)
    ap.add_argument("--precision", action="append", default=None)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--gallery", default="", help="viewport sizes WxH,WxH (empty: skip)")
    ap.add_argument("serve_args", nargs="*")
    a = ap.parse_args()
    out = Path(a.out)
    from playwright.sync_api import sync_playwright

    flags = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             f"--use-file-for-fake-video-capture={a.y4m}", "--allow-loopback-in-peer-connection"]
    result: dict = {"device": []}
    with running_server(*a.serve_args, cwd=Path(a.cwd)) as (url, log), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            for i in range(a.rounds):
                for prec in a.precision or []:
                    result["device"].append(device_run(browser, url, prec, out, a.warmup,
                                                       a.seconds, f"{prec}-{i}"))
            result["status"] = http("GET", url + "api/status")[1]  # before any server-mode page
            if a.gallery:
                sizes = [tuple(int(v) for v in s.split("x")) for s in a.gallery.split(",")]
                result["gallery"] = gallery(browser, url, out, sizes)
        finally:
            browser.close()
    (out / "result.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
