"""The website: the chat widget's files (widget.js, its CSS and the socket.io client, which any
landlord's page can embed), and a demo landlord page that embeds it. Nothing from a CDN.

  /                          the demo page (a fictional landlord's "Report hate crime" page)
  /config.js                 the demo page's widget settings (window.HateCrimeChat)
  /widget.js, /widget.css    the widget
  /vendor/socket.io.min.js   the socket.io client the widget loads
  /demo.css, /favicon.svg    the demo page's own style and icon
  /health                    for the process supervisor
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from aiohttp import web

from bot.settings import Settings

STATIC = Path(__file__).parent / "static"
DEMO = STATIC / "demo"
EXIT_URL = "https://www.bbc.co.uk/weather"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
}

# Widget files are fetched by other sites' pages too: they may be loaded and read cross-origin
# (Cross-Origin-Resource-Policy, CORS for pages that pin them with integrity=), and are cached briefly
# then revalidated with their ETag, since the URL landlords embed never changes. The socket.io client
# changes only with a new vendored version.
WIDGET_CACHE = "public, max-age=300, must-revalidate"
VENDOR_CACHE = "public, max-age=86400"

# path -> (file, content type, Cache-Control, embeddable by other sites)
ASSETS = {
    "/widget.js": (STATIC / "widget.js", "text/javascript; charset=utf-8", WIDGET_CACHE, True),
    "/widget.css": (STATIC / "widget.css", "text/css; charset=utf-8", WIDGET_CACHE, True),
    "/vendor/socket.io.min.js": (STATIC / "vendor" / "socket.io.min.js", "text/javascript; charset=utf-8",
                                 VENDOR_CACHE, True),
    "/demo.css": (DEMO / "demo.css", "text/css; charset=utf-8", WIDGET_CACHE, False),
    "/favicon.svg": (DEMO / "favicon.svg", "image/svg+xml", WIDGET_CACHE, False),
}


# Everything that is not a page (the widget's files, /config.js, /health, the API's JSON, errors) may
# load nothing and be framed by nobody; the console's pages send their own (bot/web/console.py).
NOTHING_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGES = {"/"}  # the demo page: its own scripts and styles, and the chat's server (content_security_policy)


def content_security_policy(socket_origin: str) -> str:
    """The demo page's CSP: its own scripts and styles only, and the socket.io server (http for
    long-polling, ws for the WebSocket)."""
    ws_origin = socket_origin.replace("http", "ws", 1)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
        f"connect-src 'self' {socket_origin} {ws_origin}; "
        "object-src 'none'; frame-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


def widget_config(socket_origin: str) -> dict:
    return {"socketUrl": socket_origin, "socketPath": "/socket.io/", "exitUrl": EXIT_URL, "language": None}


def make_app(settings: Settings) -> web.Application:
    socket_origin = settings.rasa_public_url.rstrip("/")
    csp = content_security_policy(socket_origin)
    config_js = f"window.HateCrimeChat = {json.dumps(widget_config(socket_origin))};\n"

    @web.middleware
    async def headers(request: web.Request, handler):
        try:
            response = await handler(request)
        except web.HTTPException as error:
            response = error
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Content-Security-Policy", csp if request.path in PAGES else NOTHING_CSP)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if isinstance(response, web.HTTPException):
            raise response
        return response

    async def index(_: web.Request) -> web.Response:
        return web.Response(body=(DEMO / "index.html").read_bytes(), content_type="text/html", charset="utf-8")

    async def config(_: web.Request) -> web.Response:
        return web.Response(text=config_js, content_type="application/javascript", charset="utf-8")

    def asset(path: Path, content_type: str, cache: str, embeddable: bool):
        async def handler(request: web.Request) -> web.Response:
            # Read per request (they are small), so an edited file is served at once.
            body = path.read_bytes()
            # Weak: the same ETag for the plain and the gzipped body.
            etag = 'W/"%s"' % hashlib.sha256(body).hexdigest()[:32]
            common = {
                "ETag": etag,
                "Cache-Control": cache,
                "Vary": "Accept-Encoding",
                "Cross-Origin-Resource-Policy": "cross-origin" if embeddable else "same-origin",
            }
            if embeddable:  # public files: a page may load them with crossorigin and integrity (SRI)
                common["Access-Control-Allow-Origin"] = "*"
            if etag[2:] in request.headers.get("If-None-Match", ""):
                return web.Response(status=304, headers=common)
            response = web.Response(body=body, headers={**common, "Content-Type": content_type})
            response.enable_compression()
            return response

        return handler

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[headers])
    app.router.add_get("/", index)
    app.router.add_get("/config.js", config)
    for route, spec in ASSETS.items():
        app.router.add_get(route, asset(*spec))
    app.router.add_get("/health", health)
    from bot.web.console import add_routes

    add_routes(app, settings)  # the officers' console, under /console/
    from bot.web import api
    api.add_routes(app, settings)  # the partner API, under /api/ (docs/openapi.yaml)
    return app


def serve(settings: Settings) -> None:
    web.run_app(make_app(settings), host="0.0.0.0", port=settings.web_port, access_log=None, print=None)
