"""The dashboard for metering staff: static pages served by the server, talking to the same
API (so the numbers shown are the numbers the API returns). No CDN: every asset is local.
Plain ES modules (static/js, one per page) and the vendored Apache ECharts
(vendor/echarts/<version>, its licence beside it; deploy/scripts/vendor-web.sh) — no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/ui/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")
