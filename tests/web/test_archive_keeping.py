"""Keeping the archive in Debian's Chromium (issue 19, 档案维护): an administrator downloads
the import template, imports a file with mistakes (nothing imported, every bad cell listed by
row and by the heading the file gives it, in the page's language), then the corrected file
(the new meters in the archive, as the API has them), and corrects one meter on its page
(the change in the archive card and in the audit log; a refused value shows the server's
reason and saves nothing). A viewer and an operator see none of it. Screenshots in zh and en
($METERLINK_SCREENSHOT_DIR)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.harness import Live, check, goto, open_page, shoot, sign_in

HEAD = {
    "zh": "电表资产号,通信地址,规约,集中器,台区,户名,安装日期,CT变比",
    "en": "id,address,protocol,gateway_id,area_id,customer_name,installed_on,ct_ratio",
}


def rows(lang: str, bad: bool) -> str:
    a = "K" + lang.upper()
    lines = [
        f"{a}1,000000009101,2007,gw-1,A1,钱七,2025-01-01,1",
        f"{a}2,{'91X2' if bad else '000000009102'},2007,gw-1,A1,,2025-01-01,{'0' if bad else '40'}",
        f"{a}3,000000009103,698,gw-1,A1,,{'someday' if bad else '2025-02-01'},1",
    ]
    return HEAD[lang] + "\n" + "\n".join(lines) + "\n"


def test_import_and_correct_the_archive(live: Live, browser: Any, tmp_path: Path) -> None:
    for role in ("viewer", "operator"):
        page = open_page(browser, live.base)
        sign_in(page, role)
        goto(page, "#/archive", "archive")
        assert page.locator("#import-open, #template-get").count() == 0
        goto(page, "#/meters/M6", "meters")
        assert page.locator("#edit-meter").count() == 0
        check(page)
        page.context.close()

    for lang in ("zh", "en"):
        page = open_page(browser, live.base, lang)
        sign_in(page, "admin")
        goto(page, "#/archive", "archive")
        # the template: every column the import reads, headed in the page's language
        with page.expect_download() as dl:
            page.click("#template-get")
        header = Path(dl.value.path()).read_bytes().decode("utf-8-sig").strip()
        assert header.split(",")[0] == ("电表资产号" if lang == "zh" else "id")

        bad = tmp_path / f"bad-{lang}.csv"
        bad.write_text(rows(lang, bad=True), encoding="utf-8")
        page.click("#import-open")
        page.set_input_files("#import-file", str(bad))
        page.click("#dialog-ok")
        page.wait_for_selector("#import-refused")
        text = page.inner_text("#import-outcome")
        assert ("3 处问题" if lang == "zh" else "3 problems") in text, text
        cells = page.locator("#import-errors tbody tr")
        got = {
            (
                cells.nth(i).locator("td").nth(0).inner_text(),
                cells.nth(i).locator("td").nth(1).inner_text(),
            )
            for i in range(cells.count())
        }
        names = HEAD[lang].split(",")
        assert got == {("3", names[1]), ("3", names[7]), ("4", names[6])}, got
        if lang == "zh":  # the reasons in Chinese too
            assert "应为12位数字" in text and "超出范围" in text and "YYYY-MM-DD" in text, text
            assert "expected" not in text, text
        shoot(page, f"archive-import-refused-{lang}")
        gone = live.client.get(f"/api/meters/K{lang.upper()}1", headers=live.headers("admin"))
        assert gone.status_code == 404  # nothing imported

        good = tmp_path / f"good-{lang}.csv"
        good.write_text(rows(lang, bad=False), encoding="utf-8")
        page.click("#import-open")
        page.set_input_files("#import-file", str(good))
        page.click("#dialog-ok")
        page.wait_for_selector("#import-ok")
        assert ("新建 3" if lang == "zh" else "3 new") in page.inner_text("#import-ok")
        # the page is redrawn with the new meters counted
        areas = live.get("/api/org/areas", role="admin")["items"]
        a1 = next(a for a in areas if a["id"] == "A1")
        shown = page.locator("#area-list tbody tr", has_text="A1").locator("td[data-col='meters']")
        assert shown.inner_text() == str(a1["meters"])
        m2 = live.get(f"/api/meters/K{lang.upper()}2", role="admin")
        assert m2["ct_ratio"] == 40 and m2["address"] == "000000009102"
        shoot(page, f"archive-import-done-{lang}")

        # a correction on the meter's page: a refused value first, then a good one
        meter = f"K{lang.upper()}1"
        goto(page, f"#/meters/{meter}", "meters")
        page.click("#edit-meter")
        page.fill("#edit-customer_phone", "x" * 300)
        page.click("#dialog-ok")
        page.wait_for_selector("#edit-error")
        said = page.inner_text("#edit-error")
        assert (
            "联系电话：300 个字符，最多 64 个"
            if lang == "zh"
            else "Phone: 300 characters: at most 64"
        ) in said, said
        assert live.get(f"/api/meters/{meter}", role="admin")["customer_phone"] is None
        shoot(page, f"archive-edit-refused-{lang}")
        page.fill("#edit-customer_phone", "13800000000")
        page.fill("#edit-ct_ratio", "30")
        page.click("#dialog-ok")
        page.wait_for_function(
            "() => (document.querySelector(\"main[data-state='ready'] #card-ctpt\")?.textContent"
            " || '').startsWith('30')"
        )
        after = live.get(f"/api/meters/{meter}", role="admin")
        assert (after["ct_ratio"], after["customer_phone"]) == (30, "13800000000")
        audit = live.get("/api/audit", role="admin", entity="meters", entity_id=meter)
        assert any(a["action"] == "meters.update" for a in audit["items"]), audit
        check(page)
        page.context.close()
