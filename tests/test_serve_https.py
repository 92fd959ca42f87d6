"""`rtstyle serve --https`, and the controls the page shares with the webcam: a real
server process on loopback, a real aiortc client, and real Chromium over HTTPS.

The browser test runs in a loopback-only network namespace, as test_serve_browser does.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
import urllib.request

import cv2
import numpy as np
import pytest
from conftest import asset
from serve_helpers import http, running_server
from test_serve_browser import SIZE, make_camera, need_browser_and_namespace, reference
from test_serve_http import TOKEN, _webrtc_client

from rtstyle.cli import main as rtstyle_main
from rtstyle.live.stats import RunStats
from rtstyle.metrics import psnr

pytest.importorskip("aiortc")
UNVERIFIED = ssl._create_unverified_context()  # the server's own self-signed certificate


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30, context=UNVERIFIED) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read()


def plain_http_to(url: str) -> bytes:
    """What a plain-HTTP request to the HTTPS port gets back (b"" when it is closed)."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            return s.recv(4096)
        except (ConnectionResetError, TimeoutError):
            return b""


class HalfAndHalf:
    """A camera whose left half is dark and right half bright: mirroring is visible."""

    def __new__(cls):
        from aiortc.mediastreams import VideoStreamTrack
        from av import VideoFrame

        class Track(VideoStreamTrack):
            async def recv(self):
                pts, time_base = await self.next_timestamp()
                image = np.full((240, 320, 3), 20, np.uint8)
                image[:, 160:] = 230
                frame = VideoFrame.from_ndarray(image, format="bgr24")
                frame.pts, frame.time_base = pts, time_base
                return frame

        return Track()


def test_https_self_signed_kept_bad_requests_answered_and_controls_shared(tmp_path,
                                                                          rtstyle_home):
    work = tmp_path / "cwd"
    work.mkdir()
    with running_server("--https", "--token", TOKEN, "--max-clients", "1",
                        cwd=work) as (url, log):
        assert url.startswith("https://127.0.0.1:")
        cert = rtstyle_home / "serve" / "tls" / "cert.pem"
        assert cert.is_file() and (cert.parent / "key.pem").stat().st_mode & 0o077 == 0
        first_cert = cert.read_bytes()
        status, kind, page = get(url)
        assert status == 200 and b"<video" in page
        status, kind, icon = get(url + "favicon.ico")
        assert status == 200 and kind == "image/png"
        assert cv2.imdecode(np.frombuffer(icon, np.uint8), cv2.IMREAD_COLOR).shape == (32, 32, 3)

        # Plain HTTP to the HTTPS port is refused, and the server keeps serving.
        reply = plain_http_to(url)
        assert reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply[:200]
        assert get(url)[0] == 200

        async def scenario() -> None:
            loop = asyncio.get_running_loop()

            def req(*a, **kw):
                return loop.run_in_executor(None, lambda: https(*a, **kw))

            pc, got, cid = await _webrtc_client(url, HalfAndHalf())
            auth = {"X-Rtstyle-Token": TOKEN}
            # Too many clients: a clear 429, over HTTPS as over HTTP.
            status, body = await req("POST", url + "api/offer",
                                     {"sdp": "v=0\r\n", "type": "offer"}, auth)
            assert status == 429 and "server is full" in body["error"]

            # The page's settings are the live Controls: original + mirror flips the camera.
            for bad in ({"mirror": "yes"}, {"keep_colours": 1}, {"strength": True}):
                status, body = await req("POST", url + f"api/clients/{cid}/settings", bad,
                                         auth)
                assert status == 400 and "must be" in body["error"], (bad, body)
            status, state = await req("POST", url + f"api/clients/{cid}/settings",
                                      {"stylised": False, "mirror": True,
                                       "keep_colours": True}, auth)
            assert status == 200
            assert (state["stylised"], state["mirror"], state["keep_colours"]) == \
                (False, True, True)
            assert (await req("GET", url + f"api/clients/{cid}", headers=auth))[1]["mirror"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                frame = got[-1].to_ndarray(format="bgr24") if got else None
                if frame is not None and frame[:, :140].mean() > 200 \
                        and frame[:, 180:].mean() < 50:
                    break
            else:
                raise AssertionError("the mirrored camera never came back")

            # An uploaded painting is labelled with its file name, cleaned of anything
            # that is not part of a name.
            painting = cv2.imencode(".png", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()
            name = urllib.request.quote("../x/My Painting<b>.png")
            status, body = await req("POST", url + f"api/clients/{cid}/painting?name={name}",
                                     painting, auth)
            assert status == 200 and body["label"] == "My Paintingb", body
            await pc.close()

        asyncio.run(scenario())

    # The certificate is kept: a second start serves the same one.
    with running_server("--https", cwd=work) as (url, log):
        assert get(url)[0] == 200
    assert cert.read_bytes() == first_cert
    assert list(work.iterdir()) == []


def https(method: str, url: str, body=None, headers=None):
    return http(method, url, body, headers, context=UNVERIFIED)


@pytest.mark.parametrize("files, message", [
    (("missing.pem", "missing-key.pem"), "is not a file"),
    (("junk.pem", "junk.pem"), "give a PEM certificate and its matching private key"),
    (("junk.pem", None), "--cert and --key go together"),
])
def test_bad_certificates_are_one_line_errors(tmp_path, rtstyle_home, files, message, capsys):
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnot one\n")
    args = ["--cert", str(tmp_path / files[0])]
    if files[1]:
        args += ["--key", str(tmp_path / files[1])]
    assert rtstyle_main(["serve", "--port", "0", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rtstyle: error:") and message in err and "\n" not in err


def test_the_recent_window_restarts_when_the_style_changes():
    """After a switch to a slower style, the overlay's latency is the new style's from its
    first frame on, not a median still made of the old style's frames."""
    stats = RunStats()
    for _ in range(15):
        stats.frame_shown("style:fast", time.monotonic() - 0.020)
    assert stats.recent_latency_ms() < 200  # (a busy machine may add a little)
    stats.frame_shown("style:slow", time.monotonic() - 0.500)
    assert stats.recent_latency_ms() >= 500  # a window mixing in the old frames says ~20


@pytest.mark.slow
@pytest.mark.assets
def test_https_page_in_chromium_plays_stylised_with_mirror_and_keep_colours(tmp_path,
                                                                            rtstyle_home):
    from serve_browser_driver import in_loopback_namespace

    need_browser_and_namespace()
    y4m, png = make_camera(tmp_path, SIZE, asset("photos/tubingen.jpg"))
    work, out = tmp_path / "cwd", tmp_path / "out"
    work.mkdir()
    out.mkdir()
    r = in_loopback_namespace(["--y4m", str(y4m), "--out", str(out), "--cwd", str(work),
                               "--settings", "--https"])
    assert r.returncode == 0, r.stderr[-4000:]
    got = json.loads((out / "result.json").read_text())
    flipped = tmp_path / "flipped.png"
    cv2.imwrite(str(flipped), cv2.flip(cv2.imread(str(png)), 1))
    ref = reference(png, tmp_path / "ref.png", "--style", "udnie-lite")
    ref_mirror = reference(flipped, tmp_path / "ref-m.png", "--style", "udnie-lite")
    ref_keep = reference(flipped, tmp_path / "ref-mk.png", "--style", "udnie-lite",
                         "--preserve-colors")
    shot = {n: cv2.imread(str(out / f"{n}.png")) for n in ("first", "mirror", "keep")}
    print({n: [round(psnr(s, x), 1) for x in (ref, ref_mirror, ref_keep)]
           for n, s in shot.items()}, got)

    assert got["url"].startswith("https://127.0.0.1:")
    assert psnr(shot["first"], ref) >= 25
    assert got["mirror"]["mirror"] is True
    assert psnr(shot["mirror"], ref_mirror) >= 25
    assert psnr(shot["mirror"], ref) < psnr(shot["mirror"], ref_mirror) - 3
    assert got["keep"]["keep_colours"] is True and got["keep"]["mirror"] is True
    assert psnr(shot["keep"], ref_keep) >= 25
    assert psnr(shot["keep"], ref_mirror) < psnr(shot["keep"], ref_keep) - 3
    assert got["favicon"] == [200, "image/png"]
    assert "udnie-lite" in got["overlay"] and " ms" in got["overlay"]
    assert (rtstyle_home / "serve" / "tls" / "cert.pem").is_file()


def test_a_lan_server_prints_a_url_per_address_with_its_token_and_a_qr_code():
    from rtstyle.serve import ice
    from rtstyle.serve.app import ServeConfig, ready_lines

    # Only formats the lines a LAN server would print: nothing binds or sends here.
    lines = ready_lines(ServeConfig(host="0.0.0.0", token="secret-token-1",
                                    tls=ssl.create_default_context()), 8443, False)
    urls = [line.split()[-1] for line in lines if line.startswith("rtstyle serve: ")]
    assert lines[0].startswith("rtstyle serve: open https://")
    assert all(u.startswith("https://") and u.endswith(":8443/?token=secret-token-1")
               for u in urls)
    lan = [a for a in ice.machine_addresses() if "." in a and not a.startswith("127.")]
    assert {u.split("//")[1].split(":")[0] for u in urls} == set(lan or ["127.0.0.1"])
    pytest.importorskip("segno")
    qr = lines[len(urls):]
    assert len(qr) > 10 and all(len(row) == len(qr[0]) for row in qr)  # a square of blocks
    # A loopback server prints its one URL, no QR code.
    assert len(ready_lines(ServeConfig(), 8080, False)) == 1
