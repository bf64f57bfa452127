"""The dashboard in Debian's Chromium (headless, driven by Playwright; never a downloaded
browser): sign in, the overview shows the API's numbers, confirm an anomaly, trigger a
re-read, download a CSV, pick a day on a meter's page (curve, consumption by tariff, raw
readings and events as the API gives them). A screenshot of each page is kept in
artifacts/screenshots."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
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


def PICKED(yesterday: date) -> date:  # noqa: N802 - the day picked on the meter page
    return yesterday - timedelta(days=1)


def meter_day(day: date) -> list[tuple[object, ...]]:
    """M1's day: a power curve and voltages every 15 minutes, a clock check and events."""
    t0 = datetime(day.year, day.month, day.day, tzinfo=TZ).astimezone(UTC)
    rows: list[tuple[object, ...]] = []
    for i in range(96):
        ts = t0 + timedelta(minutes=15 * i)
        rows.append(
            (
                "M1",
                "power_active_total",
                ts,
                round(0.4 + 0.05 * (i % 24), 3),
                "interval",
                "scheduled",
                (),
            )
        )
        rows.append(("M1", "voltage_a", ts, 221.0 + (i % 5) / 10, "interval", "scheduled", ()))
    rows += [
        ("M1", "clock_offset", t0 + timedelta(hours=12), 4.0, "clock", "scheduled", ()),
        ("M1", "cover_open_count", t0 + timedelta(minutes=30), 1.0, "event", "scheduled", ()),
        ("M1", "power_down_count", t0 + timedelta(minutes=30), 3.0, "event", "scheduled", ()),
    ]
    return rows


@pytest.fixture
def live_server(pg_url: str, mqtt_broker: Broker, tmp_path: Path) -> Iterator[tuple[str, str]]:
    import uvicorn

    migrate(pg_url)
    yesterday = datetime.now(TZ).date() - timedelta(days=1)
    add_meters(
        pg_url,
        # M5 is a DL/T 698.45 meter (issue 21): re-readable, shown by its protocol's name
        [
            {"id": f"M{i}", "address": f"{i:012d}", **({"protocol": "dlt698"} if i == 5 else {})}
            for i in range(1, 6)
        ],
        gateway="gw-1",
        area="A1",
    )
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
            if meter == "M1":  # tariff registers that add up to the total
                for i, share in enumerate((0.1, 0.3, 0.4, 0.2), start=1):
                    rows.append(
                        (
                            meter,
                            f"energy_import_t{i}",
                            ts,
                            round(value * share, 2),
                            "freeze",
                            "scheduled",
                            (),
                        )
                    )
    rows += meter_day(PICKED(yesterday))
    with psycopg.connect(pg_url) as conn:
        b = Batch()  # each gateway publishes its own meters (the server refuses the others)
        b.add_rows("gw-1", "seed", [r for r in rows if r[0] != "N1"])
        b.add_rows("gw-2", "seed", [r for r in rows if r[0] == "N1"])
        assert store(conn, b, tz="Asia/Shanghai").quarantined == 0
        run_rules(conn, yesterday, "Asia/Shanghai")
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
    try:
        yield f"http://127.0.0.1:{port}", pg_url
    finally:
        server.should_exit = True
        thread.join(20)


@pytest.fixture
def api_client(live_server: tuple[str, str]) -> Iterator[httpx.Client]:
    """An HTTP client of the live server, closed after the test (its pooled connection too)."""
    with httpx.Client(base_url=live_server[0]) as client:
        yield client


def test_dashboard_in_chromium(live_server: tuple[str, str], api_client: httpx.Client) -> None:
    if not os.path.exists(CHROMIUM):
        reason = "Debian's chromium is not installed (.ci/run installs it)"
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    base, db = live_server
    client = api_client
    headers = auth_headers(client, "operator", db)  # creates test-operator
    api_rate = client.get("/api/completeness", headers=headers).json()["groups"][0]["rate"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
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
        assert not page.is_visible("#nav a[href='#/audit']")  # the audit log is for admins
        page.click("text=A1")
        page.wait_for_selector("main[data-page='areas']")
        area_text = page.inner_text("main")
        assert "DL/T 698.45" in area_text and "DL/T 645-2007" in area_text  # the protocol column
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
        assert page.inner_text("button.reread[data-meter='M4']") == "Re-read requested"
        with psycopg.connect(db) as conn:
            assert conn.execute(
                "SELECT count(*) FROM reread_requests WHERE meter_id = 'M4'"
            ).fetchone() == (1,)
        # a meter-day a pending command already asks for: the button says so, nothing is
        # asked twice and the earlier request keeps its record
        day = client.get("/api/failed-meters", headers=headers).json()["date"]
        first = client.post(
            "/api/reread", headers=headers, json={"items": [{"meter": "M5", "date": day}]}
        ).json()
        assert first == {"requested": {"gw-1": 1}, "already_pending": {}}
        page.click("button.reread[data-meter='M5']")
        page.wait_for_selector("button.reread[data-meter='M5'][data-state='already_pending']")
        assert page.inner_text("button.reread[data-meter='M5']") == (
            "Re-read already pending (not asked twice)"
        )
        with psycopg.connect(db) as conn:
            assert conn.execute(
                "SELECT count(*), min(requested_by) FROM reread_requests WHERE meter_id = 'M5'"
            ).fetchone() == (1, "test-operator")
            assert conn.execute(
                "SELECT count(*) FROM gateway_commands WHERE args::text LIKE '%M5%'"
            ).fetchone() == (1,)
        # anomalies: confirm the register decrease
        page.goto(base + "/ui/#/anomalies?status=open")
        page.wait_for_selector("button.act[data-status='confirmed']")
        # cancelling the comment prompt does nothing: the anomaly stays open
        page.once("dialog", lambda d: d.dismiss())
        page.click("button.act[data-status='dismissed']")
        page.wait_for_timeout(500)
        with psycopg.connect(db) as conn:
            assert conn.execute(
                "SELECT count(*) FROM anomalies WHERE status <> 'open' OR comment IS NOT NULL"
            ).fetchone() == (0,)
        page.once("dialog", lambda d: d.accept("checked on site"))
        page.click("button.act[data-status='confirmed']")
        # the list (filtered to open) reloads without the anomaly just confirmed
        page.wait_for_selector("button.act[data-status='confirmed']", state="detached")
        page.goto(base + "/ui/#/anomalies?status=confirmed")
        page.wait_for_selector("span.status:has-text('confirmed')")
        page.screenshot(path=str(ARTIFACTS / "anomalies.png"), full_page=True)
        with psycopg.connect(db) as conn:
            row = conn.execute(
                "SELECT status, comment, updated_by FROM anomalies WHERE meter_id = 'M2'"
            ).fetchone()
        assert row == ("confirmed", "checked on site", "test-operator")
        # a meter's page: yesterday (utility time zone) by default, then a picked day
        yesterday = datetime.now(TZ).date() - timedelta(days=1)
        page.goto(base + "/ui/#/meters/M1")
        page.wait_for_selector(f"main[data-page='meters'][data-date='{yesterday}']")
        assert page.input_value("#meter-date") == yesterday.isoformat()
        picked = PICKED(yesterday)
        page.fill("#meter-date", picked.isoformat())
        page.wait_for_selector(f"main[data-page='meters'][data-date='{picked}']")
        check_meter_page(page, client, headers, picked)
        page.screenshot(path=str(ARTIFACTS / "meter.png"), full_page=True)
        page.click("#raw-next")  # the second page of raw readings
        page.wait_for_selector("#raw-range:has-text('51–100')")
        api_raw = client.get(
            f"/api/meters/M1/readings?date={picked}&limit=50&offset=50", headers=headers
        ).json()
        assert page.locator("#raw span.num").all_inner_texts() == [
            js_number(x["value"]) for x in api_raw["items"]
        ]
        assert page.input_value("#meter-date") == picked.isoformat()
        page.click("#lang")  # English -> 中文: every heading of the page has its Chinese name
        page.wait_for_selector("h3:has-text('事件记录')")
        for text in (
            "负荷曲线",
            "日用电量（按费率）",
            "原始读数",
            "数据日期",
            "尖",
            "谷",
            "开表盖次数",
        ):
            assert page.locator(f"main:has-text('{text}')").count() == 1, text
        page.screenshot(path=str(ARTIFACTS / "meter-zh.png"), full_page=True)
        page.goto(base + "/ui/#/gateways")
        page.wait_for_selector("main[data-page='gateways']")
        page.screenshot(path=str(ARTIFACTS / "gateways.png"), full_page=True)
        check_audit_page(browser, base, client, db)
        tablet = browser.new_page(viewport={"width": 768, "height": 1024})
        tablet.goto(base + "/ui/#/login")
        tablet.wait_for_selector("#signin")
        tablet.screenshot(path=str(ARTIFACTS / "tablet-login.png"))
        browser.close()


def check_audit_page(browser: object, base: str, client: httpx.Client, db: str) -> None:
    """An admin's audit page: the API's newest rows (the operator's confirmation and re-read
    among them), a filter by actor, the next page; an operator who types the address is
    told it is for admins."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    admin = auth_headers(client, "admin", db)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(base + "/ui/#/login")
    page.fill("#username", "test-admin")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_selector("#rate-yesterday")
    page.click("#lang")  # 中文 -> English (the language is remembered: set it for the screenshot)
    if page.inner_text("#lang") != "中文":
        page.click("#lang")
    page.click("#nav a[href='#/audit']")
    page.wait_for_selector("main[data-page='audit'] #audit-rows")
    api = client.get("/api/audit", params={"limit": 50}, headers=admin).json()
    assert page.locator("#audit-rows .audit-action").all_inner_texts() == [
        r["action"] for r in api["items"]
    ]
    assert page.inner_text("#audit-range") == f"1–{min(50, api['total'])} of {api['total']}"
    assert "anomaly.status" in page.inner_text("#audit-rows")
    assert "command.queued" in page.inner_text("#audit-rows")
    page.screenshot(path=str(ARTIFACTS / "audit.png"), full_page=True)
    mine = client.get(
        "/api/audit", params={"actor": "test-operator", "limit": 50}, headers=admin
    ).json()
    assert 2 <= mine["total"] < api["total"]
    page.fill("#f-actor", "test-operator")
    page.click("#audit-search")
    n = mine["total"]
    page.wait_for_selector(f"#audit-range:text-is('1–{min(50, n)} of {n}')")
    assert "actor=test-operator" in page.evaluate("location.hash")
    assert page.locator("#audit-rows .audit-action").all_inner_texts() == [
        r["action"] for r in mine["items"]
    ]
    page.screenshot(path=str(ARTIFACTS / "audit-filtered.png"), full_page=True)
    page.fill("#f-from", (date.today() + timedelta(days=2)).isoformat())  # nothing after then
    page.click("#audit-search")
    page.wait_for_selector("#audit-range:text-is('0–0 of 0')")
    page.click("#lang")
    page.wait_for_selector("h2:text-is('审计日志')")
    assert page.inner_text("#nav a[href='#/audit']") == "审计日志"
    page.close()
    operator = browser.new_page()
    operator.goto(base + "/ui/#/login")
    operator.fill("#username", "test-operator")
    operator.fill("#password", PASSWORD)
    operator.click("#signin")
    operator.wait_for_selector("#rate-yesterday")
    assert not operator.is_visible("#nav a[href='#/audit']")
    operator.goto(base + "/ui/#/audit")
    operator.wait_for_selector("#audit-refused")
    operator.close()


def js_number(v: float) -> str:
    """How the page's JavaScript prints a number the API sent."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def check_meter_page(
    page: object, client: httpx.Client, headers: dict[str, str], day: date
) -> None:
    """The numbers the meter page shows for ``day`` are the API's."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    raw = client.get(f"/api/meters/M1/readings?date={day}&limit=50", headers=headers).json()
    curve = client.get(
        "/api/meters/M1/curve",
        headers=headers,
        params={"quantity": "power_active_total", "start": raw["start"], "end": raw["end"]},
    ).json()
    freeze = client.get(
        f"/api/meters/M1/freeze?start={day - timedelta(days=1)}&end={day}", headers=headers
    ).json()["freezes"]
    events = client.get(
        f"/api/meters/M1/events?date={day}&days=31&limit=20", headers=headers
    ).json()
    assert len(curve["points"]) == 96 and raw["total"] == 2 * 96 + 3
    # the curve: one dot per point, each with its value
    titles = page.locator("svg.chart circle title").all_text_contents()
    assert [x.split(": ")[1] for x in titles] == [f"{p['value']:.2f} kW" for p in curve["points"]]
    # ... at the utility's local times: the day starts at 00:00 and ends at 23:45
    assert (titles[0].split(": ")[0], titles[-1].split(": ")[0]) == ("00:00", "23:45")
    # the day's consumption, total and by tariff: today's freeze minus yesterday's
    by = {(f["data_date"], f["quantity"]): f["value"] for f in freeze}
    for q in (
        "energy_import_total",
        "energy_import_t1",
        "energy_import_t2",
        "energy_import_t3",
        "energy_import_t4",
    ):
        want = f"{by[(day.isoformat(), q)] - by[((day - timedelta(days=1)).isoformat(), q)]:.2f}"
        assert page.inner_text(f"#daily span[data-date='{day}'][data-q='{q}']") == want, q
        if q == "energy_import_total":
            assert page.inner_text("#day-kwh") == f"{want} kWh"
    # raw readings: the first page, in the API's order, and the count
    assert page.locator("#raw span.num").all_inner_texts() == [
        js_number(x["value"]) for x in raw["items"]
    ]
    assert page.inner_text("#raw-range") == f"1–50 of {raw['total']}"
    # events: the API's, newest first
    assert events["total"] == 3
    assert page.locator("#events span.num").all_inner_texts() == [
        js_number(x["value"]) for x in events["items"]
    ]
    assert "Cover-open count" in page.inner_text("#events")
