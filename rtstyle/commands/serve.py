"""`rtstyle serve`: the stylised camera in a browser over WebRTC, and as an MJPEG stream."""

from __future__ import annotations

import argparse
from pathlib import Path

from rtstyle.commands._options import REALTIME_STYLE


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="serve a web page that stylises the browser's camera (WebRTC)",
        description="Serve a page that sends the browser's camera to this machine over "
                    "WebRTC and shows it stylised; with --source, also /stream.mjpg for "
                    "OBS or any browser. Binds to loopback unless --host says otherwise; "
                    "any other bind needs a token (one is generated and printed).")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free)")
    p.add_argument("--style", default=REALTIME_STYLE,
                   help=f"style new clients and the stream start with (default {REALTIME_STYLE})")
    p.add_argument("--style-dir", type=Path, default=None, metavar="DIR",
                   help="paintings offered for style-swap (default $RTSTYLE_HOME/paintings)")
    p.add_argument("--backend", default="auto", help="engine backend (default auto)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads per engine")
    p.add_argument("--style-size", type=int, default=256, metavar="PX",
                   help="style-swap: longer side of paintings, uploads included (default 256)")
    p.add_argument("--swap-patches", type=int, default=None, metavar="N",
                   help="style-swap: keep at most N style patches (default: all)")
    p.add_argument("--max-clients", type=int, default=4, metavar="N",
                   help="browser clients served at once; more get a 'server full' message "
                        "(default 4)")
    p.add_argument("--token", default=None,
                   help="require this token (?token=T or the X-Rtstyle-Token header); "
                        "generated when binding beyond loopback without one")
    p.add_argument("--https", action="store_true",
                   help="serve over HTTPS, which phones need for the camera: with --cert/--key, "
                        "or a self-signed certificate made on first use and kept in "
                        "$RTSTYLE_HOME/serve/tls (the browser asks to accept it once)")
    p.add_argument("--cert", type=Path, default=None, metavar="PEM",
                   help="TLS certificate (chain) for HTTPS; implies --https; needs --key")
    p.add_argument("--key", type=Path, default=None, metavar="PEM",
                   help="the certificate's private key (unencrypted PEM)")
    p.add_argument("--source", default=None, metavar="CAMERA|FILE|URL",
                   help="a server-side source, stylised for /stream.mjpg")
    p.add_argument("--size", default=None, metavar="WxH",
                   help="process --source at this size (default: its own)")
    p.add_argument("--stabilize", action="store_true",
                   help="less flicker: carry the last output along the optical flow")
    p.add_argument("--ice-address", action="append", default=None, metavar="IP",
                   help="offer only this address for WebRTC media (repeatable; default "
                        "127.0.0.1 on a loopback bind, every interface otherwise)")
    p.add_argument("--web-runtime", type=Path, default=None, metavar="DIR",
                   help="ONNX Runtime Web files for on-device mode (/?on=device); default: "
                        "where --fetch-web-runtime put them")
    p.add_argument("--fetch-web-runtime", action="store_true",
                   help="download the pinned onnxruntime-web with npm for on-device mode, "
                        "then exit")
    p.add_argument("--instant", type=float, default=90.0, metavar="SECONDS",
                   help="after a page's \"Use my painting\", train a real-time net for it in "
                        "the background (`rtstyle train --instant`, SECONDS of training; "
                        "default 90; 0: off) and switch that page to it when ready")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from rtstyle.engines.swap import Budget
    from rtstyle.errors import RtstyleError
    from rtstyle.limits import check_count, check_threads, parse_size

    try:
        from rtstyle.serve.app import ServeConfig, resolve_token, serve
        from rtstyle.serve.ice import check_addresses
    except ImportError as e:
        raise RtstyleError(f"rtstyle serve needs aiohttp and aiortc ({e}); install them with "
                           "`pip install 'rtstyle[serve]'`") from None

    if args.fetch_web_runtime:
        from rtstyle.serve.web_runtime import PACKAGE, VERSION, fetch

        print(f"{PACKAGE} {VERSION} -> {fetch(args.web_runtime)}")
        return 0
    check_count(args.max_clients, "--max-clients", 64)
    if not 0 <= args.instant <= 3600:
        raise RtstyleError(f"--instant {args.instant:g} is out of range; give seconds of "
                           "training from 0 (off) to 3600")
    check_count(args.port, "--port", 65535, low=0)
    check_threads(args.threads)
    if args.style_size < 16:
        raise RtstyleError(f"--style-size {args.style_size} is too small; use at least 16 px")
    if args.style_dir is not None and not args.style_dir.is_dir():
        raise RtstyleError(f"--style-dir {args.style_dir} is not a folder of paintings")
    tls = None
    if args.https or args.cert or args.key:
        from rtstyle.serve.tls import context

        tls = context(args.cert, args.key, args.host)
    token, generated = resolve_token(args.host, args.token)
    if generated:
        print(f"rtstyle serve: {args.host} is not loopback, so clients need this token: {token}")
    config = ServeConfig(
        host=args.host, port=args.port, style=args.style, backend=args.backend,
        threads=args.threads, swap=Budget(args.style_size, args.swap_patches),
        max_clients=args.max_clients, token=token, source=args.source,
        source_size=tuple(parse_size(args.size)) if args.size else None,
        stabilize=args.stabilize, paintings=args.style_dir,
        ice_addresses=check_addresses(args.ice_address) if args.ice_address else None,
        tls=tls, web_runtime=args.web_runtime, instant_seconds=args.instant or None)
    asyncio.run(serve(config, ready=lambda line: print(line, flush=True)))
    return 0
