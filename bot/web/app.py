"""The website: the chat page (socket.io to the Rasa server), served without any CDN."""
from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from bot.settings import Settings

STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def make_app(settings: Settings) -> web.Application:
    socket_origin = settings.rasa_public_url.rstrip("/")
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        f"connect-src 'self' {socket_origin} {socket_origin.replace('http', 'ws', 1)}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )

    @web.middleware
    async def headers(request: web.Request, handler):
        response = await handler(request)
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = csp
        return response

    async def index(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "chat.html")

    async def config_js(_: web.Request) -> web.Response:
        config = {"socketUrl": socket_origin, "socketPath": "/socket.io/"}
        return web.Response(text=f"window.HCBOT_CONFIG = {json.dumps(config)};\n", content_type="application/javascript")

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[headers])
    app.router.add_get("/", index)
    app.router.add_get("/config.js", config_js)
    app.router.add_get("/health", health)
    app.router.add_static("/static/", STATIC)
    return app


def serve(settings: Settings) -> None:
    web.run_app(make_app(settings), host="0.0.0.0", port=settings.web_port, access_log=None, print=None)
