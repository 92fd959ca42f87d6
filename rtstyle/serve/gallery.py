"""The page's style gallery: a picture for every menu entry.

A style's picture is the sample photo painted by it, from the same cached renderer as
`rtstyle styles preview` (rtstyle.styles.preview); a painting's is the painting itself,
scaled to the same height.

Route:
  GET /api/thumbnails/{id}.png     id: a menu id from /api/styles (style:NAME, painting:FILE)
"""

from __future__ import annotations

import asyncio
import json
import threading

import cv2
from aiohttp import web

from rtstyle.engines import paint_image
from rtstyle.styles.catalogue import find_style
from rtstyle.styles.preview import fit_height, thumbnail_png

# One thumbnail or browser graph (device.py) at a time: each is seconds of shared CPU.
RENDER_LOCK = threading.Lock()


def locked(fn, *args):
    """fn(*args) while holding RENDER_LOCK."""
    with RENDER_LOCK:
        return fn(*args)


def _painting_png(path) -> bytes:
    from rtstyle.images import read_image

    ok, buf = cv2.imencode(".png", fit_height(read_image(path)))
    return buf.tobytes()


class Gallery:
    def __init__(self, server) -> None:
        self.server = server

    async def thumbnail(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["id"]
        if not key.startswith(("style:", "painting:")):
            raise web.HTTPBadRequest(text=json.dumps({"error": "thumbnails exist for style: "
                                                      "and painting: ids from /api/styles"}),
                                     content_type="application/json")
        spec = self.server.spec(key)  # 400 for anything not on the menu
        loop = asyncio.get_running_loop()
        headers = {"Cache-Control": "max-age=3600"}
        if key.startswith("painting:"):
            body = await loop.run_in_executor(None, _painting_png, spec)
            return web.Response(body=body, content_type="image/png", headers=headers)
        path = await loop.run_in_executor(None, locked, thumbnail_png, find_style(spec),
                                          paint_image)
        return web.FileResponse(path, headers={**headers, "Content-Type": "image/png"})


def register(app: web.Application, server) -> None:
    app.router.add_get("/api/thumbnails/{id}.png", Gallery(server).thumbnail)
