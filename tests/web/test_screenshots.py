"""Screenshots of every dashboard page at 1440×900, 1366×768 and a phone (390×844), in
Chinese (and the main pages in English), into $METERLINK_SCREENSHOT_DIR (CI keeps them as
an artifact). Each page must draw without an error, a CSP violation or a horizontal
scrollbar on the page itself (wide tables scroll inside their own box)."""

from __future__ import annotations

from typing import Any

from tests.web.harness import (
    SIZES,
    Live,
    check,
    goto,
    open_page,
    shoot,
    sign_in,
)


def pages(live: Live) -> list[tuple[str, str]]:
    y = live.seeded.yesterday
    anomaly = live.get("/api/anomalies", rule="decrease", limit=1)["items"][0]["id"]
    return [
        ("report", f"#/report?by=area&date={y}"),
        ("report-month", "#/report?period=month&by=org"),
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
            for name, hash_ in todo if lang == "zh" else todo[:5]:
                goto(page, hash_)
                page.wait_for_timeout(50)
                wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert wide <= 1, (name, size, wide)
                shoot(page, f"{name}-{lang}-{size}")
            check(page)
            page.context.close()
