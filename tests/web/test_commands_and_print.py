"""The workbench's later pieces in Debian's Chromium, in zh and en (issue 19 leftovers):

* 曲线补抄: the day report lists the DL/T 698.45 meters whose curve of the day can be
  re-read, an operator re-reads them in one click and sees each one's command status
  (待下发) after the reload; the meter page offers it for a past day with missing points;
  neither is shown to a viewer;
* 命令记录: the command history with its numbers as the API gives them, filtered from its
  form, from the concentrator page and from the meter page, exported;
* a re-read batch's "why not read" in the clerk's language, from the server's codes;
* printing: the report and line loss pages have a 打印 button, and on paper (print media)
  no navigation or buttons, a title line with the scope, A4 pages.

Screenshots into $METERLINK_SCREENSHOT_DIR. The tests of this module walk one seeded
utility on one server, in order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

from tests.web.harness import (
    Live,
    check,
    goto,
    open_page,
    reload,
    screenshot_dir,
    shoot,
    sign_in,
)

CURVE_METER = "C1"
WORDS = {
    "zh": {"pending": "待下发", "curve": "曲线补抄", "timeout": "电表不应答（超时）"},
    "en": {
        "pending": "not yet sent",
        "curve": "Curve re-read",
        "timeout": "meter not answering (timeout)",
    },
}


def add_curve_meter(live: Live) -> None:
    """A DL/T 698.45 meter (it keeps a 15-minute curve) with no curve points stored."""
    y = live.seeded.yesterday
    with psycopg.connect(live.db) as conn:
        conn.execute(
            "INSERT INTO meters (id, address, protocol, gateway_id, area_id, customer_class,"
            " customer_name, installed_on) VALUES (%s, '000000006983', 'dlt698', 'gw-2',"
            " 'A2', 'residential', '郑十一', %s) ON CONFLICT DO NOTHING",
            (CURVE_METER, y - timedelta(days=30)),
        )


def rows(page: Any, table: str) -> int:
    return int(page.locator(f"#{table} tbody tr:not(:has(td.empty))").count())


def test_curve_reread_from_the_report_and_the_meter_page(live: Live, browser: Any) -> None:
    add_curve_meter(live)
    y = live.seeded.yesterday
    api = live.get("/api/curve-completeness", date=str(y), by="area")["curve_reread"]
    assert CURVE_METER in [m["meter_id"] for m in api["meters"]]
    # a viewer sees the list but no button
    page = open_page(browser, live.base, "zh")
    sign_in(page, "viewer")
    goto(page, f"#/report?period=day&by=area&date={y}", "report")
    assert page.is_visible(f"#curve-reread-table a[href^='#/meters/{CURVE_METER}']")
    assert page.locator("#curve-reread-all").count() == 0
    goto(page, f"#/meters/{CURVE_METER}?date={y}", "meters")
    assert page.locator("#curve-reread").count() == 0
    check(page)
    page.context.close()
    for lang in ("zh", "en"):
        page = open_page(browser, live.base, lang)
        sign_in(page, "operator", lang)
        goto(page, f"#/report?period=day&by=area&date={y}", "report")
        assert rows(page, "curve-reread-table") == len(api["meters"])
        if lang == "zh":
            button = page.locator("#curve-reread-all")
            assert button.is_enabled()
            with page.expect_response("**/api/reread") as resp:
                button.click()
            assert resp.value.status == 202
            page.wait_for_selector(f".curve-state[data-meter='{CURVE_METER}']")
        state = page.locator(f".curve-state[data-meter='{CURVE_METER}']")
        assert state.get_attribute("data-state") == "pending"
        assert state.inner_text() == WORDS[lang]["pending"]
        # asked already: nothing left to ask
        assert page.locator("#curve-reread-all").is_disabled()
        shoot(page, f"report-curve-reread-{lang}")
        # the meter page: an earlier day, its curve missing
        before = y - timedelta(days=1)
        goto(page, f"#/meters/{CURVE_METER}?date={before}", "meters")
        assert page.is_visible("#curve-reread")
        assert page.inner_text("#curve-reread") == WORDS[lang]["curve"]
        if lang == "zh":
            page.click("#curve-reread")
            page.wait_for_selector("#curve-reread-result a.curve-reread-outcome")
            assert "新下发 1 个" in page.inner_text("#curve-reread-result")
        check(page)
        page.context.close()
    # both re-reads are backfill_curve commands naming the meter among their items
    asked = live.get("/api/commands", meter_id=CURVE_METER, name="backfill_curve")
    assert asked["total"] == 2


def test_the_command_history_page(live: Live, browser: Any) -> None:
    add_curve_meter(live)
    ops = live.headers("operator")
    r = live.client.post(
        "/api/gateways/gw-1/commands", json={"name": "time_sync", "args": {}}, headers=ops
    )
    assert r.status_code == 202, r.text
    every = live.get("/api/commands")
    gw2 = live.get("/api/commands", gateway_id="gw-2")
    assert every["total"] > gw2["total"] > 0
    for lang in ("zh", "en"):
        for size in ("1440x900", "phone"):
            page = open_page(browser, live.base, lang, size)
            sign_in(page, "viewer", lang)
            goto(page, "#/commands", "commands")
            assert rows(page, "commands-table") == min(every["total"], 50)
            assert str(every["total"]) in page.inner_text("#commands-range")
            first = every["items"][0]
            cell = page.locator("#commands-table tbody tr").first
            assert cell.locator(".cmd-name").get_attribute("data-name") == first["name"]
            assert cell.locator(".cmd-status").get_attribute("data-status") == first["status"]
            shoot(page, f"commands-{lang}-{size}")
            check(page)
            page.context.close()
        page = open_page(browser, live.base, lang)
        sign_in(page, "viewer", lang)
        # filtered from the form
        goto(page, "#/commands", "commands")
        page.select_option("#c-gateway", "gw-2")
        page.click("#c-apply")
        page.wait_for_function("location.hash.includes('gateway_id=gw-2')")
        page.wait_for_selector("main[data-page='commands'][data-state='ready']")
        assert rows(page, "commands-table") == gw2["total"]
        names = page.locator("#commands-table .cmd-name")
        assert WORDS[lang]["curve"] in [names.nth(i).inner_text() for i in range(names.count())]
        # an export of what is shown
        with page.expect_download() as dl:
            page.click("#commands-xlsx")
        assert dl.value.suggested_filename.endswith(".xlsx")
        # reached from the concentrator page and the meter page, filtered
        goto(page, "#/gateways/gw-2", "gateways")
        page.click("#gw-commands-link")
        page.wait_for_selector("main[data-page='commands'][data-state='ready']")
        assert page.input_value("#c-gateway") == "gw-2"
        goto(page, f"#/meters/{CURVE_METER}", "meters")
        page.click("#meter-commands-link")
        page.wait_for_selector("main[data-page='commands'][data-state='ready']")
        assert page.input_value("#c-meter") == CURVE_METER
        by_meter = live.get("/api/commands", meter_id=CURVE_METER)
        assert rows(page, "commands-table") == by_meter["total"]
        check(page)
        page.context.close()


def test_a_batch_says_why_not_in_the_clerks_language(live: Live, browser: Any) -> None:
    y = live.seeded.yesterday
    failed = live.get("/api/workbench/failed", date=str(y), limit=100)["items"]
    meter = next(r["meter_id"] for r in failed if r["rereadable"])
    r = live.client.post(
        "/api/reread/batches",
        json={"items": [{"meter_id": meter, "date": str(y)}]},
        headers=live.headers("operator"),
    )
    assert r.status_code == 202, r.text
    batch = r.json()["id"]
    item = live.get(f"/api/reread/batches/{batch}")["items"][0]
    assert item["outcome"] == "pending"
    # the concentrator answers: the meter did not
    with psycopg.connect(live.db) as conn:
        conn.execute(
            "UPDATE gateway_commands SET status = 'ok', finished_at = now(), result = %s "
            "WHERE id = %s",
            (
                psycopg.types.json.Jsonb(
                    {"read": 0, "failed": [{"meter": meter, "date": str(y), "reason": "timeout"}]}
                ),
                item["command_id"],
            ),
        )
    for lang in ("zh", "en"):
        page = open_page(browser, live.base, lang)
        sign_in(page, "viewer", lang)
        goto(page, f"#/reread/{batch}", "reread")
        why = page.locator("#batch-items .why-not[data-code='timeout']")
        assert why.count() == 1 and why.inner_text() == WORDS[lang]["timeout"]
        shoot(page, f"reread-batch-why-{lang}")
        check(page)
        page.context.close()


def test_the_reports_print_on_a4(live: Live, browser: Any) -> None:
    y = live.seeded.yesterday
    for lang in ("zh", "en"):
        page = open_page(browser, live.base, lang)
        sign_in(page, "viewer", lang)
        for hash_, name, shot in (
            (f"#/report?period=day&by=area&date={y}", "report", "report-day"),
            (f"#/report?period=month&by=area&month={str(y)[:7]}", "report", "report-month"),
            (f"#/lineloss?date={y}", "lineloss", "lineloss"),
            (f"#/lineloss/A1?date={y}", "lineloss", "lineloss-area"),
        ):
            goto(page, hash_, name)
            assert page.is_visible("#print")
            assert not page.is_visible("#print-title")
            page.emulate_media(media="print")
            try:
                assert not page.is_visible("header")
                assert not page.is_visible("#print")
                assert page.is_visible("#print-title")
                title = page.inner_text("#print-title")
                assert str(y.year) in title
                pdf = page.pdf(format="A4", print_background=False)
                assert pdf.startswith(b"%PDF") and b"/MediaBox [0 0 595.91998 842.88]" in pdf  # A4
                (screenshot_dir() / f"print-{shot}-{lang}.pdf").write_bytes(pdf)
                shoot(page, f"print-{shot}-{lang}")
            finally:
                page.emulate_media(media="screen")
        reload(page)
        check(page)
        page.context.close()
