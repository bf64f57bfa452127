"""The metering staff's workbench in Debian's Chromium (issue 19), over a seeded utility
(tests/web/seed.py): each workflow walked in zh and en, the numbers on the page compared
with the API's. Every page is watched for CSP violations, script and console errors.

* sign-in errors in words, the user and role shown, actions hidden from roles;
* the collection report down to a meter (threshold line, groups below it, drill-down);
* the failed list filtered, bulk re-read and its outcome after a reload, 召测;
* the meter page (archive card, 00:00–24:00 curves, the day whose only reading is its
  daily freeze, numbers as the API gives them);
* anomaly detail and workflow (evidence chart, comment dialog, confirm);
* line loss, concentrators, archive tree and search, administration;
* screenshots of every page at 1440×900, 1366×768 and a phone (390×844), in Chinese (and
  the main pages in English), into $METERLINK_SCREENSHOT_DIR (CI keeps them as an
  artifact); each page must draw without an error or a horizontal scrollbar on the page
  itself (wide tables scroll inside their own box).

All tests of this module walk one seeded utility on one server, in order.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from tests.web.harness import (
    SIZES,
    Live,
    chart_option,
    check,
    goto,
    open_page,
    reload,
    shoot,
    sign_in,
)

# a word of a snake_case code or a key of the dictionary that leaked into the page text
LEAK = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")
CJK = re.compile("[\u4e00-\u9fff]")


def no_leaks(page: Any) -> None:
    text = page.inner_text("main") + page.inner_text("header")
    assert LEAK.findall(text) == [], LEAK.findall(text)


def pct(rate: float | None, digits: int = 2) -> str:
    return "–" if rate is None else f"{100 * rate:.{digits}f} %"


def test_sign_in_errors_roles_and_languages(live: Live, browser: Any) -> None:
    for lang, wrong, user_role in (
        ("zh", "用户名或密码错误。", "test-viewer · 查看员"),
        ("en", "Wrong user name or password.", "test-viewer · viewer"),
    ):
        page = open_page(browser, live.base, lang)
        page.goto(live.base + "/ui/#/login")
        page.fill("#username", "test-viewer")
        page.fill("#password", "not the password")
        with page.expect_response("**/api/auth/login"):
            page.click("#signin")
        page.wait_for_selector("#login-error:not(:empty)")
        assert page.inner_text("#login-error") == wrong  # in words, never a bare "401"
        assert page.input_value("#password") == ""
        shoot(page, f"login-error-{lang}")
        sign_in(page, "viewer")
        assert page.inner_text("#who") == user_role
        # a viewer sees no administration, no re-read and no 召测
        assert not page.is_visible("#nav a[href='#/admin']")
        goto(page, "#/failed", "failed")
        assert page.locator("#reread-selected").count() == 0
        assert page.locator("button.read-now").count() == 0
        goto(page, "#/admin")
        assert page.is_visible("#audit-refused")
        no_leaks(page)
        check(page)
        page.context.close()
    # the 401 the page's own login gets is not mistaken for an expired session elsewhere
    page = open_page(browser, live.base, "zh")
    sign_in(page, "operator")
    page.evaluate("sessionStorage.setItem('meterlink.token', 'revoked')")
    page.goto(live.base + "/ui/#/anomalies")
    page.wait_for_selector("#login-error:has-text('登录已过期')")
    page.context.close()


def test_collection_report_down_to_a_meter(live: Live, browser: Any) -> None:
    y = live.seeded.yesterday
    rep = live.get("/api/reports/collection", by="area", date=str(y))
    for lang in ("zh", "en"):
        page = open_page(browser, live.base, lang)
        sign_in(page, "operator")
        goto(page, f"#/report?by=area&date={y}", "report")
        assert page.inner_text("#rate-yesterday") == pct(rep["summary"]["rate"])
        # the alert line: the concentrators off line now, as the API lists them
        offline = live.get("/api/concentrators", online="false")
        assert offline["total"] == 1  # the seed's gw-3
        words = {"zh": "离线集中器 1 台", "en": "Concentrators off line: 1"}[lang]
        assert page.inner_text("#alert-offline strong") == words
        gws = page.locator("#alert-offline a.offline-gw").all_inner_texts()
        assert gws == [g["id"] for g in offline["items"]] == ["gw-3"]
        assert page.inner_text("#rate-first") == pct(rep["summary"]["rate_first"])
        # every group the API says is under the threshold is marked, and no other
        below = {g["key"] for g in rep["items"] if g["below_threshold"]}
        marked = set(
            page.locator("#report-table tr.below span.group").evaluate_all(
                "els => els.map(e => e.dataset.key)"
            )
        )
        assert marked == below == {"A1"}
        for g in rep["items"]:
            assert page.inner_text(f"span.rate[data-key='{g['key']}']") == pct(g["rate"])
        # the trend: a readable axis (not 0–100 %), gridlines, the 98 % line, red days
        trend = chart_option(page, "#trend-chart")
        assert 0 < trend["yAxis"][0]["min"] < 0.98 and trend["yAxis"][0]["max"] == 1
        assert trend["yAxis"][0]["splitLine"]["show"] is True
        assert trend["series"][0]["markLine"]["data"][0]["yAxis"] == rep["threshold"]
        api_trend = live.get("/api/reports/collection/trend", days=60, end=str(y))["items"]
        rates = [d["rate"] if d["due"] else None for d in api_trend[-30:]]
        assert trend["series"][0]["data"] == rates
        shoot(page, f"report-{lang}")
        # drill down: A1's meters not read, then one meter
        page.click("#report-table a.drill[data-key='A1']")
        page.wait_for_selector("#drill-table")
        drill = live.get(
            "/api/reports/collection/meters",
            by="area",
            key="A1",
            read="false",
            date=str(y),
            period="day",
            limit=200,
        )
        assert page.locator("#drill-table a.drill-meter").all_inner_texts() == [
            m["meter_id"] for m in drill["items"]
        ]
        page.click("#drill-table a.drill-meter >> nth=0")
        page.wait_for_selector("main[data-page='meters'][data-state='ready'] #archive-card")
        assert drill["items"][0]["meter_id"] in page.inner_text("main h2")
        # months side by side: each month's rate as the API gives it, the line on the chart
        goto(page, "#/report?period=month&by=area", "report")
        page.click("#tab-months")
        page.wait_for_selector("main[data-state='ready'] #months-table")
        months = live.get("/api/reports/collection/months", by="area", months=6, limit=1000)
        heads = page.locator("#months-table th span.month-head").all_inner_texts()
        assert [h.rstrip(" *") for h in heads] == [p["month"] for p in months["periods"]]
        shown = 0
        for g in [months["summary"], *months["items"]]:
            row = page.locator(f"#months-table tr:has(span.group[data-key='{g['key']}'])")
            for m in g["months"]:
                if m["due"]:
                    cell = row.locator(f"span.rate[data-month='{m['month']}']")
                    assert cell.inner_text() == pct(m["rate"]), (g["key"], m)
                    assert ("below" in (cell.get_attribute("class") or "")) is m["below_threshold"]
                    shown += 1
        assert shown >= 2
        chart = chart_option(page, "#months-chart")
        rates = [m["rate"] if m["due"] else None for m in months["summary"]["months"]]
        assert chart["series"][0]["data"] == rates
        assert chart["series"][0]["markLine"]["data"][0]["yAxis"] == months["threshold"]
        assert chart["xAxis"][0]["data"] == [p["month"] for p in months["periods"]]
        shoot(page, f"report-months-{lang}")
        no_leaks(page)
        check(page)
        page.context.close()


def test_failed_list_bulk_reread_and_read_now(live: Live, browser: Any) -> None:
    y = live.seeded.yesterday
    page = open_page(browser, live.base, "zh")
    sign_in(page, "operator")
    goto(page, f"#/failed?date={y}&area_id=A1", "failed")
    api_rows = failed_rows(live, y, area="A1")
    assert page.locator("#failed-table tbody a[href^='#/meters/']").all_inner_texts() == [
        r["meter_id"] for r in api_rows
    ]
    assert page.inner_text("#failed-range") == f"共 {len(api_rows)} 条，第 1–{len(api_rows)} 条"
    # reasons and categories in Chinese: the offline concentrator's meters
    offline = [r["meter_id"] for r in api_rows if r["reason"] == "concentrator_offline"]
    page.click("button.cat[data-cat='concentrator_offline']")
    page.wait_for_selector("button.cat.active[data-cat='concentrator_offline']")
    page.wait_for_selector("main[data-state='ready']")
    assert page.locator("#failed-table tbody a[href^='#/meters/']").all_inner_texts() == offline
    assert set(page.locator("#failed-table span.category").all_inner_texts()) == {"集中器离线"}
    # the server's words of each reason (reason_text, asked in the page's language: the page
    # translates nothing itself)
    titles = page.locator("#failed-table span.reason").all_inner_texts()
    assert len(titles) == len(offline) and all(CJK.search(x) for x in titles), titles
    no_leaks(page)
    shoot(page, "failed-filtered-zh")
    # bulk re-read of the meters that can be re-read (the Modbus meter keeps no history):
    # each one's outcome is shown, and kept
    goto(page, f"#/failed?date={y}&area_id=A1", "failed")
    assert page.locator("input.pick[value='M6']").count() == 0
    offline = ["M5", "M7"]
    for m in offline:
        page.check(f"input.pick[value='{m}']")
    assert page.inner_text("#picked") == f"已选 {len(offline)} 条"
    page.click("#reread-selected")
    page.wait_for_selector("#toast.show")
    assert page.inner_text("#toast") == f"补抄下发结果：新下发 {len(offline)} 个，已在进行 0 个"
    page.wait_for_selector(f".reread-state[data-meter='{offline[0]}']")
    with psycopg.connect(live.db) as conn:
        asked = conn.execute(
            "SELECT meter_id FROM reread_requests WHERE data_date = %s ORDER BY meter_id", (y,)
        ).fetchall()
    assert [a[0] for a in asked] == sorted(offline)
    reload(page)
    for m in offline:  # after a reload the outcome is still there (the server keeps it)
        state = page.get_attribute(f".reread-state[data-meter='{m}']", "data-state")
        assert state in ("pending", "sent")
        word = {"pending": "待下发", "sent": "进行中"}[state]  # not yet sent / sent, awaiting
        assert page.inner_text(f".reread-state[data-meter='{m}']") == word
    shoot(page, "failed-reread-zh")
    # 召测 of a meter: the command is queued and shown pending; a test edge answers it
    page.click("button.read-now[data-meter='M5']")
    page.wait_for_selector("#read-now-out[data-command]")
    command = page.get_attribute("#read-now-out", "data-command")
    assert page.get_attribute("#read-now-out", "data-status") == "pending"
    answer_read_now(live, command, {"energy_import_total": 1234.5, "voltage_a": 221.3})
    page.wait_for_selector("#read-now-out[data-status='ok']", timeout=15_000)
    assert page.inner_text("#read-now-values td[data-q='energy_import_total']") == "1,234.50"
    assert "正向有功总电能" in page.inner_text("#read-now-values")
    check(page)
    page.context.close()
    # the same list in English
    page = open_page(browser, live.base, "en")
    sign_in(page, "operator")
    goto(page, f"#/failed?date={y}&area_id=A1&reason=concentrator_offline", "failed")
    assert set(page.locator("#failed-table span.category").all_inner_texts()) == {
        "Concentrator offline"
    }
    assert page.locator(".reread-state").count() == 1  # M7 (M6 is not re-readable)
    titles = page.locator("#failed-table span.reason").all_inner_texts()
    assert titles and not any(CJK.search(x) for x in titles), titles
    no_leaks(page)
    check(page)
    page.context.close()


def failed_rows(live: Live, day: Any, area: str) -> list[dict[str, Any]]:
    """The failed meters of an area as the page lists them (the workbench endpoint where
    the server has it, else the older one)."""
    if live.has("/api/workbench/failed"):
        return live.get("/api/workbench/failed", date=str(day), area_id=area, limit=1000)["items"]
    return live.get("/api/failed-meters", date=str(day), area=area)["items"]


def answer_read_now(live: Live, command: str | None, values: dict[str, float]) -> None:
    """What a gateway's answer does to the command's record (the edge is not running)."""
    assert command
    with psycopg.connect(live.db) as conn:
        done = conn.execute(
            "UPDATE gateway_commands SET status = 'ok', sent_at = now(), finished_at = now(),"
            " result = %s::jsonb WHERE id = %s AND name = 'read_now'",
            (__import__("json").dumps({"readings": len(values), "values": values}), command),
        ).rowcount
    assert done == 1


def test_meter_page(live: Live, browser: Any) -> None:
    y, picked = live.seeded.yesterday, live.seeded.picked
    card = live.get("/api/meters/M1")
    for lang in ("en", "zh"):
        page = open_page(browser, live.base, lang)
        sign_in(page, "operator")
        goto(page, "#/meters/M1", "meters")
        assert page.get_attribute("main", "data-date") == str(y)
        assert page.inner_text("#card-address") == card["address"]
        assert page.inner_text("#card-ctpt") == "1 / 1"
        # yesterday's only readings are its daily freeze: shown, not "none"
        freeze = live.get("/api/meters/M1/freeze", start=str(y), end=str(y))["freezes"]
        assert len(freeze) == 5
        assert page.locator("#freeze-day tbody tr").count() == len(freeze)
        assert page.is_visible("#raw-none")
        page.fill("#meter-date", str(picked))
        page.wait_for_selector(
            f"main[data-page='meters'][data-date='{picked}'][data-state='ready']"
        )
        # the load curve: 96 points on a 00:00–24:00 axis at the utility's local times
        opt = chart_option(page, "#load-chart")
        assert (opt["xAxis"][0]["min"], opt["xAxis"][0]["max"]) == (0, 1440)
        raw = live.get("/api/meters/M1/readings", date=str(picked), limit=50)
        curve = live.get(
            "/api/meters/M1/curve",
            quantity="power_active_total",
            start=raw["start"],
            end=raw["end"],
        )["points"]
        data = opt["series"][0]["data"]
        assert [p[1] for p in data] == [p["value"] for p in curve]
        assert (data[0][0], data[-1][0]) == (0, 23 * 60 + 45)
        v = chart_option(page, "#v-chart")
        assert len(v["series"]) == 3 and all(len(s["data"]) == 96 for s in v["series"])
        # consumption by tariff: the freeze of the day minus the day before
        before = picked - timedelta(days=1)
        fr = live.get("/api/meters/M1/freeze", start=str(before), end=str(picked))
        by = {(f["data_date"], f["quantity"]): f["value"] for f in fr["freezes"]}
        want = (
            by[(str(picked), "energy_import_total")]
            - by[(str(picked - timedelta(days=1)), "energy_import_total")]
        )
        cell = f"#daily span[data-date='{picked}'][data-q='energy_import_total']"
        assert page.inner_text(cell) == f"{want:.2f}"
        assert page.inner_text("#day-kwh") == f"{want:.2f} kWh"
        shown = page.locator("#raw span.num").all_inner_texts()
        assert shown == [js(x["value"]) for x in raw["items"]]
        assert page.locator("#meter-anomalies tbody tr").count() >= 1
        no_leaks(page)
        shoot(page, f"meter-{lang}")
        check(page)
        page.context.close()


def js(v: float) -> str:
    """How the page's JavaScript prints a number the API sent."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def test_anomaly_detail_and_workflow(live: Live, browser: Any) -> None:
    items = live.get("/api/anomalies", status="open", limit=100)["items"]
    decrease = next(a for a in items if a["rule"] == "decrease")
    page = open_page(browser, live.base, "zh")
    sign_in(page, "operator")
    goto(page, "#/anomalies?status=open", "anomalies")
    assert page.locator("#anomaly-table span.status").count() == len(items)
    assert set(page.locator("#anomaly-table span.status").all_inner_texts()) == {"待处理"}
    assert "示度下降" in page.inner_text("#anomaly-table")
    if live.has("/api/anomalies/stats"):  # statistics by rule, as the API counts them
        stats = page.locator("#stats-table td[data-col='rule']").all_inner_texts()
        assert len(stats) == len(live.get("/api/anomalies/stats", by="rule")["items"]) >= 1
    # the table exports as the API's CSV, with the list's filters
    with page.expect_download() as dl:
        page.click("#anomalies-csv")
    assert dl.value.suggested_filename == "anomalies.csv"
    exported = Path(str(dl.value.path())).read_text(encoding="utf-8-sig")
    assert len(exported.strip().splitlines()) == 1 + len(items)
    no_leaks(page)
    shoot(page, "anomalies-zh")
    page.click(f"a.detail[href='#/anomalies/{decrease['id']}']")
    page.wait_for_selector("main[data-state='ready'] #detail-status")
    # the evidence: the register falling from 1,174 to 500 on the marked day
    ev = chart_option(page, "#evidence-chart")
    line = next(s for s in ev["series"] if s["type"] == "line")["data"]
    series = live.get(f"/api/anomalies/{decrease['id']}")["evidence_series"]["series"]
    assert line == series[0]["values"]
    ev_values = decrease["evidence"]
    assert [ev_values["previous"], ev_values["current"]] == [v for v in line if v][-2:]
    assert "本次示数: 500.00" in page.inner_text("#evidence")
    shoot(page, "anomaly-detail-zh")
    # a proper dialog: cancelling changes nothing, an empty comment is refused
    page.click("button.act[data-status='confirmed']")
    page.wait_for_selector("dialog[open] #comment")
    page.click("#dialog-cancel")
    page.click("button.act[data-status='confirmed']")
    page.click("#dialog-ok")
    assert page.inner_text("#dialog-error") == "请填写处理意见。"
    page.fill("#comment", "现场核实：表计更换")
    page.click("#dialog-ok")
    page.wait_for_selector("#detail-status[data-status='confirmed']")
    with psycopg.connect(live.db) as conn:
        row = conn.execute(
            "SELECT status, comment, updated_by FROM anomalies WHERE id = %s", (decrease["id"],)
        ).fetchone()
    assert row == ("confirmed", "现场核实：表计更换", "test-operator")
    assert page.inner_text("#detail-status") == "已确认"
    # the record's history (from the server) and assignment to a person
    history = live.get(f"/api/anomalies/{decrease['id']}/history")["items"]
    assert page.locator("#history tbody tr").count() == len(history) >= 2
    page.click("#assign")
    page.fill("#assign-to", "test-operator")  # an operator types the name
    page.click("#dialog-ok")
    page.wait_for_selector("#detail-assignee:text-is('test-operator')")
    assert live.get(f"/api/anomalies/{decrease['id']}")["assigned_to"] == "test-operator"
    # the clerk's own queue (assigned to them, still in work), as the API counts it
    goto(page, "#/anomalies", "anomalies")
    mine = live.get("/api/anomalies", assigned_to="test-operator", status="confirmed")
    assert mine["total"] == 1
    assert page.inner_text("#my-queue a[data-status='confirmed']") == "已确认 1"
    assert page.inner_text("#my-queue a[data-status='open']") == "待处理 " + str(
        live.get("/api/anomalies", assigned_to="test-operator", status="open")["total"]
    )
    page.click("#my-queue a[data-status='confirmed']")
    page.wait_for_selector("main[data-state='ready'] #my-queue a.active")
    assert page.locator("#anomaly-table span.status").all_inner_texts() == ["已确认"]
    assert f"#/meters/{decrease['meter_id']}" in page.inner_html("#anomaly-table")
    shoot(page, "anomalies-my-queue-zh")
    # batch: dismiss every open one with one comment
    goto(page, "#/anomalies?status=open", "anomalies")
    still_open = live.get("/api/anomalies", status="open", limit=100)["items"]
    page.check("#pick-all")
    page.click("button.batch[data-status='dismissed']")
    page.fill("#comment", "批量排除：档案已核对")
    page.click("#dialog-ok")
    page.wait_for_selector("#toast.show")
    page.wait_for_selector("main[data-state='ready'] #anomaly-table td.empty")
    with psycopg.connect(live.db) as conn:
        n = conn.execute(
            "SELECT count(*) FROM anomalies WHERE status = 'dismissed' AND comment = %s",
            ("批量排除：档案已核对",),
        ).fetchone()
    assert n == (len(still_open),)
    check(page)
    page.context.close()
    page = open_page(browser, live.base, "en")
    sign_in(page, "operator")
    goto(page, "#/anomalies?status=confirmed", "anomalies")
    assert page.locator("#anomaly-table span.status").all_inner_texts() == ["confirmed"]
    queue = page.inner_text("#my-queue").split()
    assert queue == ["My", "queue", "open", "0", "·", "confirmed", "1"]
    assert "Register decrease" in page.inner_text("#anomaly-table")
    no_leaks(page)
    check(page)
    page.context.close()


def test_line_loss_concentrators_archive_and_search(live: Live, browser: Any) -> None:
    y = live.seeded.yesterday
    page = open_page(browser, live.base, "zh")
    sign_in(page, "operator")
    goto(page, f"#/lineloss?date={y}", "lineloss")
    areas = live.get("/api/line-loss/areas", date=str(y))["items"]
    for a in areas:
        assert page.inner_text(f"span.loss-rate[data-area='{a['area_id']}']") == pct(a["loss_rate"])
    assert {a["area_id"]: a["status"] for a in areas} == {"A1": "not_computable", "A2": "high"}
    assert page.inner_text("span.loss-status[data-status='high']") == "高损"
    shoot(page, "lineloss-zh")
    # not computable: the meters that block it; high: the customers ranked as suspects
    goto(page, f"#/lineloss/A1?date={y}", "lineloss")
    blocking = live.get("/api/line-loss/areas/A1", date=str(y))["blocking_meters"]
    assert page.locator("#blocking a").all_inner_texts() == [m["meter_id"] for m in blocking]
    goto(page, f"#/lineloss/A2?date={y}", "lineloss")
    suspects = live.get("/api/line-loss/areas/A2/suspects", date=str(y))["items"]
    assert [s["meter_id"] for s in suspects][:1] == ["N2"]
    assert page.locator("#suspects a").all_inner_texts() == [s["meter_id"] for s in suspects]
    words = {"consumption_dropped": "用电量骤降", "zero_consumption": "零度户"}
    for signal in suspects[0]["signals"]:
        assert words.get(signal, signal) in page.inner_text("#suspects")
    trend = chart_option(page, "#loss-chart")
    assert trend["series"][0]["markLine"]["data"][0]["yAxis"] == 0.1
    no_leaks(page)
    shoot(page, "lineloss-suspects-zh")
    goto(page, "#/gateways", "gateways")
    gws = live.get("/api/gateway-status")["items"]
    online = sum(g["online"] for g in gws)
    assert page.inner_text("#online-rate") == f"{100 * online / len(gws):.1f} %"
    assert page.inner_text("span.outbox[data-gateway='gw-1']") == "3"  # not blank any more
    no_leaks(page)
    if live.has("/api/concentrators/{gateway_id}"):
        goto(page, "#/gateways/gw-1", "gateways")
        det = live.get("/api/concentrators/gw-1")
        assert (
            page.locator("#failing a").all_inner_texts()
            == [m["meter"] for m in det["failing_meters"]]
            == ["M8"]
        )
        assert page.inner_text("#buses td[data-col='transactions']") == "1,440"
        no_leaks(page)
    goto(page, "#/archive", "archive")
    page.click("details.area-node[data-area='A1'] > summary")
    page.wait_for_selector("details.gw-node[data-gateway='gw-1']")
    page.click("details.gw-node[data-gateway='gw-1'] > summary")
    page.wait_for_selector("details.gw-node[data-gateway='gw-1'] a[href='#/meters/M1']")
    shoot(page, "archive-zh")
    # search from the box on every page: by address, by customer name
    page.fill("#search", "000000000003")
    page.press("#search", "Enter")
    page.wait_for_selector("main[data-page='meters'][data-state='ready'] #archive-card")
    assert "M2" in page.inner_text("main h2")
    page.fill("#search", "城关")
    page.press("#search", "Enter")
    page.wait_for_selector("#search-results")
    found = page.locator("#search-results a[href^='#/meters/']").all_inner_texts()
    assert {"M4", "M6"} <= set(found)
    check(page)
    page.context.close()


def test_administration(live: Live, browser: Any) -> None:
    page = open_page(browser, live.base, "en")
    sign_in(page, "admin")
    page.click("#nav a[href='#/admin']")
    page.wait_for_selector("main[data-tab='users'][data-state='ready'] #users")
    assert {"test-admin", "test-operator", "test-viewer"} <= set(
        page.locator("#users td[data-col='username']").all_inner_texts()
    )
    shoot(page, "admin-users-en")
    # a rule parameter as a form with its range: the server keeps the new value
    goto(page, "#/admin/rule_params")
    form = "form.rule-form[data-rule='zero_consumption']"
    assert page.get_attribute(f"{form} input[name='days']", "max") == "62"
    page.fill(f"{form} input[name='days']", "5")
    page.click(f"{form} button[type='submit']")
    page.wait_for_selector("#toast.show:has-text('Saved')")
    assert live.get("/api/rule-params")["rules"]["zero_consumption"]["general"]["days"] == 5
    no_leaks(page)
    # the audit log shows the change, newest first, as the API has it
    goto(page, "#/audit")
    api = live.get("/api/audit", limit=50)
    assert page.locator("#audit-rows .audit-action").evaluate_all(
        "els => els.map(e => e.dataset.action)"
    ) == [r["action"] for r in api["items"]]
    assert page.inner_text("#audit-range") == f"1–{min(50, api['total'])} of {api['total']}"
    assert "rule parameters changed" in page.inner_text("#audit-rows")
    page.fill("#f-actor", "test-admin")
    page.click("#audit-search")
    page.wait_for_selector("main[data-state='ready'] #audit-rows")
    assert "actor=test-admin" in page.evaluate("location.hash")
    shoot(page, "audit-en")
    page.fill("#f-from", str(live.seeded.yesterday + timedelta(days=3)))  # nothing after then
    page.click("#audit-search")
    page.wait_for_selector("#audit-range:text-is('0–0 of 0')")
    for tab in ("quarantine", "dead_letters", "conflicts"):
        goto(page, f"#/admin/{tab}")
        assert page.is_visible("#kept")
    check(page)
    page.context.close()
    # an operator typing the address is told it is for administrators
    page = open_page(browser, live.base, "zh")
    sign_in(page, "operator")
    assert not page.is_visible("#nav a[href='#/admin']")
    goto(page, "#/audit")
    assert page.inner_text("#audit-refused") == "仅管理员可访问此页面。"
    check(page)
    page.context.close()


# Screenshots of every page at the three sizes (the last test: it sees the day's work done)
def pages(live: Live) -> list[tuple[str, str]]:
    y = live.seeded.yesterday
    anomaly = live.get("/api/anomalies", rule="decrease", limit=1)["items"][0]["id"]
    return [
        ("report", f"#/report?by=area&date={y}"),
        ("report-month", "#/report?period=month&by=org"),
        ("report-months", "#/report?period=months&by=org"),
        ("failed", f"#/failed?date={y}"),
        ("meter", f"#/meters/M1?date={live.seeded.picked}"),
        ("anomalies", "#/anomalies"),
        ("anomaly", f"#/anomalies/{anomaly}"),
        ("lineloss", f"#/lineloss?date={y}"),
        ("lineloss-area", f"#/lineloss/A1?date={y}"),
        ("gateways", "#/gateways"),
        ("gateway", "#/gateways/gw-1"),
        ("archive", "#/archive"),
        ("search", "#/search?q=城关"),
        ("reread", "#/reread"),
        ("reread-batch", f"#/reread/{live.get('/api/reread/batches')['items'][0]['id']}"),
        ("admin-users", "#/admin/users"),
        ("admin-rules", "#/admin/rule_params"),
        ("audit", "#/audit"),
        ("quarantine", "#/admin/quarantine"),
    ]


def test_every_page_at_three_sizes(live: Live, browser: Any) -> None:
    todo = pages(live)
    for size in SIZES:
        for lang in ("zh", "en") if size == "1440x900" else ("zh",):
            page = open_page(browser, live.base, lang, size)
            page.goto(live.base + "/ui/#/login")
            page.wait_for_selector("#signin")
            shoot(page, f"login-{lang}-{size}")
            sign_in(page, "admin")
            # English: the report (day, month, months), failed, meter and anomaly pages and the
            # concentrators'
            english = todo[:6] + [p for p in todo if p[0] in ("gateways", "gateway")]
            for name, hash_ in todo if lang == "zh" else english:
                goto(page, hash_)
                page.wait_for_timeout(50)
                wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert wide <= 1, (name, size, wide)
                shoot(page, f"{name}-{lang}-{size}")
            check(page)
            page.context.close()


def test_workbench_gaps(live: Live, browser: Any) -> None:
    """The review's findings (last: it adds a meter): the month report says which closed
    days it covers; a re-read batch's outcomes, an area's concentrators, a concentrator's
    meters and search results export; a concentrator serving two areas is under both, with
    each area's meters."""
    with psycopg.connect(live.db) as conn:  # gw-2 (A2's) also reads a meter of A1
        conn.execute(
            "INSERT INTO meters (id, address, gateway_id, area_id, protocol, customer_class, "
            "customer_name, installed_on, bus) VALUES ('X1', '000000000991', 'gw-2', 'A1', "
            "'dlt645-2007', 'residential', '郑十一', '2025-01-01', 'rs485-1')"
        )
    month = live.get("/api/reports/collection", period="month", by="org")
    for size in ("1440x900", "phone"):
        page = open_page(browser, live.base, "zh", size)
        sign_in(page, "operator")
        goto(page, "#/report?period=month&by=org", "report")
        covers = page.inner_text("#report-covers")

        def zh_day(iso: str) -> str:
            return f"{int(iso[:4])}年{int(iso[5:7])}月{int(iso[8:])}日"

        assert covers.startswith(f"统计 {zh_day(month['start'])} 至 {zh_day(month['end'])}")
        if not month["complete"]:  # the days after yesterday are not counted
            assert (
                f"已结束的 {month['days']} 天（本月共 {int(month['period_end'][8:])} 天）" in covers
            )
        shoot(page, f"gaps-report-month-zh-{size}")
        # the tree: gw-2 under A1 (its one meter there) and under A2 (A2's meters)
        goto(page, "#/archive", "archive")
        for area, meters in (("A1", ["X1"]), ("A2", ["AM2", "N1", "N2", "N3", "N4"])):
            node = f"details.area-node[data-area='{area}']"
            page.click(f"{node} > summary")
            gw = f"{node} details.gw-node[data-gateway='gw-2']"
            page.wait_for_selector(gw)
            page.click(f"{gw} > summary")
            page.wait_for_selector(f"{gw} .exports-row")
            shown = page.locator(f"{gw} a[href^='#/meters/']").all_inner_texts()
            assert sorted(shown) == meters, (area, shown)
            assert page.inner_text(f"{gw} > summary .shared") == "A1 · A2"
        with page.expect_download() as dl:
            page.click("details.area-node[data-area='A1'] > ul > li.exports-row [id$='-xlsx']")
        assert dl.value.suggested_filename == "concentrators-A1.xlsx"
        no_leaks(page)
        shoot(page, f"gaps-archive-two-areas-zh-{size}")
        # search results export
        goto(page, "#/search?q=城关", "search")
        with page.expect_download() as dl:
            page.click("#search-csv")
        text = Path(dl.value.path()).read_text("utf-8-sig")
        assert text.splitlines()[0].startswith("电表,表地址")
        shoot(page, f"gaps-search-zh-{size}")
        # the re-read batches and one batch's outcomes, exported
        goto(page, "#/failed", "failed")
        page.click("#batches-link")
        page.wait_for_selector("main[data-page='reread'][data-state='ready'] #batch-list")
        batch = live.get("/api/reread/batches")["items"][0]
        assert page.locator("#batches-xlsx").count() == 1
        shoot(page, f"gaps-reread-zh-{size}")
        page.click(f"#batch-list a[href='#/reread/{batch['id']}']")
        page.wait_for_selector("main[data-state='ready'] #batch-items")
        items = live.get(f"/api/reread/batches/{batch['id']}")["items"]
        assert page.locator("#batch-items tbody a").all_inner_texts() == [
            i["meter_id"] for i in items
        ]
        with page.expect_download() as dl:
            page.click("#batch-csv")
        lines = Path(dl.value.path()).read_text("utf-8-sig").splitlines()
        assert lines[0].startswith("电表,补抄日期,集中器,结果") and len(lines) == 1 + len(items)
        no_leaks(page)
        shoot(page, f"gaps-reread-batch-zh-{size}")
        # the concentrator list names every area a concentrator serves
        goto(page, "#/gateways", "gateways")
        assert page.inner_text("tr:has(a[href='#/gateways/gw-2']) span.areas") == "A1 · A2"
        goto(page, "#/gateways/gw-2", "gateways")
        assert page.locator("#gw-meters-xlsx").count() == 1
        shoot(page, f"gaps-gateway-zh-{size}")
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 1, wide
        check(page)
        page.context.close()
