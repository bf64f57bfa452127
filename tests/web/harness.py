"""What the browser tests share: the live server over the seeded utility (tests/web/seed.py),
Debian's Chromium driven by Playwright (never a downloaded browser), signing in, waiting for
a page, and the screenshot directory (env METERLINK_SCREENSHOT_DIR, default a temporary
directory; CI keeps it as an artifact).

Every page a test opens is watched: a Content-Security-Policy violation, an uncaught
script error or a console error fails the test when the page is closed (:func:`check`)."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.api.app import create_app
from server.settings import Settings
from tests.conftest import IN_CI, Broker, _fresh_database, free_port
from tests.server.helpers import PASSWORD, auth_headers
from tests.web.seed import Seeded, seed

CHROMIUM = "/usr/bin/chromium"
SIZES = {"1440x900": (1440, 900), "1366x768": (1366, 768), "phone": (390, 844)}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def screenshot_dir() -> Path:
    """Where screenshots go: $METERLINK_SCREENSHOT_DIR, else one temporary directory."""
    configured = os.environ.get("METERLINK_SCREENSHOT_DIR")
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / "meterlink-screens"
    path.mkdir(parents=True, exist_ok=True)
    return path


def need_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        reason = "Debian's chromium is not installed (.ci/run installs it)"
        pytest.fail(reason) if IN_CI else pytest.skip(reason)


class Live:
    """The running server, an HTTP client of it and the seeded facts."""

    def __init__(self, base: str, db: str, client: httpx.Client, seeded: Seeded) -> None:
        self.base, self.db, self.client, self.seeded = base, db, client, seeded
        self._headers: dict[str, dict[str, str]] = {}

    def headers(self, role: str) -> dict[str, str]:
        """A bearer header for test-<role> (created on first use)."""
        if role not in self._headers:
            self._headers[role] = auth_headers(self.client, role, self.db)
        return self._headers[role]

    def get(self, path: str, role: str = "admin", **params: Any) -> Any:
        resp = self.client.get(path, params=params or None, headers=self.headers(role))
        assert resp.status_code == 200, (path, resp.status_code, resp.text)
        return resp.json()

    def has(self, path: str) -> bool:
        """Whether the server has the GET endpoint ``path`` (as the page finds out)."""
        paths = self.client.get("/openapi.json").json()["paths"]
        return path in paths and "get" in paths[path]


@pytest.fixture(scope="module")
def live(
    pg_admin_url: str, mqtt_broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """One server per test module (the tests of a module walk one utility in turn, as a
    clerk's day goes: the later ones see what the earlier ones did)."""
    import uvicorn

    db = _fresh_database(pg_admin_url, "mltest_web")
    pg_url = next(db)
    tmp_path = tmp_path_factory.mktemp("web")
    seeded = seed(pg_url)
    port = free_port()
    settings = Settings(
        database_url=pg_url,
        mqtt_url=mqtt_broker.url,
        data_dir=tmp_path,
        auth_secret="dashboard-test-secret-0123456789",
        jobs_enabled=False,
        ingest_enabled=False,
        http_port=port,
    )  # type: ignore[arg-type]
    app = create_app(settings, services=[])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            live = Live(base, pg_url, client, seeded)
            for role in ("admin", "operator", "viewer"):
                live.headers(role)
            yield live
    finally:
        server.should_exit = True
        thread.join(20)
        db.close()  # drops the database


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


WATCH = """
window.__problems = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.__problems.push('CSP ' + e.violatedDirective + ' ' + e.blockedURI));
"""


def open_page(browser: Any, base: str, lang: str = "zh", size: str = "1440x900") -> Any:
    """A new page in its own context (its own session storage), in ``lang``, in the
    utility's time zone, watched for CSP violations, script and console errors."""
    w, h = SIZES[size]
    ctx = browser.new_context(
        viewport={"width": w, "height": h}, timezone_id="Asia/Shanghai", accept_downloads=True
    )
    ctx.add_init_script(WATCH + f"localStorage.setItem('meterlink.lang', '{lang}');")
    page = ctx.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(f"script error: {e}"))
    page.on(
        "console",
        lambda m: (
            page.problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),  # a refused request (a wrong password's 401) is the page's to show
    )
    page.base = base
    return page


def check(page: Any) -> None:
    """No CSP violation, script error or console error on the page so far."""
    problems = list(page.problems) + page.evaluate("window.__problems || []")
    assert problems == [], problems


def sign_in(page: Any, role: str, lang: str = "zh") -> None:
    page.goto(page.base + "/ui/#/login")
    page.fill("#username", f"test-{role}")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_selector("main[data-page='report'][data-state='ready']")


def goto(page: Any, hash_: str, name: str | None = None) -> None:
    """Open ``#/…`` and wait until its page is drawn (or has shown its error)."""
    page.evaluate("document.querySelector('main').dataset.state = 'loading'")
    page.goto(page.base + "/ui/" + hash_)
    sel = "main[data-state='ready']"
    if name is not None:
        sel = f"main[data-page='{name}'][data-state='ready']"
    page.wait_for_selector(sel + ", main[data-state='error']")
    assert page.get_attribute("main", "data-state") == "ready", page.inner_text("main")


def reload(page: Any) -> None:
    page.evaluate("document.querySelector('main').dataset.state = 'loading'")
    page.reload()
    page.wait_for_selector("main[data-state='ready']")


def chart_option(page: Any, selector: str) -> Any:
    """The option of the ECharts instance drawn in ``selector`` (what the chart shows)."""
    return page.evaluate(
        """(sel) => { const el = document.querySelector(sel);
        const c = window.echarts.getInstanceByDom(el); if (!c) return null;
        const plain = (k, v) => (typeof v === 'function' ? undefined : v);
        return JSON.parse(JSON.stringify(c.getOption(), plain)); }""",
        selector,
    )


def shoot(page: Any, name: str) -> None:
    page.screenshot(path=str(screenshot_dir() / f"{name}.png"), full_page=True)
