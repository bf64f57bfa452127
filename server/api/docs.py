"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served
entirely by this server: the libraries are vendored (:mod:`server.web.vendored`) and each
page starts its library with a served script (``docs_assets/*.js``), so the pages work on an
offline intranet and under a Content-Security-Policy without inline script
(:data:`server.api.web_security.DOCS_CSP`). FastAPI's own pages (CDN assets, inline start-up
script) are switched off in :func:`server.api.app.create_app`.

The pages and their scripts are public (they hold no data); the OpenAPI document is
``/openapi.json`` (:mod:`server.api.openapi`).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from server.web import vendored

ASSETS = Path(__file__).parent / "docs_assets"
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"


def _page(title: str, head: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{head}</head><body>{body}</body></html>"
    )


def swagger_page(title: str, openapi_url: str) -> HTMLResponse:
    return _page(
        f"{title} - API (Swagger UI)",
        f'<link rel="stylesheet" href="{vendored.url("swagger-ui", "swagger-ui.css")}">',
        f'<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>'
        f'<script src="{vendored.url("swagger-ui", "swagger-ui-bundle.js")}"></script>'
        f'<script src="{vendored.url("swagger-ui", "swagger-ui-standalone-preset.js")}">'
        "</script>"
        f'<script src="{DOCS_PATH}/swagger-init.js"></script>',
    )


def redoc_page(title: str, openapi_url: str) -> HTMLResponse:
    return _page(
        f"{title} - API (ReDoc)",
        "",
        f'<div id="redoc" data-openapi-url="{escape(openapi_url)}"></div>'
        f'<script src="{vendored.url("redoc", "redoc.standalone.js")}"></script>'
        f'<script src="{REDOC_PATH}/redoc-init.js"></script>',
    )


def add_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` (plain routes, outside the OpenAPI document and the
    role matrix, like FastAPI's own) and the vendored libraries at ``/vendor``."""
    openapi_url = app.openapi_url or "/openapi.json"
    vendored.mount(app)

    async def docs(request: Request) -> Response:
        return swagger_page(app.title, openapi_url)

    async def redoc(request: Request) -> Response:
        return redoc_page(app.title, openapi_url)

    async def swagger_init(request: Request) -> Response:
        return FileResponse(ASSETS / "swagger-init.js", media_type="text/javascript")

    async def redoc_init(request: Request) -> Response:
        return FileResponse(ASSETS / "redoc-init.js", media_type="text/javascript")

    app.add_route(DOCS_PATH, docs, include_in_schema=False)
    app.add_route(f"{DOCS_PATH}/swagger-init.js", swagger_init, include_in_schema=False)
    app.add_route(REDOC_PATH, redoc, include_in_schema=False)
    app.add_route(f"{REDOC_PATH}/redoc-init.js", redoc_init, include_in_schema=False)
