"""The dashboard in Debian's Chromium (headless, driven by Playwright; never a downloaded
browser): sign in, the overview shows the API's numbers, confirm an anomaly, trigger a
re-read, download a CSV. A screenshot of each page is kept in artifacts/screenshots."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from server.api.app import create_app
from server.checks.rules import run_rules
from server.db.migrate import migrate
from server.ingest.store import Batch, store
from server.settings import Settings
from tests.conftest import IN_CI, Broker, free_port
from tests.server.helpers import PASSWORD, add_meters, auth_headers

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def live_server(pg_url: str, mqtt_broker: Broker, tmp_path: Path) -> Iterator[tuple[str, str]]:
    import uvicorn

    migrate(pg_url)
    yesterday = datetime.now(TZ).date() - timedelta(days=1)
    add_meters(pg_url, [{"id": f"M{i}", "address": f"{i:012d}"} for i in range(1, 6)],
               gateway="gw-1", area="A1")
    add_meters(pg_url, [{"id": "N1", "address": "000000000101"}], gateway="gw-2", area="A2")
    rows = []
    for back in range(3, -1, -1):
        day = yesterday - timedelta(days=back)
        ts = datetime(day.year, day.month, day.day, tzinfo=TZ).astimezone(UTC) + timedelta(days=1)
        for meter in ("M1", "M2", "M3", "N1"):
            value = 100.0 + 10 * (3 - back)
            if meter == "M2" and back == 0:
                value = 50.0  # a register that ran backwards yesterday
            rows.append((meter, "energy_import_total", ts, value, "freeze", "scheduled", ()))
    with psycopg.connect(pg_url) as conn:
        b = Batch()
        b.add_rows("gw-1", "seed", rows)
        store(conn, b, tz="Asia/Shanghai")
        run_rules(conn, yesterday, "Asia/Shanghai")
    port = free_port()
    settings = Settings(database_url=pg_url, mqtt_url=mqtt_broker.url, data_dir=tmp_path,
                        auth_secret="dashboard-test-secret-0123456789", jobs_enabled=False,
                        ingest_enabled=False, http_port=port)  # type: ignore[arg-type]
    app = create_app(settings, services=[])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", pg_url
    finally:
        server.should_exit = True
        thread.join(20)


def test_dashboard_in_chromium(live_server: tuple[str, str]) -> None:
    if not os.path.exists(CHROMIUM):
        reason = "Debian's chromium is not installed (.ci/run installs it)"
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    base, db = live_server
    client = httpx.Client(base_url=base)
    headers = auth_headers(client, "operator", db)  # creates test-operator
    api_rate = client.get("/api/completeness", headers=headers).json()["groups"][0]["rate"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1024, "height": 768}, accept_downloads=True)
        page.goto(base + "/ui/#/login")
        page.fill("#username", "test-operator")
        page.fill("#password", PASSWORD)
        page.click("#signin")
        page.wait_for_selector("#rate-yesterday")
        shown = page.inner_text("#rate-yesterday")
        assert shown == f"{100 * api_rate:.1f} %"  # the number the API returns
        page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
        page.click("#lang")  # 中文 -> English
        assert page.inner_text("#nav a[href='#/failed']") == "Failed meters"
        page.click("text=A1")
        page.wait_for_selector("main[data-page='areas']")
        page.screenshot(path=str(ARTIFACTS / "area.png"), full_page=True)
        # failed meters: download the CSV, trigger a re-read
        page.goto(base + "/ui/#/failed")
        page.wait_for_selector("button.reread")
        with page.expect_download() as dl:
            page.click("#download-csv")
        csv_path = dl.value.path()
        assert csv_path is not None and "meter_id" in Path(csv_path).read_text(encoding="utf-8-sig")
        page.screenshot(path=str(ARTIFACTS / "failed.png"), full_page=True)
        page.click("button.reread[data-meter='M4']")
        page.wait_for_selector("button.reread[data-meter='M4'][disabled]")
        with psycopg.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM reread_requests WHERE meter_id = 'M4'"
                                ).fetchone() == (1,)
        # anomalies: confirm the register decrease
        page.goto(base + "/ui/#/anomalies?status=open")
        page.wait_for_selector("button.act[data-status='confirmed']")
        page.once("dialog", lambda d: d.accept("checked on site"))
        page.click("button.act[data-status='confirmed']")
        # the list (filtered to open) reloads without the anomaly just confirmed
        page.wait_for_selector("button.act[data-status='confirmed']", state="detached")
        page.goto(base + "/ui/#/anomalies?status=confirmed")
        page.wait_for_selector("span.status:has-text('confirmed')")
        page.screenshot(path=str(ARTIFACTS / "anomalies.png"), full_page=True)
        with psycopg.connect(db) as conn:
            row = conn.execute("SELECT status, comment, updated_by FROM anomalies WHERE "
                               "meter_id = 'M2'").fetchone()
        assert row == ("confirmed", "checked on site", "test-operator")
        page.goto(base + "/ui/#/meters/M1")
        page.wait_for_selector("main[data-page='meters']")
        page.screenshot(path=str(ARTIFACTS / "meter.png"), full_page=True)
        page.goto(base + "/ui/#/gateways")
        page.wait_for_selector("main[data-page='gateways']")
        page.screenshot(path=str(ARTIFACTS / "gateways.png"), full_page=True)
        tablet = browser.new_page(viewport={"width": 768, "height": 1024})
        tablet.goto(base + "/ui/#/login")
        tablet.wait_for_selector("#signin")
        tablet.screenshot(path=str(ARTIFACTS / "tablet-login.png"))
        browser.close()
