"""Exports as reports, against the real app on PostgreSQL: the XLSX has a title row (what,
date, scope), headers in the request's language (``lang``, else Accept-Language), number
formats (rates as percentages, kWh with two decimals), column widths and a frozen header;
the CSV has the same headers with a byte-order mark; numbers are rounded, times local
without microseconds, nested values readable text; every list answers a file through the
same mechanism; and the API contract's 422s (unknown parameters, invalid enum values)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.routes.export import language
from server.db.migrate import migrate
from tests.conftest import Broker
from tests.server.conftest import settings_for
from tests.server.helpers import add_meters, auth_headers

D = date(2026, 11, 20)


@pytest.fixture
def client(pg_url: str, mqtt_broker: Broker, tmp_path: Path) -> Iterator[TestClient]:
    migrate(pg_url)
    app = create_app(settings_for(pg_url, mqtt_broker.url, tmp_path), services=[])
    with TestClient(app) as c:
        yield c


def _seed(url: str) -> None:
    """Three meters of A1 on gw-1 due on D: M1 read, M2 and M3 not (M2's last good value a
    float with noise); a line-loss anomaly with nested evidence; a gateway seen at an instant
    with microseconds."""
    add_meters(url, [{"id": f"M{i}", "address": f"{i:012d}"} for i in (1, 2, 3)])
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO daily_freeze (meter_id, quantity, data_date, value, freeze_ts, source) "
            "VALUES ('M1', 'energy_import_total', %s, 10, now(), 'scheduled'), "
            "('M2', 'energy_import_total', %s, 447.5100000000093, now(), 'scheduled')",
            (D, date(2026, 11, 18)),
        )
        conn.execute(
            "INSERT INTO anomalies (rule, area_id, first_date, last_date, evidence) "
            "VALUES ('line_loss', 'A1', %s, %s, %s)",
            (D, D, json.dumps({"supply": 100.123456, "sales": 90, "loss": 0.0987654})),
        )
        conn.execute(
            "UPDATE gateways SET last_seen = %s, online = true WHERE id = 'gw-1'",
            (datetime(2026, 11, 20, 16, 30, 5, 123456, tzinfo=UTC),),
        )
        # online on the day's collection day, as the failed list judges it (issue 18, item 4)
        conn.execute(
            "INSERT INTO gateway_online_log (gateway_id, ts, online) VALUES ('gw-1', %s, true)",
            (datetime(2026, 11, 20, 16, 30, 5, tzinfo=UTC),),
        )


def _sheet(body: bytes) -> Any:
    wb = openpyxl.load_workbook(io.BytesIO(body))
    ws = wb.active
    assert ws is not None
    return ws


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the Chinese as UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_language_from_accept_language() -> None:
    assert language(None) == "zh"
    assert language("") == "zh"
    assert language("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert language("zh-TW") == "zh"
    assert language("en-US,en;q=0.9") == "en"
    assert language("en;q=0.5, zh-CN;q=0.9") == "zh"
    assert language("fr-FR") == "en"
    assert language("zh;q=0, en") == "en"


def test_failed_meters_xlsx_is_a_report_in_zh_and_en(client: TestClient, pg_url: str) -> None:
    _seed(pg_url)
    viewer = auth_headers(client, "viewer", pg_url)
    got = {}
    for lang in ("zh", "en"):
        r = client.get(
            "/api/failed-meters",
            params={"date": str(D), "format": "xlsx", "lang": lang, "area_id": "A1"},
            headers=viewer,
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"].endswith(f'failed-meters-{D}-{lang}.xlsx"')
        got[lang] = _sheet(r.content)
    zh, en = got["zh"], got["en"]
    # the title row: what, the date, the scope, when exported and in which zone
    title_zh, title_en = str(zh["A1"].value), str(en["A1"].value)
    assert title_zh.startswith("失败电表清单") and title_en.startswith("Failed meters")
    assert f"数据日期 {D}" in title_zh and "台区 A1" in title_zh
    assert f"Data date {D}" in title_en and "Area A1" in title_en
    assert "(Asia/Shanghai)" in title_en and "rows 2" in title_en
    # headers in the language, on row 2, frozen with the title above them
    heads_zh = [c.value for c in zh[2]]
    heads_en = [c.value for c in en[2]]
    assert heads_zh[:3] == ["电表", "台区", "集中器"]
    assert heads_en[:3] == ["Meter", "Area", "Concentrator"]
    assert "原因" in heads_zh and "Reason" in heads_en
    assert zh.freeze_panes == "A3" and en.freeze_panes == "A3"
    assert zh.auto_filter.ref.startswith("A2:")
    # rows: the two failed meters; numbers rounded and formatted, dates as dates
    col = {h: i for i, h in enumerate(heads_en)}
    rows = {r[0].value: r for r in en.iter_rows(min_row=3)}
    assert set(rows) == {"M2", "M3"}
    value = rows["M2"][col["Last good value (kWh)"]]
    assert value.value == 447.51 and value.number_format == "#,##0.00"
    last_good = rows["M2"][col["Last good date"]]
    assert last_good.value == datetime(2026, 11, 18) and last_good.number_format == "yyyy-mm-dd"
    assert rows["M2"][col["Concentrator online"]].value == "yes"
    # every column is sized, none is left at the default width
    for i in range(1, len(heads_en) + 1):
        letter = openpyxl.utils.get_column_letter(i)
        assert en.column_dimensions[letter].width >= 8, letter
    assert zh.column_dimensions["A"].width >= 8


def test_failed_meters_csv_has_the_same_headers(client: TestClient, pg_url: str) -> None:
    _seed(pg_url)
    viewer = auth_headers(client, "viewer", pg_url)
    x = client.get(
        "/api/failed-meters",
        params={"date": str(D), "format": "xlsx"},
        headers={**viewer, "Accept-Language": "en-GB,en;q=0.9"},
    )
    c = client.get(
        "/api/failed-meters",
        params={"date": str(D), "format": "csv"},
        headers={**viewer, "Accept-Language": "en-GB,en;q=0.9"},
    )
    assert c.status_code == 200 and c.headers["content-type"].startswith("text/csv")
    lines = _csv(c.content)
    assert lines[0] == [cell.value for cell in _sheet(x.content)[2]]
    body = c.content.decode("utf-8-sig")
    assert "447.51," in body and "447.5100000000093" not in body
    zh = _csv(client.get(f"/api/failed-meters?date={D}&format=csv", headers=viewer).content)
    assert zh[0][0] == "电表"  # no Accept-Language: Chinese


def test_anomalies_export_nested_values_as_text_and_codes_as_words(
    client: TestClient, pg_url: str
) -> None:
    _seed(pg_url)
    viewer = auth_headers(client, "viewer", pg_url)
    rows = _csv(client.get("/api/anomalies?format=csv&lang=zh", headers=viewer).content)
    head = rows[0]
    line = dict(zip(head, rows[1], strict=True))
    assert line["规则"] == "台区线损异常"
    assert line["状态"] == "待处理"
    evidence = line["证据"]
    assert "{" not in evidence and "'" not in evidence
    # keys as headers in the language, in jsonb's key order
    assert evidence == "线损率: 0.0988; 售电量 (kWh): 90; 供电量 (kWh): 100.1235"
    ws = _sheet(client.get("/api/anomalies?format=xlsx&lang=en", headers=viewer).content)
    heads = [c.value for c in ws[2]]
    line_x = {h: c.value for h, c in zip(heads, next(ws.iter_rows(min_row=3)), strict=True)}
    assert line_x["Status"] == "open" and line_x["Rule"] != "line_loss"
    assert line_x["Evidence"] == "Loss rate: 0.0988; Sales (kWh): 90; Supply (kWh): 100.1235"


def test_times_are_local_without_microseconds(client: TestClient, pg_url: str) -> None:
    _seed(pg_url)
    viewer = auth_headers(client, "viewer", pg_url)
    rows = _csv(client.get("/api/gateway-status?format=csv&lang=en", headers=viewer).content)
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["Last seen"] == "2026-11-21 00:30:05"  # 16:30:05.123456 UTC in Shanghai
    assert line["Online"] == "yes"
    ws = _sheet(client.get("/api/gateway-status?format=xlsx&lang=en", headers=viewer).content)
    heads = [c.value for c in ws[2]]
    cell = next(ws.iter_rows(min_row=3))[heads.index("Last seen")]
    assert cell.value == datetime(2026, 11, 21, 0, 30, 5)
    assert cell.number_format == "yyyy-mm-dd hh:mm:ss"


def test_rates_are_percentages(client: TestClient, pg_url: str) -> None:
    _seed(pg_url)
    viewer = auth_headers(client, "viewer", pg_url)
    r = client.get(
        "/api/completeness",
        params={"date": str(D), "by": "area", "format": "xlsx", "lang": "zh"},
        headers=viewer,
    )
    ws = _sheet(r.content)
    assert str(ws["A1"].value).startswith("采集成功率")
    heads = [c.value for c in ws[2]]
    rate = next(ws.iter_rows(min_row=3))[heads.index("成功率")]
    assert rate.value == pytest.approx(0.3333, abs=1e-9) and rate.number_format == "0.00%"
    due = next(ws.iter_rows(min_row=3))[heads.index("应抄")]
    assert due.value == 3 and due.number_format == "0"
    c = client.get(
        "/api/completeness",
        params={"date": str(D), "by": "area", "format": "csv", "lang": "en"},
        headers=viewer,
    )
    lines = _csv(c.content)
    assert dict(zip(lines[0], lines[1], strict=True))["Success rate"] == "33.33%"


#: the lists that are about a data date
DATED = {
    "/api/failed-meters",
    "/api/completeness",
    "/api/curve-completeness",
    "/api/line-loss",
    "/api/org/areas",
    "/api/reports/collection",
    "/api/reports/collection/meters",
    "/api/workbench/failed",
    "/api/line-loss/areas",
    "/api/line-loss/areas/A1/suspects",
    "/api/concentrators",
}
UNDATED = [
    "/api/meters",
    "/api/areas",
    "/api/gateways",
    "/api/org-units",
    "/api/anomalies",
    "/api/quarantine",
    "/api/conflicts",
    "/api/gateway-status",
    "/api/gateways/gw-1/commands",
    "/api/jobs/runs",
    "/api/dead-letters",
    "/api/audit",
]


@pytest.mark.parametrize("path", [*UNDATED, *sorted(DATED)])
def test_every_list_exports_with_translated_headers(
    client: TestClient, pg_url: str, path: str
) -> None:
    _seed(pg_url)
    admin = auth_headers(client, "admin", pg_url)
    dated = {"date": str(D)} if path in DATED else {}
    page = client.get(path, params=dated, headers=admin)
    assert page.status_code == 200, page.text
    got = client.get(path, params={**dated, "format": "csv", "lang": "zh"}, headers=admin)
    assert got.status_code == 200, got.text
    lines = _csv(got.content)
    untranslated = [h for h in lines[0] if h.isascii() and h not in ("ID", "CT 变比")]
    assert not untranslated, untranslated  # a code left as header
    assert all("{'" not in cell for line in lines[1:] for cell in line)  # no dict text
    x = client.get(path, params={**dated, "format": "xlsx", "lang": "en"}, headers=admin)
    assert x.status_code == 200, x.text
    ws = _sheet(x.content)
    assert ws.freeze_panes == "A3" and str(ws["A1"].value)
    if path != "/api/audit":  # (the CSV export just added an audit row)
        assert ws.max_row == len(lines) + 1  # the title row above the same rows


def test_lists_page_alike(client: TestClient, pg_url: str) -> None:
    _seed(pg_url)
    viewer = auth_headers(client, "viewer", pg_url)
    page = client.get(f"/api/failed-meters?date={D}&limit=1", headers=viewer).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (2, 1, 0, 1)
    page2 = client.get(f"/api/failed-meters?date={D}&limit=1&offset=1", headers=viewer).json()
    assert page2["items"][0]["meter_id"] != page["items"][0]["meter_id"]
    meters = client.get("/api/meters", headers=viewer).json()
    assert (meters["total"], meters["limit"], meters["offset"]) == (3, 50, 0)
    anomalies = client.get("/api/anomalies", headers=viewer).json()
    assert isinstance(anomalies["total"], int) and anomalies["limit"] == 50
    curves = client.get(f"/api/curve-completeness?date={D}", headers=viewer).json()
    assert all(isinstance(g["points"], int) for g in curves["groups"])  # was a string
    assert client.get("/api/meters?limit=1001", headers=viewer).status_code == 422


def test_unknown_parameters_and_invalid_values_answer_422(client: TestClient, pg_url: str) -> None:
    _seed(pg_url)
    viewer = auth_headers(client, "viewer", pg_url)
    for path, params, named in [
        ("/api/anomalies", {"status": "opne"}, "status"),
        ("/api/anomalies", {"rule": "no_such_rule"}, "rule"),
        ("/api/anomalies", {"staus": "open"}, "staus"),
        ("/api/failed-meters", {"area_idd": "A1"}, "area_idd"),
        ("/api/meters", {"protocol": "dlt645-2099"}, "protocol"),
        ("/api/org-units", {"area_id": "A1"}, "area_id"),
        ("/api/gateways/gw-1/commands", {"status": "done"}, "status"),
        ("/api/completeness", {"by": "town"}, "by"),
        ("/api/failed-meters", {"format": "pdf"}, "format"),
        ("/api/failed-meters", {"lang": "fr"}, "lang"),
    ]:
        r = client.get(path, params=params, headers=viewer)
        assert r.status_code == 422, (path, params, r.text)
        assert f"query.{named}" in r.json()["detail"], (path, r.json())
    # the old spellings still work, as deprecated aliases
    old = client.get(f"/api/failed-meters?date={D}&area=A1", headers=viewer).json()
    new = client.get(f"/api/failed-meters?date={D}&area_id=A1", headers=viewer).json()
    assert old["items"] == new["items"] and old["total"] == 2
    none = client.get(f"/api/failed-meters?date={D}&area=A9", headers=viewer).json()
    assert none["total"] == 0
    both = client.get(f"/api/failed-meters?date={D}&area=A9&area_id=A1", headers=viewer)
    assert both.status_code == 422
    assert (
        client.get("/api/anomalies?status=open&rule=line_loss", headers=viewer).json()["total"] == 1
    )


def test_control_characters_do_not_break_the_xlsx(client: TestClient, pg_url: str) -> None:
    _seed(pg_url)
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE gateways SET name = 'gw\x1b[31m\x01x' WHERE id = 'gw-1'")
    viewer = auth_headers(client, "viewer", pg_url)
    r = client.get("/api/gateway-status?format=xlsx&lang=en", headers=viewer)
    assert r.status_code == 200, r.text
    ws = _sheet(r.content)
    heads = [c.value for c in ws[2]]
    assert next(ws.iter_rows(min_row=3))[heads.index("Name")].value == "gw\ufffd[31m\ufffdx"
