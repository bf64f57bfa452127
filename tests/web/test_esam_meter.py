"""An ESAM meter's page in Debian's Chromium (issue 21): the values it answered through
SECURITY plaintext + MAC are marked "未验证 (ESAM MAC)" / "not verified (ESAM MAC)", with a
tooltip saying only the utility's security module can verify them and giving the MAC and
RN the API holds; a plain meter's values carry no such mark. Screenshots in zh and en
($METERLINK_SCREENSHOT_DIR)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from server.ingest.store import Batch, store
from tests.web.harness import Live, check, goto, open_page, shoot, sign_in

TZ = ZoneInfo("Asia/Shanghai")
MAC = bytes.fromhex("5AC3E1F0")
RN = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
MARK = {"zh": "未验证 (ESAM MAC)", "en": "not verified (ESAM MAC)"}
TIP = {"zh": "只有电力公司的安全模块能验证", "en": "only the utility's security module can verify"}


def add_esam_meter(live: Live) -> None:
    y = live.seeded.yesterday
    freeze_ts = datetime.combine(y + timedelta(days=1), time.min, TZ).astimezone(UTC)
    noon = datetime.combine(y, time(12, 0), TZ).astimezone(UTC)
    with psycopg.connect(live.db) as conn:
        conn.execute(
            "INSERT INTO meters (id, address, protocol, gateway_id, area_id, customer_class,"
            " customer_name, installed_on) VALUES ('E1', '000000006982', 'dlt698', 'gw-1',"
            " 'A1', 'commercial', '赵六', %s)",
            (y - timedelta(days=30),),
        )
        conn.commit()
        b = Batch()
        flag = ("unverified",)
        b.add_rows(
            "gw-1",
            "esam",
            [
                ("E1", "energy_import_total", freeze_ts, 4321.5, "freeze", "scheduled", flag),
                ("E1", "energy_import_t1", freeze_ts, 1000.25, "freeze", "scheduled", flag),
                ("E1", "voltage_a", noon, 229.5, "interval", "scheduled", flag),
            ],
            [
                ("E1", "energy_import_total", freeze_ts, 4321.5, "freeze", MAC, RN),
                ("E1", "energy_import_t1", freeze_ts, 1000.25, "freeze", MAC, RN),
                ("E1", "voltage_a", noon, 229.5, "interval", MAC[::-1], RN),
            ],
        )
        assert store(conn, b, tz="Asia/Shanghai").quarantined == 0


def marks(page: Any, where: str) -> list[tuple[str, str]]:
    loc = page.locator(f"{where} .badge.unverified")
    return [
        (loc.nth(i).inner_text(), loc.nth(i).get_attribute("title")) for i in range(loc.count())
    ]


def test_esam_values_are_marked_not_verified(live: Live, browser: Any) -> None:
    add_esam_meter(live)
    y = live.seeded.yesterday
    freeze = live.get("/api/meters/E1/freeze", start=str(y), end=str(y))["freezes"]
    assert {(f["quality"][0], f["mac"], f["rn"]) for f in freeze} == {
        ("unverified", MAC.hex().upper(), RN.hex().upper())
    }
    for lang in ("en", "zh"):
        page = open_page(browser, live.base, lang)
        sign_in(page, "viewer")
        goto(page, f"#/meters/E1?date={y}", "meters")
        for where, n, mac in (
            ("#freeze-day", 2, MAC),
            ("#raw", 1, MAC[::-1]),
            ("#latest", 3, None),
        ):
            shown = marks(page, where)
            assert len(shown) == n, (where, shown)
            for text, title in shown:
                assert text == MARK[lang]
                assert TIP[lang] in title
                assert RN.hex().upper() in title
                if mac is not None:
                    assert mac.hex().upper() in title
        shoot(page, f"meter-esam-{lang}")
        check(page)
        page.context.close()
    # a plain meter's page carries no such mark
    page = open_page(browser, live.base, "zh")
    sign_in(page, "viewer")
    goto(page, "#/meters/M1", "meters")
    assert page.locator("main .badge.unverified").count() == 0
    check(page)
    page.context.close()
