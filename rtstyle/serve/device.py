"""On-device mode (`/?on=device`): files for a browser that stylises its own camera.

The server only hands out files here: the lite styles as browser graphs (canvas RGBA
in and out, see rtstyle.export.web) and ONNX Runtime Web's files (see web_runtime).
The page runs them itself; no video, no WebRTC and no POST reach the server.

Every response carries COOP/COEP, which make the page cross-origin isolated: without
that the browser gives WASM no SharedArrayBuffer, and ONNX Runtime no threads.

Routes:
  GET /api/device                      the runtime's version and each lite style's model URL
  GET /device/models/{name}.onnx       a lite style as a browser graph (?precision=)
  GET /device/ort/{file}               the runtime's loader, module and .wasm files
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp import web

from rtstyle.serve import web_runtime
from rtstyle.serve.gallery import locked
from rtstyle.styles.catalogue import Style, cache_dir, list_styles

# Measured in headless Chromium on WASM (docs/serve.md): int8 ran slowest, fp16 no faster
# than fp32 beyond the noise, and fp32 is the exact net, so the page asks for fp32 unless
# told otherwise (?precision=).
PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_PRECISION = "fp32"
ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin",
             "Cross-Origin-Embedder-Policy": "require-corp"}
TYPES = {".mjs": "text/javascript", ".wasm": "application/wasm"}


def _not_found(message: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=json.dumps({"error": message}), content_type="application/json")


def lite_styles() -> list[Style]:
    """The styles a browser can run in real time: the lite nets."""
    return [s for s in list_styles() if s.meta.get("arch") == "lite" and "error" not in s.meta]


def browser_model(style: Style, precision: str) -> Path:
    """The style's browser graph at `precision`, exported once and cached."""
    import onnx

    from rtstyle.export.web import rgba_graph
    from rtstyle.styles.exports import ExportRequest, export_style, onnx_file

    src = onnx_file(style)  # named by the style's digest and the rtstyle version
    cached = cache_dir("web") / f"{src.stem.removesuffix('-fp32')}-{precision}-rgba.onnx"
    if not cached.exists():
        if precision == "fp32":
            frames = src
        else:  # the public export: fp16 by conversion, int8 calibrated on the sample photo
            from rtstyle.styles.preview import SAMPLE_PHOTO

            frames = export_style(ExportRequest(
                style.name, precision=precision, output=cached.with_suffix(".frames.onnx"),
                calibrate=[SAMPLE_PHOTO] if precision == "int8" else None))
        onnx.save(rgba_graph(onnx.load(str(frames))), str(cached))
    return cached


class Device:
    def __init__(self, runtime_override: Path | None) -> None:
        self.runtime = web_runtime.locate(runtime_override)

    async def info(self, request: web.Request) -> web.Response:
        return web.json_response({
            "runtime": self.runtime is not None and web_runtime.VERSION,
            "builds": web_runtime.BUILDS, "precision": DEFAULT_PRECISION,
            "styles": [{"name": s.name, "model": f"/device/models/{s.name}.onnx"}
                       for s in lite_styles()]})

    async def model(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        style = next((s for s in lite_styles() if s.name == name), None)
        if style is None:
            raise _not_found(f"no lite style '{name}'; on-device mode runs the lite styles "
                             "in /api/device")
        precision = request.query.get("precision", DEFAULT_PRECISION)
        if precision not in PRECISIONS:
            raise web.HTTPBadRequest(text=json.dumps({"error": "precision must be one of "
                                                      + ", ".join(PRECISIONS)}),
                                     content_type="application/json")
        path = await asyncio.get_running_loop().run_in_executor(
            None, locked, browser_model, style, precision)
        return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})

    async def runtime_file(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["file"]
        if self.runtime is None:
            raise _not_found("the browser runtime is not installed; run `rtstyle serve "
                             "--fetch-web-runtime` once (needs npm), or give --web-runtime DIR")
        if name not in web_runtime.FILES:
            raise _not_found(f"no runtime file '{name}'")
        return web.FileResponse(self.runtime / name,
                                headers={"Content-Type": TYPES[Path(name).suffix],
                                         "Cache-Control": "max-age=86400"})


async def _isolate(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(ISOLATION)


def register(app: web.Application, server) -> None:
    """Add the on-device routes and the isolation headers to the serve app."""
    device = Device(server.config.web_runtime)
    app.on_response_prepare.append(_isolate)
    app.router.add_get("/api/device", device.info)
    app.router.add_get("/device/models/{name}.onnx", device.model)
    app.router.add_get("/device/ort/{file}", device.runtime_file)
