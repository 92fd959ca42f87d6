"""How many 640x480 clients `rtstyle serve` keeps at what FPS, with light clients.

The browser figures (serve_figures.py) run every Chromium page on the same 2 cores as the
server, so they measure server and browsers together. Here each client is an aiortc peer
that sends a VP8 camera stream encoded once beforehand (640x480, 30 FPS, keyframe every
second: vtest.avi's people walking, played forward then back) without re-encoding it, and
decodes and counts what comes back: a client costs a VP8 decode at the rate the server
returns, much less than a browser page, so the server gets nearly all of the CPU, as it
would with the clients on their own phones and laptops.

Run (a few minutes; the clients and the server share a loopback-only network namespace,
as in the tests):

    RTSTYLE_ASSETS=... python benchmarks/serve_load.py OUT.json [--clients 1 2 4] \\
        [--seconds 15] [--style udnie-lite] [-- SERVE_ARGS...]

Per client it records the FPS received over the window (frames decoded / seconds), and the
server's own figures for it (GET /api/clients/ID: frames in and out, dropped, latency
p50/p95 from frame received to stylised frame handed to the encoder).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
ASSETS = Path(os.environ.get("RTSTYLE_ASSETS", ROOT.parent / "shared" / "assets"))


def camera_webm(path: Path, size=(640, 480), fps: int = 30, bitrate: int = 1_500_000) -> Path:
    """A VP8 WebM of vtest.avi (forward, then backward: no jump when it ends)."""
    cap = cv2.VideoCapture(str(ASSETS / "videos" / "vtest.avi"))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(img, size, interpolation=cv2.INTER_AREA))
    cap.release()
    if not frames:
        raise SystemExit(f"cannot read {ASSETS / 'videos' / 'vtest.avi'}; set RTSTYLE_ASSETS")
    frames += frames[-2:0:-1]
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=fps,
                                options={"deadline": "realtime", "cpu-used": "8"})
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.bit_rate, stream.gop_size = bitrate, fps
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process `pid` has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid() -> int:
    """The `rtstyle serve` this process started (its child)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmd = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"serve" in cmd:
            return int(stat.parent.name)
    raise SystemExit("cannot find the server's process")


async def run_clients(base: str, webm: Path, n: int, seconds: float, server_pid: int,
                      style: str, stylised: bool = True) -> dict:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer
    from serve_helpers import http

    from rtstyle.serve import ice

    ice.restrict_host_addresses(["127.0.0.1"])  # aioice leaves loopback out by itself
    loop = asyncio.get_running_loop()
    peers, counts, ids = [], [[] for _ in range(n)], []

    async def count(track, times: list) -> None:
        while True:
            await track.recv()
            times.append(time.monotonic())

    for i in range(n):
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(MediaPlayer(str(webm), decode=False).video)
        pc.on("track", lambda track, t=counts[i]: asyncio.ensure_future(count(track, t)))
        await pc.setLocalDescription(await pc.createOffer())
        status, answer = await loop.run_in_executor(
            None, http, "POST", f"{base}/api/offer",
            {"sdp": pc.localDescription.sdp, "type": "offer", "style": style})
        if status != 200:
            raise SystemExit(f"offer refused: {status} {answer}")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        peers.append(pc)
        ids.append(answer["id"])
        if not stylised:  # the pipeline's own cost: decode, pass-through, encode
            await loop.run_in_executor(None, http, "POST",
                                       f"{base}/api/clients/{answer['id']}/settings",
                                       {"stylised": False})

    async def state(i: int) -> dict:
        return (await loop.run_in_executor(None, http, "GET", f"{base}/api/clients/{ids[i]}"))[1]

    deadline = time.monotonic() + 40
    while True:
        states = [await state(i) for i in range(n)]
        if all(s.get("state") == "ready" and (s.get("showing") == style or not stylised)
               for s in states):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"the clients never showed the style: {states}, "
                             f"connection {[pc.connectionState for pc in peers]}")
        await asyncio.sleep(0.5)
    await asyncio.sleep(3)  # past the first keyframes and the engine's warm-up
    before = [await state(i) for i in range(n)]
    t0, cpu0, own0 = time.monotonic(), cpu_seconds(server_pid), time.process_time()
    await asyncio.sleep(seconds)
    t1, cpu1, own1 = time.monotonic(), cpu_seconds(server_pid), time.process_time()
    after = [await state(i) for i in range(n)]
    load = os.getloadavg()
    for pc in peers:
        await pc.close()
    rows = []
    for i in range(n):
        got = sum(t0 <= t < t1 for t in counts[i])
        b, a = before[i], after[i]
        rows.append({"fps": round(got / (t1 - t0), 1),
                     "server_in_fps": round((a["frames_in"] - b["frames_in"]) / (t1 - t0), 1),
                     "server_out_fps": round((a["frames_out"] - b["frames_out"]) / (t1 - t0), 1),
                     "latency_ms_p50": a["latency_ms_p50"], "latency_ms_p95": a["latency_ms_p95"]})
    return {"clients": n, "seconds": round(t1 - t0, 1), "load_avg_after": load,
            "stylised": stylised, "server_cores": round((cpu1 - cpu0) / (t1 - t0), 2),
            "clients_cores": round((own1 - own0) / (t1 - t0), 2),
            "per_client": rows, "fps": [r["fps"] for r in rows]}


def inside(a: argparse.Namespace) -> None:
    """In the namespace: one server per client count, the clients against it."""
    from serve_helpers import running_server

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        webm = camera_webm(Path(tmp) / "camera.webm")
        for n in a.clients:
            cwd = Path(tmp) / f"cwd{n}"
            cwd.mkdir()
            with running_server("--max-clients", str(max(a.clients)), *a.serve_args,
                                cwd=cwd) as (url, log):
                try:
                    row = asyncio.run(run_clients(url.rstrip("/"), webm, n, a.seconds,
                                                  server_pid(), f"style:{a.style}",
                                                  not a.unstylised))
                except BaseException:
                    print(f"the server's log:\n{log.read_text()[-4000:]}", file=sys.stderr)
                    raise
            keys = ("clients", "fps", "server_cores", "clients_cores")
            print(json.dumps({k: row[k] for k in keys}), flush=True)
            results.append(row)
    Path(a.out).write_text(json.dumps(results, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--style", default="udnie-lite",
                   help="the style the clients ask for (default: udnie-lite)")
    p.add_argument("--unstylised", action="store_true",
                   help="clients switch stylising off: the pipeline's cost without the net")
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("serve_args", nargs="*", help="after --: passed to rtstyle serve")
    a = p.parse_args()
    if a.inside:
        inside(a)
        return
    from serve_browser_driver import in_loopback_namespace

    from rtstyle.bench.machine import describe_machine

    raw = a.out.with_suffix(".raw.json")
    argv = [str(raw.resolve()), "--inside", "--seconds", str(a.seconds),
            "--clients", *map(str, a.clients), "--style", a.style]
    argv += ["--unstylised"] if a.unstylised else []
    argv += ["--", *a.serve_args] if a.serve_args else []
    info = describe_machine(os.cpu_count() or 1)
    r = in_loopback_namespace(argv, script=__file__)
    if r.returncode:
        raise SystemExit(r.stderr[-3000:])
    print(r.stdout, end="")
    rows = json.loads(raw.read_text())
    raw.unlink()
    a.out.write_text(json.dumps({"machine": info, "serve_args": a.serve_args,
                                 "clients": rows}, indent=1))


if __name__ == "__main__":
    main()
