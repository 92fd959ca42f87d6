"""The HTTP side of `rtstyle serve`: routes, token check, client limit, server lifetime.

Routes (all JSON errors are {"error": "..."} with a 4xx status; one bad request never
disturbs the other clients):
  GET  /                      the page (static/index.html); /static/* its scripts
  GET  /api/styles            the style menu: built-in and user styles, paintings
  POST /api/offer             WebRTC offer {sdp, type, style?} -> answer {id, sdp, type}
  GET  /api/clients/{id}      one client's state and server-side latency
  POST /api/clients/{id}/settings   {style?, strength?, stylised?}
  POST /api/clients/{id}/painting   an image body -> style-swap with it
  POST /api/clients/{id}/leave      the page is closing
  GET  /api/status            clients, engines loaded
  GET  /stream.mjpg           the stylised --source as MJPEG (OBS, any browser)
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import secrets
import signal
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from rtstyle.engines.swap import Budget
from rtstyle.errors import RtstyleError
from rtstyle.images import IMAGE_SUFFIXES
from rtstyle.live.instant import InstantJob, instant_name
from rtstyle.serve import device, gallery, ice
from rtstyle.serve.peer import Client
from rtstyle.serve.pool import EnginePool
from rtstyle.serve.uploads import (
    MAX_UPLOAD_BYTES,
    UploadError,
    decode_painting,
    painting_label,
    store_painting,
)
from rtstyle.styles.catalogue import home, list_styles

STATIC_DIR = Path(__file__).resolve().parent / "static"
TOKEN_HEADER = "X-Rtstyle-Token"
MAX_SDP = 64 * 1024
# The page's on/off settings -> the live Controls attributes they set.
SWITCHES = {"stylised": "stylise", "mirror": "mirror", "keep_colours": "preserve_colors"}


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    style: str = "udnie-lite"
    backend: str = "auto"
    threads: int | None = None
    swap: Budget = field(default_factory=Budget)
    max_clients: int = 4
    token: str | None = None
    source: str | None = None
    source_size: tuple[int, int] | None = None
    stabilize: bool = False
    paintings: Path | None = None  # default: $RTSTYLE_HOME/paintings
    ice_addresses: list[str] | None = None  # None: loopback on a loopback bind, else all
    tls: ssl.SSLContext | None = None  # HTTPS (serve/tls.py); None: plain HTTP
    web_runtime: Path | None = None  # ONNX Runtime Web files (default: web_runtime.locate)
    instant_seconds: float | None = None  # train a net for uploads (live.instant); None: off


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def resolve_token(host: str, token: str | None) -> tuple[str | None, bool]:
    """The token the server requires, and whether it was generated here: a non-loopback
    bind never runs open; a loopback one needs a token only if one is given."""
    if token is not None:
        if len(token) < 8:
            raise RtstyleError("--token is too short; use at least 8 characters, or leave it "
                               "out to have one generated")
        return token, False
    if is_loopback(host):
        return None, False
    return secrets.token_urlsafe(18), True


def default_ice(host: str) -> list[str] | None:
    if not is_loopback(host):
        return None
    return ["::1"] if host == "::1" else ["127.0.0.1"]


def _error(status: type[web.HTTPException], message: str, **kw) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json", **kw)


def _too_large(size: int | None) -> web.HTTPException:
    return _error(web.HTTPRequestEntityTooLarge,
                  f"the upload is over {MAX_UPLOAD_BYTES // 2**20} MiB; send a smaller image "
                  "(the painting is used at a few hundred px anyway)",
                  max_size=MAX_UPLOAD_BYTES, actual_size=size or MAX_UPLOAD_BYTES + 1)


class Server:
    """Everything one `rtstyle serve` holds: the engine pool, the clients, the broadcast."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.pool = EnginePool(config.backend, config.threads, config.swap)
        self.clients: dict[str, Client] = {}
        self.uploads: dict[str, tuple[str, Path]] = {}  # pool key -> (client id, file)
        self.upload_labels: dict[str, str] = {}  # pool key -> the uploaded file's name
        self.broadcast = None
        self._watchers: set[asyncio.Task] = set()  # each forgets its client when it closes
        self.instant: dict[str, InstantJob] = {}  # client id -> its upload's training
        self.paintings = config.paintings or home() / "paintings"
        self.default_key = f"style:{config.style}"
        if config.style not in {s.name for s in list_styles()}:
            raise RtstyleError(f"unknown style '{config.style}' for --style; see "
                               "`rtstyle styles list`")

    # ---- the style menu -------------------------------------------------------------
    def menu(self) -> list[dict]:
        items = [{"id": f"style:{s.name}", "name": s.name, "kind": s.origin}
                 for s in list_styles() if "error" not in s.meta]
        if self.paintings.is_dir():
            items += [{"id": f"painting:{p.name}", "name": p.stem, "kind": "painting"}
                      for p in sorted(self.paintings.iterdir())
                      if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
        return items

    def spec(self, key: str, client: Client | None = None):
        """What open_engine takes for a menu id; HTTP 400 for ids not on the menu."""
        if not isinstance(key, str):
            raise _error(web.HTTPBadRequest, "style must be a menu id from /api/styles")
        if key.startswith("upload:") and key in self.uploads:
            owner, path = self.uploads[key]
            if client is not None and owner == client.id:
                return path
        for item in self.menu():
            if item["id"] == key:
                kind, name = key.split(":", 1)
                return self.paintings / name if kind == "painting" else name
        raise _error(web.HTTPBadRequest, f"unknown style '{key}'; pick one from /api/styles")

    def label(self, key: str) -> str:
        """What the page shows for a style id: its name, an upload's file name."""
        if key in self.upload_labels:
            return self.upload_labels[key]
        return next((i["name"] for i in self.menu() if i["id"] == key), key.split(":", 1)[-1])

    # ---- requests -------------------------------------------------------------------
    def client(self, request: web.Request) -> Client:
        c = self.clients.get(request.match_info["id"])
        if c is None:
            raise _error(web.HTTPNotFound, "no such client; it left or the server restarted; "
                         "reload the page")
        return c

    async def styles(self, request: web.Request) -> web.Response:
        return web.json_response({"styles": self.menu(), "default": self.default_key,
                                  "ice": ice.allowed()})

    async def offer(self, request: web.Request) -> web.Response:
        body = await _json(request)
        sdp, kind = body.get("sdp"), body.get("type")
        if not isinstance(sdp, str) or kind != "offer" or not sdp.startswith("v=0") \
                or len(sdp) > MAX_SDP:
            raise _error(web.HTTPBadRequest, "the body must be {\"sdp\": \"v=0...\", \"type\": "
                         "\"offer\"}, a WebRTC offer under 64 KiB")
        if len(self.clients) >= self.config.max_clients:
            raise _error(web.HTTPTooManyRequests,
                         f"the server is full: it takes {self.config.max_clients} clients at "
                         "once (--max-clients); try again when someone leaves")
        key = body.get("style") or self.default_key
        spec = self.spec(key)
        client = Client(self.pool, key, spec, self.config.stabilize, self.label(key))
        self.clients[client.id] = client
        watcher = asyncio.ensure_future(self._forget(client))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        try:
            answer = await client.answer(sdp)
        except Exception as e:  # aiortc raises ValueError and others on bad SDP
            await client.close()
            raise _error(web.HTTPBadRequest, f"malformed SDP offer ({e or type(e).__name__}); "
                         "send the browser's RTCPeerConnection offer unchanged") from None
        return web.json_response({"id": client.id, "sdp": answer, "type": "answer"})

    async def _forget(self, client: Client) -> None:
        await client.closed.wait()
        self.clients.pop(client.id, None)
        job = self.instant.pop(client.id, None)
        if job is not None:
            job.cancel()
        for key in [k for k, (owner, _) in self.uploads.items() if owner == client.id]:
            self.uploads.pop(key)[1].unlink(missing_ok=True)
            self.upload_labels.pop(key, None)

    async def client_state(self, request: web.Request) -> web.Response:
        client = self.client(request)
        return web.json_response({**client.stats(), "instant": self._instant_state(client)})

    # ---- the hand-over from an upload's style-swap to its instant net ---------------
    def _start_instant(self, client: Client, painting: Path, label: str) -> None:
        """Train a net for the client's upload in the background (one at a time)."""
        old = self.instant.pop(client.id, None)
        if old is not None:
            old.cancel()
        if any(job.running for job in self.instant.values()):
            return  # another client's painting is training; this one stays style-swap
        frame = client.worker.last_input()
        self.instant[client.id] = InstantJob(painting, [] if frame is None else [frame],
                                             self.config.instant_seconds,
                                             name=instant_name(Path(label)))

    def _instant_state(self, client: Client) -> dict | None:
        """Progress for the page; once the net is ready, the client switches to it if it
        still shows the upload (the page's poll drives this)."""
        job = self.instant.get(client.id)
        if job is None:
            return None
        was_running = job.running
        job.poll()
        if was_running and job.ready and client.style in self.uploads:
            key = f"style:{job.ready}"
            client.set_style(key, job.ready, job.ready)
        return job.state()

    async def settings(self, request: web.Request) -> web.Response:
        """The page's controls: the same live Controls the webcam's keys set."""
        client = self.client(request)
        body = await _json(request)
        c = client.controls
        strength = body.get("strength", c.strength)
        if not isinstance(strength, (int, float)) or isinstance(strength, bool) \
                or not 0.0 <= strength <= 1.0:
            raise _error(web.HTTPBadRequest, "strength must be a number in 0..1")
        flags = {name: body.get(name, getattr(c, attr)) for name, attr in SWITCHES.items()}
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise _error(web.HTTPBadRequest, f"{name} must be true or false")
        if "style" in body:
            key = body["style"]
            if not isinstance(key, str):
                raise _error(web.HTTPBadRequest, "style must be a menu id from /api/styles")
            client.set_style(key, self.spec(key, client), self.label(key))
        c.strength = float(strength)
        for name, attr in SWITCHES.items():
            setattr(c, attr, flags[name])
        return web.json_response(client.stats())

    async def painting(self, request: web.Request) -> web.Response:
        client = self.client(request)
        if request.content_length and request.content_length > MAX_UPLOAD_BYTES:
            raise _too_large(request.content_length)
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _too_large(None) from None
        if not data:
            raise _error(web.HTTPBadRequest, "the upload is empty; send the image as the body")
        loop = asyncio.get_running_loop()
        try:
            image = await loop.run_in_executor(None, decode_painting, data,
                                               self.config.swap.style_size)
        except UploadError as e:
            raise _error(web.HTTPUnsupportedMediaType, str(e)) from None
        key = f"upload:{client.id}-{secrets.token_hex(4)}"
        path = await loop.run_in_executor(None, store_painting, key.split(":", 1)[1], image)
        self.uploads[key] = (client.id, path)
        self.upload_labels[key] = painting_label(request.query.get("name"))
        old = client.style
        client.set_style(key, path, self.label(key))
        if old in self.uploads:  # an earlier upload of this client: no longer used
            self.uploads.pop(old)[1].unlink(missing_ok=True)
            self.upload_labels.pop(old, None)
        if self.config.instant_seconds:
            self._start_instant(client, path, self.label(key))
        return web.json_response({"style": key, **client.stats(),
                                  "instant": self._instant_state(client)})

    async def leave(self, request: web.Request) -> web.Response:
        await self.client(request).close()
        return web.json_response({"left": True})

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({"clients": len(self.clients),
                                  "max_clients": self.config.max_clients,
                                  "engines": self.pool.loaded(),
                                  "stream": self.broadcast and self.broadcast.showing})

    async def index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def favicon(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "favicon.png",
                                headers={"Content-Type": "image/png"})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        if self.broadcast is None:
            raise _error(web.HTTPNotFound, "no stream: start the server with --source "
                         "CAMERA|FILE|URL to get /stream.mjpg")
        resp = web.StreamResponse(headers={
            "Content-Type": "multipart/x-mixed-replace; boundary=frame",
            "Cache-Control": "no-cache"})
        await resp.prepare(request)
        seq, sink = 0, self.broadcast.sink
        while not sink.closed:
            seq, jpeg = await sink.next_jpeg(seq)
            if jpeg is None:
                continue
            try:
                await resp.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                 + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
            except (ConnectionResetError, ConnectionError):
                break
        return resp

    async def close(self) -> None:
        for job in self.instant.values():
            job.cancel()
        await asyncio.gather(*(c.close() for c in list(self.clients.values())))
        if self.broadcast is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.broadcast.stop)


async def _json(request: web.Request) -> dict:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):  # 200000 nested [
        raise _error(web.HTTPBadRequest, "the body is not JSON (or nests too deep)") from None
    if not isinstance(body, dict):
        raise _error(web.HTTPBadRequest, "the body must be a JSON object")
    return body


def _is_bad_request(record: logging.LogRecord) -> bool:
    """A malformed request (a 200 KB header, a 64 KiB URL) that aiohttp already answered
    400: not worth a traceback in the server's log."""
    from aiohttp.http_exceptions import HttpProcessingError

    return not (record.exc_info and isinstance(record.exc_info[1], HttpProcessingError))


def make_app(server: Server) -> web.Application:
    token = server.config.token
    logging.getLogger("aiohttp.server").addFilter(_is_bad_request)

    @web.middleware
    async def guard(request: web.Request, handler):
        public = request.path in ("/", "/favicon.ico") or request.path.startswith("/static/")
        if token is not None and not public:
            given = request.headers.get(TOKEN_HEADER) or request.query.get("token")
            if not given:
                raise _error(web.HTTPUnauthorized, "this server needs its token: add "
                             f"?token=... to the URL or send the {TOKEN_HEADER} header")
            if not hmac.compare_digest(given.encode(), token.encode()):
                raise _error(web.HTTPForbidden, "wrong token; use the one `rtstyle serve` "
                             "printed or was given")
        return await handler(request)

    app = web.Application(middlewares=[guard], client_max_size=MAX_UPLOAD_BYTES)
    r = app.router
    r.add_get("/", server.index)
    r.add_get("/favicon.ico", server.favicon)
    r.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    r.add_get("/api/styles", server.styles)
    r.add_post("/api/offer", server.offer)
    r.add_get("/api/status", server.status)
    r.add_get("/api/clients/{id}", server.client_state)
    r.add_post("/api/clients/{id}/settings", server.settings)
    r.add_post("/api/clients/{id}/painting", server.painting)
    r.add_post("/api/clients/{id}/leave", server.leave)
    r.add_get("/stream.mjpg", server.stream)
    for register in (gallery.register, device.register):  # the page's gallery, on-device mode
        register(app, server)
    return app


def urls(config: ServeConfig, port: int) -> list[str]:
    """The page's address(es), token included: on a wildcard bind, one per address of
    this machine other than loopback (what a phone on the LAN can open)."""
    scheme = "https" if config.tls is not None else "http"
    hosts = [config.host]
    if config.host in ("0.0.0.0", "::"):
        hosts = [a for a in ice.machine_addresses()
                 if _reachable(a, ipv6=config.host == "::")] or ["127.0.0.1"]
    query = f"?token={config.token}" if config.token else ""
    return [f"{scheme}://{f'[{h}]' if ':' in h else h}:{port}/{query}" for h in hosts]


def _reachable(address: str, ipv6: bool) -> bool:
    """An address another machine could use: not loopback or link-local."""
    ip = ipaddress.ip_address(address.split("%")[0])
    return not (ip.is_loopback or ip.is_link_local) and (ip.version == 4 or ipv6)


def ready_lines(config: ServeConfig, port: int, stream: bool) -> list[str]:
    """What `rtstyle serve` prints once listening: the first line is the one tests and
    scripts read; a LAN server adds its other addresses and a QR code of the first."""
    first, *others = urls(config, port)
    lines = [f"rtstyle serve: open {first}"
             + (f"  (stream: {first.split('?')[0]}stream.mjpg)" if stream else "")]
    lines += [f"rtstyle serve: or {u}" for u in others]
    if not is_loopback(config.host):
        lines += qr_lines(first)
    return lines


def qr_lines(text: str) -> list[str]:
    """`text` as a QR code in the terminal, when the optional `segno` package is there."""
    try:
        import segno
    except ImportError:
        return []
    import io

    out = io.StringIO()
    segno.make(text, error="l").terminal(out, compact=True)
    return out.getvalue().rstrip("\n").splitlines()


async def serve(config: ServeConfig, ready=print) -> None:
    """Run until SIGINT/SIGTERM. `ready(line)` gets the URL (and token) once listening."""
    ice.restrict_host_addresses(config.ice_addresses if config.ice_addresses is not None
                                else default_ice(config.host))
    server = Server(config)
    if config.source is not None:
        from rtstyle.serve.broadcast import Broadcast

        server.broadcast = Broadcast(config.source, config.style, config.source_size,
                                     config.stabilize, config.backend, config.threads,
                                     config.swap)
        server.broadcast.start()
    runner = web.AppRunner(make_app(server), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, ssl_context=config.tls)
        try:
            await site.start()
        except OSError as e:
            raise RtstyleError(f"cannot listen on {config.host}:{config.port} ({e.strerror}); "
                               "pick another --port or --host") from None
        for line in ready_lines(config, runner.addresses[0][1], server.broadcast is not None):
            ready(line)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await server.close()
        await runner.cleanup()
