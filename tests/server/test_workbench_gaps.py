"""What the workbench review found (issue 19): the month report counts closed days only and
says which; the archive gives CT/PT ratios and its other ``numeric`` fields as numbers; a
concentrator serving several areas is under each with that area's meters; the lists a
clerk has on screen (a re-read batch's outcomes, an area's concentrators, a concentrator's
meters, search results) export through the one mechanism."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from .helpers import auth_headers
from .workbench_data import D, build


class StoppedClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        time.sleep(0)


def db(client: TestClient) -> str:
    return str(client.app.state.database_url)  # type: ignore[attr-defined]


def get(client: TestClient, path: str, h: dict[str, str], **params: Any) -> Any:
    r = client.get(path, params=params, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def csv_rows(client: TestClient, path: str, h: dict[str, str], **params: Any) -> list[list[str]]:
    r = client.get(path, params={**params, "format": "csv"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


def xlsx_rows(client: TestClient, path: str, h: dict[str, str], **params: Any) -> list[list[Any]]:
    r = client.get(path, params={**params, "format": "xlsx"}, headers=h)
    assert r.status_code == 200, r.text
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None and ws.freeze_panes == "A3"
    return [list(row) for row in ws.iter_rows(values_only=True)]


# --- 1. the month report: closed days only ------------------------------------------------


def test_the_current_month_counts_its_closed_days_only(client: TestClient) -> None:
    build(db(client))
    # noon of 21 November in Shanghai: today is the 21st, the last closed data date D (20th)
    client.app.state.clock = StoppedClock(datetime(2026, 11, 21, 4, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    h = auth_headers(client, "viewer", db(client))
    body = get(client, "/api/reports/collection", h, period="month", by="area")
    a1 = body["items"][0]
    # 5 meters x 20 closed days (1-20 November), not x 30: the 21st-30th cannot be read yet
    assert (a1["key"], a1["due"], a1["read"], a1["read_first"]) == ("A1", 100, 8, 8)
    assert (body["start"], body["end"], body["period_end"]) == (
        "2026-11-01",
        D.isoformat(),
        "2026-11-30",
    )
    assert (body["days"], body["complete"]) == (20, False)
    assert body["summary"]["due"] == 9 * 20
    # the previous month is whole and closed
    assert (body["previous_start"], body["previous_end"]) == ("2026-10-01", "2026-10-31")
    # the drill-down counts the same days
    meters = get(client, "/api/reports/collection/meters", h, period="month", by="area", key="A1")
    assert {r["meter_id"]: r["due_days"] for r in meters["items"]}["M1"] == 20
    # the file says which days it covers
    title = xlsx_rows(client, "/api/reports/collection", h, period="month", by="area", lang="en")
    assert "From 2026-11-01" in str(title[0][0]) and f"To {D.isoformat()}" in str(title[0][0])
    # a month without a closed day: 422 naming it
    r = client.get(
        "/api/reports/collection", params={"period": "month", "month": "2026-12"}, headers=h
    )
    assert r.status_code == 422 and "month" in r.json()["detail"], r.text
    # a past month is whole
    oct_ = get(client, "/api/reports/collection", h, period="month", month="2026-10")
    assert (oct_["end"], oct_["days"], oct_["complete"]) == ("2026-10-31", 31, True)


def test_on_the_first_of_a_month_its_report_is_refused_and_the_last_is_whole(
    client: TestClient,
) -> None:
    build(db(client))
    client.app.state.clock = StoppedClock(datetime(2026, 12, 1, 4, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    h = auth_headers(client, "viewer", db(client))
    body = get(client, "/api/reports/collection", h, period="month", by="all")
    # the default month is the last closed day's: November, whole
    assert (body["start"], body["end"], body["complete"]) == ("2026-11-01", "2026-11-30", True)
    r = client.get(
        "/api/reports/collection", params={"period": "month", "month": "2026-12"}, headers=h
    )
    assert r.status_code == 422 and "2026-11-30" in r.json()["detail"]


# --- 2. the archive's numbers are numbers ----------------------------------------------------


def test_the_archive_gives_ratios_and_ratings_as_numbers(client: TestClient) -> None:
    build(db(client))
    with psycopg.connect(db(client)) as conn:
        conn.execute(
            "UPDATE meters SET ct_ratio = 40, pt_ratio = 100, rated_voltage = 220, "
            "rated_current = 1.5, contracted_kw = 12.5 WHERE id = 'M1'"
        )
        conn.execute("UPDATE areas SET capacity_kva = 400 WHERE id = 'A1'")
    h = auth_headers(client, "viewer", db(client))
    want = {
        "ct_ratio": 40,
        "pt_ratio": 100,
        "rated_voltage": 220,
        "rated_current": 1.5,
        "contracted_kw": 12.5,
    }

    def numbers(row: dict[str, Any]) -> dict[str, Any]:
        for k in want:
            assert not isinstance(row[k], str), (k, row[k])
        return {k: row[k] for k in want}

    assert numbers(get(client, "/api/meters/M1", h)) == want
    listed = {r["id"]: r for r in get(client, "/api/meters", h, area_id="A1")["items"]}
    assert numbers(listed["M1"]) == want
    assert listed["M2"]["ct_ratio"] == 1 and listed["M2"]["rated_voltage"] is None
    assert get(client, "/api/areas/A1", h)["capacity_kva"] == 400
    # a change answers numbers too, and the audit keeps numbers
    admin = auth_headers(client, "admin", db(client))
    r = client.patch("/api/meters/M1", json={"ct_ratio": 60}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["ct_ratio"] == 60 and r.json()["rated_current"] == 1.5
    with psycopg.connect(db(client)) as conn:
        before, after = conn.execute(
            "SELECT before, after FROM audit_log WHERE entity = 'meters' AND entity_id = 'M1' "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()  # type: ignore[misc]
    assert (before["ct_ratio"], after["ct_ratio"], after["rated_current"]) == (40, 60, 1.5)
    # the archive export: numbers in number cells, and as plain numbers in CSV
    rows = xlsx_rows(client, "/api/meters", h, area_id="A1", lang="en")
    head = rows[1]
    m1 = dict(zip(head, next(r for r in rows[2:] if r[0] == "M1"), strict=True))
    assert (m1["CT ratio"], m1["PT ratio"], m1["Rated current (A)"]) == (60, 100, 1.5)
    rows_csv = csv_rows(client, "/api/meters", h, area_id="A1", lang="en")
    m1c = dict(zip(rows_csv[0], next(r for r in rows_csv[1:] if r[0] == "M1"), strict=True))
    assert (m1c["CT ratio"], m1c["Contracted power (kW)"]) == ("60", "12.5")


# --- 5. a concentrator serving several areas -------------------------------------------------


def share_g2(client: TestClient) -> None:
    """g2 (area A2's) also reads X1, a meter of A1."""
    build(db(client))
    with psycopg.connect(db(client)) as conn:
        conn.execute(
            "INSERT INTO meters (id, address, gateway_id, area_id, protocol, customer_class, "
            "customer_name, installed_on, bus) VALUES ('X1', '000000000901', 'g2', 'A1', "
            "'dlt645-2007', 'residential', '郑十一', '2025-01-01', 'rs485-1')"
        )


def test_a_concentrator_is_under_every_area_it_serves(client: TestClient) -> None:
    share_g2(client)
    h = auth_headers(client, "viewer", db(client))
    d = D.isoformat()
    a1 = get(client, "/api/org/areas/A1/gateways", h, date=d)
    assert [g["id"] for g in a1["items"]] == ["g1", "g2"] and a1["total"] == 2
    g2 = a1["items"][1]
    # under A1: A1's one meter on it, not yet read on D
    assert (g2["meters"], g2["meters_all"], g2["due"], g2["read"], g2["areas"]) == (
        1,
        3,
        1,
        0,
        ["A1", "A2"],
    )
    a2 = get(client, "/api/org/areas/A2/gateways", h, date=d)
    assert [(g["id"], g["meters"], g["due"]) for g in a2["items"]] == [("g2", 2, 2)]
    # its meters per area
    x = get(client, "/api/org/gateways/g2/meters", h, date=d, area_id="A1")
    assert [m["id"] for m in x["items"]] == ["X1"] and x["total"] == 1
    y = get(client, "/api/org/gateways/g2/meters", h, date=d, area_id="A2")
    assert [m["id"] for m in y["items"]] == ["N1", "N2"]
    assert get(client, "/api/org/gateways/g2/meters", h, date=d)["total"] == 3
    r = client.get("/api/org/gateways/g2/meters", params={"area_id": "nope"}, headers=h)
    assert r.status_code == 404
    # the concentrator list: filtered by area, every one serving it; each with its areas
    by_area = get(client, "/api/concentrators", h, date=d, area_id="A1")
    assert [(g["id"], g["areas"]) for g in by_area["items"]] == [
        ("g1", ["A1"]),
        ("g2", ["A1", "A2"]),
    ]
    assert get(client, "/api/concentrators/g2", h, date=d)["areas"] == ["A1", "A2"]
    # the tree and the area list count it in both areas
    areas = {a["id"]: a for a in get(client, "/api/org/areas", h, date=d)["items"]}
    assert (areas["A1"]["gateways"], areas["A2"]["gateways"]) == (2, 1)
    # and the units above count it once: the company has g1 and g2 (g3's area has no unit)
    (co,) = get(client, "/api/org/tree", h, date=d)["items"]
    st1, st2 = co["children"]
    assert (co["gateways"], st1["gateways"], st2["gateways"]) == (2, 2, 1)
    assert "_gateways" not in co and "_gateways" not in st1["children"][0]


# --- 4. the exports of the lists on screen ----------------------------------------------------


def test_the_lists_on_screen_export_with_headers_in_both_languages(client: TestClient) -> None:
    share_g2(client)
    viewer = auth_headers(client, "viewer", db(client))
    d = D.isoformat()
    # an area's concentrators
    zh = xlsx_rows(client, "/api/org/areas/A1/gateways", viewer, date=d, lang="zh")
    assert str(zh[0][0]).startswith("台区集中器") and "台区 A1" in str(zh[0][0])
    assert zh[1][:4] == ["集中器", "名称", "在线", "最后通信"]
    assert [r[0] for r in zh[2:]] == ["g1", "g2"]
    g2 = dict(zip(zh[1], zh[3], strict=True))
    assert (g2["电表数"], g2["服务台区"]) == (1, "A1, A2")
    en = csv_rows(client, "/api/org/areas/A1/gateways", viewer, date=d, lang="en")
    assert en[0][:3] == ["Concentrator", "Name", "Online"] and "Areas served" in en[0]
    # a concentrator's meters (of one area)
    ms = csv_rows(client, "/api/org/gateways/g2/meters", viewer, date=d, area_id="A2", lang="en")
    assert ms[0][:2] == ["Meter", "Meter address"] and "Read that day" in ms[0]
    assert [r[0] for r in ms[1:]] == ["N1", "N2"]
    read = ms[0].index("Read that day")
    assert [r[read] for r in ms[1:]] == ["yes", "no"]
    # a viewer's file hides the customers' names, as the page does
    assert ms[0].index("Customer name") and all(
        r[ms[0].index("Customer name")] != "Acme Ltd" for r in ms[1:]
    )
    x = xlsx_rows(client, "/api/org/gateways/g2/meters", viewer, date=d, area_id="A1", lang="zh")
    assert "集中器电表" in str(x[0][0]) and [r[0] for r in x[2:]] == ["X1"]
    # search results
    s = csv_rows(client, "/api/search", viewer, q="00000000010", lang="zh")
    assert s[0][:2] == ["电表", "表地址"] and [r[0] for r in s[1:]] == [
        f"M{i}" for i in range(1, 6)
    ]
    sx = xlsx_rows(client, "/api/search", viewer, q="00000000010", lang="en")
    assert "Meter search results" in str(sx[0][0]) and "Search 00000000010" in str(sx[0][0])
    # a re-read batch's outcomes
    operator = auth_headers(client, "operator", db(client))
    r = client.post(
        "/api/reread/batches",
        json={"items": [{"meter_id": "M4", "date": d}, {"meter_id": "M5", "date": d}]},
        headers=operator,
    )
    assert r.status_code == 202, r.text
    batch = r.json()["id"]
    path = f"/api/reread/batches/{batch}"
    b = csv_rows(client, path, viewer, lang="en")
    assert b[0][:5] == ["Meter", "Day re-read", "Concentrator", "Outcome", "Why not read"]
    assert [(r[0], r[1], r[3]) for r in b[1:]] == [
        ("M4", d, "not re-readable"),
        ("M5", d, "not yet sent"),
    ]
    bz = xlsx_rows(client, path, viewer, lang="zh", outcome="pending")
    assert str(bz[0][0]).startswith("补抄批次结果") and "结果 待下发" in str(bz[0][0])
    assert bz[1][:4] == ["电表", "补抄日期", "集中器", "结果"]
    assert [(r[0], r[1].date(), r[3]) for r in bz[2:]] == [("M5", D, "待下发")]
    every = csv_rows(client, "/api/reread/batches", viewer, lang="en")
    assert every[0] == [
        "Batch",
        "Requested at",
        "Requested by",
        "Items",
        "Read",
        "Not yet sent",
        "Sent, awaiting answer",
        "Failed",
        "Expired",
        "Not re-readable",
    ]
    assert every[1][0] == str(batch) and every[1][3:] == ["2", "0", "1", "0", "0", "0", "1"]
    assert client.get(f"{path}?format=pdf", headers=viewer).status_code == 422
    assert client.get("/api/reread/batches/999999?format=csv", headers=viewer).status_code == 404
    # each file audited as an export
    with psycopg.connect(db(client)) as conn:
        reports = {
            r[0]
            for r in conn.execute(
                "SELECT entity_id FROM audit_log WHERE action = 'export'"
            ).fetchall()
        }
    assert {
        "area-concentrators",
        "concentrator-meters",
        "search",
        f"reread-batch-{batch}",
        "reread-batches",
    } <= reports
