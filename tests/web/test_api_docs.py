"""The API documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), in Debian's
Chromium with every request to another host refused (an offline intranet): both render the
operations from this server's own files, under the documentation CSP (a violation is a
console error, and fails the test). Screenshots go to artifacts/screenshots.

The server runs without its lifespan (no database or broker): the pages, the vendored
libraries and the OpenAPI document need neither."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.api.app import create_app
from server.api.web_security import DOCS_CSP
from server.settings import Settings
from tests.conftest import IN_CI, free_port

CHROMIUM = "/usr/bin/chromium"
# ReDoc 2.x always draws the Redocly logo from its CDN (no option turns it off): the CSP
# blocks it before any request leaves (and the page hides the broken image). The one
# console error allowed.
REDOC_LOGO_BLOCKED = "Loading the image 'https://cdn.redoc.ly/redoc/logo-mini.svg' violates"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    port = free_port()
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        mqtt_url="mqtt://127.0.0.1:1",
        data_dir=tmp_path_factory.mktemp("docs"),
        auth_secret="docs-test-secret-0123456789-abcdef",
        jobs_enabled=False,
        http_port=port,
    )  # type: ignore[arg-type]
    app = create_app(settings, services=[])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


def test_the_pages_name_only_this_server(docs_server: str) -> None:
    with httpx.Client(base_url=docs_server) as client:
        for path in ("/docs", "/redoc"):
            page = client.get(path)
            assert page.status_code == 200
            assert page.headers["content-security-policy"] == DOCS_CSP
            assert "http://" not in page.text and "https://" not in page.text, path
            assert "<script>" not in page.text  # every script is a served file
            for src in page.text.split('src="')[1:]:
                asset = client.get(src.split('"', 1)[0])
                assert asset.status_code == 200, src
                assert "javascript" in asset.headers["content-type"], src
    assert "'unsafe-inline'" not in DOCS_CSP.split("script-src", 1)[1].split(";", 1)[0]
    assert "'unsafe-eval'" not in DOCS_CSP


@pytest.mark.parametrize(
    ("path", "ready", "operation"),
    [
        ("/docs", ".opblock-summary-path", "/api/anomalies"),
        ("/redoc", "[data-section-id^='tag/']", "/api/anomalies"),
    ],
)
def test_docs_render_offline_in_chromium(
    docs_server: str, path: str, ready: str, operation: str
) -> None:
    if not os.path.exists(CHROMIUM):
        reason = "Debian's chromium is not installed (.ci/run installs it)"
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    elsewhere: list[str] = []
    errors: list[str] = []

    def offline(route: Any) -> None:
        if route.request.url.startswith(docs_server + "/") or route.request.url.startswith(
            ("data:", "blob:")
        ):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.route("**/*", offline)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(docs_server + path)
            page.wait_for_selector(ready, timeout=30_000)
            page.wait_for_function(
                "t => document.body.innerText.includes(t)", arg=operation, timeout=30_000
            )
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / f"api{path.replace('/', '-')}.png"))
            text = page.inner_text("body")
        finally:
            browser.close()
    assert "meterlink" in text
    assert not elsewhere, elsewhere
    assert not [e for e in errors if not e.startswith(REDOC_LOGO_BLOCKED)], errors
