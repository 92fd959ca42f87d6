"""`rtstyle serve` over plain HTTP: bad requests get a clear 4xx while a real WebRTC client
keeps being served; /stream.mjpg read by OpenCV; the token and ICE rules.

All on loopback: the server binds 127.0.0.1 or 127.0.0.2 (never the wildcard address
or a real interface), and the test's own WebRTC client offers only 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import http.client as httplib
import subprocess
import time

import cv2
import numpy as np
import pytest
from conftest import asset
from serve_helpers import http, running_server
from video_media import FFMPEG

from rtstyle.cli import main as rtstyle_main
from rtstyle.errors import RtstyleError
from rtstyle.metrics import psnr

pytest.importorskip("aiortc")
TOKEN = "test-token-123"


async def _webrtc_client(url: str, track=None):
    """A real aiortc client sending `track` (default a synthetic camera); returns (pc,
    received-frame list, client id). HTTPS certificates are not checked (self-signed)."""
    import aiohttp
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import VideoStreamTrack

    from rtstyle.serve import ice

    ice.restrict_host_addresses(["127.0.0.1"])
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(track or VideoStreamTrack())
    got: list = []

    @pc.on("track")
    def on_track(track):
        async def pull():
            while True:
                got.append(await track.recv())
        asyncio.ensure_future(pull())

    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession(headers={"X-Rtstyle-Token": TOKEN},
                                     connector=aiohttp.TCPConnector(ssl=False)) as s, \
            s.post(url + "api/offer", json={"sdp": pc.localDescription.sdp,
                                            "type": "offer"}) as r:
        assert r.status == 200, await r.text()
        answer = await r.json()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    return pc, got, answer["id"]


def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent exactly as given (no client-side normalising of '..')."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    conn = httplib.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path, headers={"X-Rtstyle-Token": TOKEN})
    r = conn.getresponse()
    return r.status, r.read()


def test_bad_requests_get_clear_4xx_and_the_client_keeps_playing(tmp_path, rtstyle_home):
    work = tmp_path / "cwd"
    work.mkdir()
    with running_server("--host", "127.0.0.2", "--token", TOKEN, "--max-clients", "1",
                        cwd=work) as (url, log):
        assert url.startswith("http://127.0.0.2:")
        auth = {"X-Rtstyle-Token": TOKEN}

        async def scenario() -> None:
            loop = asyncio.get_running_loop()

            def req(*a, **kw):
                return loop.run_in_executor(None, lambda: http(*a, **kw))

            # Malformed SDP offers, while there is room for a client.
            for bad in ({"sdp": "hello", "type": "offer"}, {"sdp": 5}, [1, 2],
                        {"sdp": "v=0\r\nm=nonsense\r\nx", "type": "offer"},
                        {"sdp": "v=0\r\n" + "a=x\r\n" * 20000, "type": "offer"}):
                status, body = await req("POST", url + "api/offer", bad, auth)
                assert status == 400 and body["error"], (bad, status, body)
            status, body = await req("POST", url + "api/offer", b"{not json",
                                     {**auth, "Content-Type": "application/json"})
            assert status == 400 and "not JSON" in body["error"]
            assert (await req("GET", url + "api/status", headers=auth))[1]["clients"] == 0

            pc, got, cid = await _webrtc_client(url)

            # A non-loopback-style bind: the token is needed; missing 401, wrong 403.
            assert (await req("GET", url + "api/status"))[0] == 401
            status, body = await req("GET", url + "api/status", headers={"X-Rtstyle-Token": "x"})
            assert status == 403 and "wrong token" in body["error"]
            assert (await req("GET", url + "api/status?token=" + TOKEN))[0] == 200

            # A client beyond --max-clients.
            status, body = await req("POST", url + "api/offer", {"sdp": "v=0\r\n",
                                                                 "type": "offer"}, auth)
            assert status == 429 and "server is full" in body["error"]

            # An unknown style.
            status, body = await req("POST", url + f"api/clients/{cid}/settings",
                                     {"style": "style:no-such-style"}, auth)
            assert status == 400 and "unknown style" in body["error"]
            status, body = await req("POST", url + f"api/clients/{cid}/settings",
                                     {"strength": 7}, auth)
            assert status == 400 and "0..1" in body["error"]

            # Uploads: too big, not an image, an image bomb's header.
            status, body = await req("POST", url + f"api/clients/{cid}/painting",
                                     b"\xff" * (9 * 2**20), auth)
            assert status == 413 and "MiB" in body.get("error", str(body))
            status, body = await req("POST", url + f"api/clients/{cid}/painting",
                                     b"this is not an image", auth)
            assert status == 415 and "not an image" in body["error"]
            ok, png = cv2.imencode(".png", np.zeros((16, 16, 3), np.uint8))
            bomb = bytearray(png.tobytes())
            bomb[16:24] = (100_000).to_bytes(4, "big") * 2  # IHDR claims 100000x100000
            status, body = await req("POST", url + f"api/clients/{cid}/painting",
                                     bytes(bomb), auth)
            assert status == 415, body

            # Static files: paths that climb out of the static folder.
            for path in ("/static/../app.py", "/static/%2e%2e/app.py",
                         "/static/..%2f..%2fserve%2fapp.py", "/static/../../../etc/passwd"):
                status, data = await loop.run_in_executor(None, _raw_get, url, path)
                assert 400 <= status < 500 and b"import" not in data and b"root:" not in data
            # /stream.mjpg without a --source.
            status, body = await req("GET", url + "stream.mjpg", headers=auth)
            assert status == 404 and "--source" in body["error"]
            status, data = await loop.run_in_executor(None, _raw_get, url, "/static/server.js")
            assert status == 200 and b"RTCPeerConnection" in data

            # Through all of it the client kept getting frames, stylised once the engine
            # loaded (the camera passes through meanwhile).
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                status, state = await req("GET", url + f"api/clients/{cid}", headers=auth)
                if state["showing"] == "style:udnie-lite":
                    break
                await asyncio.sleep(0.5)
            assert state["showing"] == "style:udnie-lite", state
            n = len(got)
            await asyncio.sleep(3)
            assert len(got) > n, "the WebRTC client stopped receiving frames"
            frame = got[-1].to_ndarray(format="bgr24")
            assert frame.shape == (480, 640, 3)
            await pc.close()

        asyncio.run(scenario())
    assert list(work.iterdir()) == []  # nothing written outside $RTSTYLE_HOME
    assert not list((rtstyle_home / "serve" / "uploads").glob("*"))


def test_mjpeg_stream_read_by_opencv_is_stylised(tmp_path, rtstyle_home):
    # A still photo as a losslessly coded video: every frame is the same known picture.
    video = tmp_path / "still.mkv"
    subprocess.run([FFMPEG, "-v", "error", "-loop", "1", "-i",
                    str(asset("photos/tubingen.jpg")), "-vf", "scale=320:240", "-t", "2",
                    "-r", "10", "-c:v", "ffv1", str(video)], check=True)
    cap = cv2.VideoCapture(str(video))
    ok, frame = cap.read()
    cap.release()
    assert ok
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    assert rtstyle_main(["image", str(tmp_path / "frame.png"), "-o", str(tmp_path / "ref.png"),
                         "--style", "udnie-lite"]) == 0
    ref = cv2.imread(str(tmp_path / "ref.png"))
    work = tmp_path / "cwd"
    work.mkdir()
    with running_server("--source", str(video), cwd=work) as (url, log):
        deadline = time.monotonic() + 120
        while http("GET", url + "api/status")[1]["stream"] != "style:udnie-lite":
            assert time.monotonic() < deadline, "the stream's engine never loaded"
            time.sleep(0.5)
        deadline, got = time.monotonic() + 60, []
        while time.monotonic() < deadline and len(got) < 5:
            cap = cv2.VideoCapture(url + "stream.mjpg", cv2.CAP_FFMPEG)
            while cap.isOpened() and len(got) < 5:
                ok, img = cap.read()
                if not ok:
                    break
                got.append(img)
            cap.release()
            time.sleep(0.5)
    assert len(got) == 5, f"OpenCV read {len(got)} frames from /stream.mjpg"
    for img in got[-3:]:
        assert img.shape == ref.shape
        assert psnr(img, ref) >= 25, f"{psnr(img, ref):.1f} dB"
    assert psnr(got[-1], frame) < psnr(got[-1], ref) - 5
    assert list(work.iterdir()) == []


def test_token_rule():
    from rtstyle.serve.app import default_ice, resolve_token

    assert resolve_token("127.0.0.1", None) == (None, False)
    assert resolve_token("::1", None) == (None, False)
    token, generated = resolve_token("192.0.2.1", None)  # not bound: only the rule
    assert generated and len(token) >= 16
    assert resolve_token("example.org", None)[1]
    assert resolve_token("192.0.2.1", "given-token") == ("given-token", False)
    with pytest.raises(RtstyleError, match="too short"):
        resolve_token("192.0.2.1", "abc")
    assert default_ice("127.0.0.1") == ["127.0.0.1"] and default_ice("192.0.2.1") is None


def test_sdp_candidates_filtered_to_allowed_addresses():
    from rtstyle.serve import ice

    sdp = ("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
           "a=candidate:1 1 udp 2122260223 192.0.2.7 50000 typ host\r\n"
           "a=candidate:2 1 udp 2122260223 127.0.0.1 50001 typ host\r\n"
           "a=candidate:3 1 udp 2122260223 abc.local 50002 typ host\r\n")
    try:
        ice.restrict_host_addresses(["127.0.0.1"])
        out = ice.filter_sdp(sdp)
        import aioice.ice

        assert aioice.ice.get_host_addresses(True, True) == ["127.0.0.1"]
    finally:
        ice.restrict_host_addresses(None)
    assert "127.0.0.1 50001" in out and "192.0.2.7" not in out and ".local" not in out


@pytest.mark.parametrize("args, message", [
    (["--style", "no-such-style"], "unknown style"),
    (["--ice-address", "192.0.2.55"], "not an address of this machine"),
    (["--max-clients", "0"], "--max-clients"),
    (["--token", "short"], "too short"),
])
def test_bad_command_lines_are_one_line_errors(args, message, capsys):
    assert rtstyle_main(["serve", "--port", "0", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rtstyle: error:") and message in err and "\n" not in err
