"""The HTTP API: roles on every endpoint, archive CRUD with audit, all-or-nothing import,
personal details hidden from viewers, curves and freezes, clear 4xx on bad requests."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient

from server.archive import importer
from server.ingest.store import Batch, store

from .helpers import add_meters, auth_headers

OPEN = {
    "/health/live",
    "/health/ready",
    "/metrics",
    "/api/auth/login",
    "/api/auth/logout",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}


def db(client: TestClient) -> str:
    return str(client.app.state.database_url)  # type: ignore[attr-defined]


def test_every_endpoint_needs_a_signed_in_user(client: TestClient) -> None:
    checked = 0
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        if path in OPEN or not path.startswith("/api"):
            continue
        for method in ops:
            url = (
                path.replace("{key}", "x")
                .replace("{meter}", "x")
                .replace("{gateway}", "x")
                .replace("{cmd_id}", "x")
                .replace("{username}", "x")
            )
            resp = client.request(method, url)
            assert resp.status_code == 401, (method, path, resp.status_code)
            checked += 1
    assert checked >= 20


def test_roles_are_enforced(client: TestClient) -> None:
    viewer = auth_headers(client, "viewer", db(client))
    operator = auth_headers(client, "operator", db(client))
    admin = auth_headers(client, "admin", db(client))
    body = {"address": "000000000001", "protocol": "dlt645-2007", "installed_on": "2025-01-01"}
    assert client.put("/api/meters/M1", json=body, headers=viewer).status_code == 403
    assert client.put("/api/meters/M1", json=body, headers=operator).status_code == 403
    assert client.put("/api/meters/M1", json=body, headers=admin).status_code == 200
    assert client.get("/api/users", headers=operator).status_code == 403
    assert client.get("/api/dead-letters", headers=viewer).status_code == 403
    bad = client.post("/api/auth/login", json={"username": "test-viewer", "password": "nope"})
    assert bad.status_code == 401 and "wrong user name or password" in bad.text


def test_meter_crud_is_audited_and_private_details_hidden(client: TestClient) -> None:
    op = auth_headers(client, "admin", db(client))
    viewer = auth_headers(client, "viewer", db(client))
    body = {
        "address": "000000000007",
        "protocol": "dlt645-2007",
        "installed_on": "2025-01-01",
        "customer_name": "Zhang San",
        "customer_phone": "13800000000",
    }
    assert client.put("/api/areas/A9", json={"name": "Area 9"}, headers=op).status_code == 200
    body["area_id"] = "A9"
    r = client.put("/api/meters/M7", json=body, headers=op)
    assert r.status_code == 200 and r.json()["customer_name"] == "Zhang San"
    assert client.get("/api/meters/M7", headers=viewer).json()["customer_name"] is None
    assert client.get("/api/meters/M7", headers=op).json()["customer_name"] == "Zhang San"
    r = client.patch("/api/meters/M7", json={"ct_ratio": 40}, headers=op)
    assert r.status_code == 200 and float(r.json()["ct_ratio"]) == 40
    listing = client.get("/api/meters?area_id=A9", headers=viewer).json()
    assert listing["total"] == 1
    assert client.delete("/api/meters/M7", headers=op).status_code == 204
    assert client.get("/api/meters/M7", headers=op).status_code == 404
    with psycopg.connect(db(client)) as conn:
        actions = [
            r[0]
            for r in conn.execute(
                "SELECT action FROM audit_log WHERE entity = 'meters' ORDER BY id"
            )
        ]
        actor = conn.execute(
            "SELECT DISTINCT actor FROM audit_log WHERE entity = 'meters'"
        ).fetchall()
    assert actions == ["meters.create", "meters.update", "meters.delete"]
    assert actor == [("test-admin",)]


def test_bad_requests_get_clear_4xx(client: TestClient) -> None:
    op = auth_headers(client, "admin", db(client))
    r = client.put(
        "/api/meters/M1",
        json={"address": "12AB", "protocol": "x", "installed_on": "soon"},
        headers=op,
    )
    assert r.status_code == 422 and "address" in r.json()["detail"]
    r = client.put(
        "/api/meters/M1",
        json={
            "address": "000000000001",
            "protocol": "modbus",
            "installed_on": "2025-01-01",
            "area_id": "NOPE",
        },
        headers=op,
    )
    assert r.status_code == 409 and "does not exist" in r.json()["detail"]
    assert client.get("/api/meters/bad%20id", headers=op).status_code == 400
    r = client.get(
        "/api/meters/M1/curve?start=2026-01-01T00:00:00&end=2026-01-02T00:00:00", headers=op
    )
    assert r.status_code in (400, 404)


CSV_GOOD = """电表资产号,表地址,规约,集中器,台区,用户类别,户名,安装日期,CT变比
M100,000000000100,2007,GW1,TA1,居民,Li Si,2025-01-01,1
M101,101,1997,GW1,TA1,commercial,,2025/02/01,1
M102,000000000102,modbus,GW2,TA1,industrial,,2025-03-01,40
"""
CSV_BAD = """id,address,protocol,installed_on,ct_ratio
M200,000000000200,2007,2025-01-01,1
M201,12AB,2007,2025-01-01,1
M202,000000000202,2009,2025-01-01,0
M200,000000000203,2007,someday,1
"""


def test_csv_import_all_or_nothing(client: TestClient) -> None:
    op = auth_headers(client, "admin", db(client))
    r = client.post(
        "/api/archive/import", headers=op, files={"file": ("bad.csv", CSV_BAD.encode(), "text/csv")}
    )
    assert r.status_code == 422
    errors = {(e["row"], e["column"]) for e in r.json()["detail"]["errors"]}
    assert {
        (3, "address"),
        (4, "protocol"),
        (4, "ct_ratio"),
        (5, "id"),
        (5, "installed_on"),
    } <= errors
    assert client.get("/api/meters", headers=op).json()["total"] == 0  # nothing imported
    r = client.post(
        "/api/archive/import",
        headers=op,
        files={"file": ("good.csv", CSV_GOOD.encode("utf-8"), "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 3
    m = client.get("/api/meters/M101", headers=op).json()
    assert m["address"] == "000000000101" and m["protocol"] == "dlt645-1997"
    assert client.get("/api/gateways/GW2", headers=op).status_code == 200


def test_the_import_template_names_every_column_and_imports_back(client: TestClient) -> None:
    admin = auth_headers(client, "admin", db(client))
    operator = auth_headers(client, "operator", db(client))
    assert client.get("/api/archive/template", headers=operator).status_code == 403
    assert client.get("/api/archive/template?lang=fr", headers=admin).status_code == 422
    assert client.get("/api/archive/template?colour=red", headers=admin).status_code == 422
    for lang, first in (("zh", "电表资产号"), ("en", "id")):
        r = client.get(f"/api/archive/template?lang={lang}", headers=admin)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        assert f"meter-archive-{lang}.csv" in r.headers["content-disposition"]
        assert r.content.startswith("\ufeff".encode())  # Excel reads the Chinese headers
        header = r.content.decode("utf-8-sig").splitlines()
        assert len(header) == 1
        names = header[0].split(",")
        assert names[0] == first and len(set(names)) == len(names) == len(importer.COLUMNS)
        # a clerk fills the template in: every header is read back as its column
        row = dict.fromkeys(names, "")
        row.update(zip(names[:4], [f"T{lang}", "000000000777", "2007", ""], strict=True))
        installed = "安装日期" if lang == "zh" else "installed_on"
        ct = "ct变比" if lang == "zh" else "ct_ratio"
        row[installed], row[ct] = "2025-01-01", "40"
        body = r.content.decode("utf-8-sig") + ",".join(row.values()) + "\n"
        imp = client.post(
            "/api/archive/import",
            headers=admin,
            files={"file": ("t.csv", body.encode("utf-8-sig"), "text/csv")},
        )
        assert imp.status_code == 200, imp.text
        m = client.get(f"/api/meters/T{lang}", headers=admin).json()
        assert m["address"] == "000000000777" and m["ct_ratio"] == 40
        # a problem names the column as the clerk's file heads it
        bad = body.replace("000000000777", "12AB")
        imp = client.post(
            "/api/archive/import",
            headers=admin,
            files={"file": ("t.csv", bad.encode("utf-8-sig"), "text/csv")},
        )
        assert imp.status_code == 422
        [problem] = imp.json()["detail"]["errors"]
        assert (problem["row"], problem["column"], problem["header"]) == (2, "address", names[1])


def test_xlsx_import(client: TestClient) -> None:
    import openpyxl

    op = auth_headers(client, "admin", db(client))
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["id", "address", "protocol", "installed_on", "area_id", "is_area_master"])
    ws.append(["X1", "000000000301", "2007", datetime(2025, 1, 1), "TA3", "yes"])
    ws.append(["X2", "000000000302", "2007", "2025-01-02", "TA3", "no"])
    buf = io.BytesIO()
    wb.save(buf)
    r = client.post(
        "/api/archive/import",
        headers=op,
        files={"file": ("a.xlsx", buf.getvalue(), "application/octet-stream")},
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/areas/TA3", headers=op).json()["master_meter_id"] == "X1"
    r = client.post(
        "/api/archive/import",
        headers=op,
        files={"file": ("a.xlsx", b"not a workbook", "application/octet-stream")},
    )
    assert r.status_code == 400 and "XLSX" in r.json()["detail"]


def test_curve_latest_and_freeze(client: TestClient) -> None:
    viewer = auth_headers(client, "viewer", db(client))
    add_meters(db(client), [{"id": "M1", "address": "000000000001"}])
    t0 = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)
    rows = [
        (
            "M1",
            "energy_import_total",
            t0 + timedelta(minutes=15 * i),
            100.0 + i,
            "interval",
            "scheduled",
            (),
        )
        for i in range(96)
    ]
    rows.append(
        ("M1", "energy_import_total", t0 + timedelta(days=1), 200.0, "freeze", "scheduled", ())
    )
    with psycopg.connect(db(client)) as conn:
        b = Batch()
        b.add_rows("gw-1", "x", rows)
        store(conn, b, tz="Asia/Shanghai")
    r = client.get(
        "/api/meters/M1/curve",
        headers=viewer,
        params={"start": t0.isoformat(), "end": (t0 + timedelta(days=1)).isoformat()},
    )
    assert r.status_code == 200 and len(r.json()["points"]) == 96
    assert r.json()["unit"] == "kWh"
    r = client.get("/api/meters/M1/latest", headers=viewer)
    assert r.json()["values"][0]["value"] == 200.0
    r = client.get("/api/meters/M1/freeze?start=2026-11-01&end=2026-11-03", headers=viewer)
    assert [f["data_date"] for f in r.json()["freezes"]] == ["2026-11-02"]
    assert client.get("/api/meters/NOPE/latest", headers=viewer).status_code == 404


def test_raw_readings_and_events_of_a_day(client: TestClient) -> None:
    viewer = auth_headers(client, "viewer", db(client))
    add_meters(
        db(client),
        [{"id": "M1", "address": "000000000001"}, {"id": "M2", "address": "000000000002"}],
    )
    t0 = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)  # 2026-11-02 00:00 in Asia/Shanghai
    rows = [
        ("M1", q, t0 + timedelta(minutes=15 * i), v + i, "interval", "scheduled", ())
        for i in range(96)
        for q, v in (("energy_import_total", 100.0), ("power_active_total", 1.0))
    ]
    rows += [
        (
            "M1",
            "power_active_total",
            t0 - timedelta(minutes=15),
            9.0,
            "interval",
            "scheduled",
            (),
        ),  # the day before, local time
        (
            "M1",
            "power_active_total",
            t0 + timedelta(days=1),
            9.0,
            "interval",
            "scheduled",
            (),
        ),  # the day after
        (
            "M1",
            "energy_import_total",
            t0 + timedelta(days=1),
            200.0,
            "freeze",
            "scheduled",
            (),
        ),  # a freeze: in daily_freeze, not a raw reading of the day
        ("M2", "power_active_total", t0 + timedelta(hours=1), 3.0, "interval", "scheduled", ()),
        ("M1", "clock_offset", t0 + timedelta(hours=12), 12.0, "clock", "scheduled", ()),
        ("M1", "cover_open_count", t0 + timedelta(minutes=30), 1.0, "event", "scheduled", ()),
        (
            "M1",
            "cover_open_count",
            t0 + timedelta(days=1, minutes=30),
            2.0,
            "event",
            "scheduled",
            (),
        ),
        ("M1", "power_down_count", t0 - timedelta(days=3), 4.0, "event", "scheduled", ()),
    ]
    with psycopg.connect(db(client)) as conn:
        b = Batch()
        b.add_rows("gw-1", "x", rows)
        store(conn, b, tz="Asia/Shanghai")
    r = client.get("/api/meters/M1/readings?date=2026-11-02&limit=50", headers=viewer)
    assert r.status_code == 200, r.text
    day = r.json()
    # 2 x 96 interval readings, the clock check and a cover-open counter
    assert day["total"] == 2 * 96 + 2 and len(day["items"]) == 50
    assert (day["date"], day["timezone"]) == ("2026-11-02", "Asia/Shanghai")
    assert day["start"] == "2026-11-02T00:00:00+08:00"
    assert day["end"] == "2026-11-03T00:00:00+08:00"
    first = day["items"][0]
    assert (first["quantity"], first["value"], first["kind"], first["unit"]) == (
        "energy_import_total",
        100.0,
        "interval",
        "kWh",
    )
    assert datetime.fromisoformat(first["ts"]) == t0
    pages = [
        client.get(
            f"/api/meters/M1/readings?date=2026-11-02&limit=50&offset={o}", headers=viewer
        ).json()["items"]
        for o in range(0, 200, 50)
    ]
    seen = [(x["ts"], x["quantity"]) for page in pages for x in page]
    assert len(seen) == len(set(seen)) == day["total"]  # pages neither repeat nor skip
    only = client.get(
        "/api/meters/M1/readings?date=2026-11-02&quantity=power_active_total", headers=viewer
    ).json()
    assert only["total"] == 96 and only["items"][-1]["value"] == 96.0
    # events: newest first, of the day or of several days ending with it
    ev = client.get("/api/meters/M1/events?date=2026-11-02", headers=viewer).json()
    assert [(e["quantity"], e["value"]) for e in ev["items"]] == [
        ("clock_offset", 12.0),
        ("cover_open_count", 1.0),
    ]
    assert ev["items"][0]["unit"] == "s" and ev["total"] == 2
    ev = client.get(
        "/api/meters/M1/events?date=2026-11-03&days=7&limit=2&offset=1", headers=viewer
    ).json()
    assert (ev["from"], ev["to"], ev["total"]) == ("2026-10-28", "2026-11-03", 4)
    assert [(e["quantity"], e["value"]) for e in ev["items"]] == [
        ("clock_offset", 12.0),
        ("cover_open_count", 1.0),
    ]
    # by default the day is yesterday in the utility time zone
    yesterday = datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)
    r = client.get("/api/meters/M1/readings", headers=viewer)
    assert r.status_code == 200 and r.json()["date"] == yesterday.isoformat()
    assert client.get("/api/meters/M1/events", headers=viewer).json()["to"] == yesterday.isoformat()
    # refusals: no token, an unknown meter, quantity or date, a page too large
    client.cookies.clear()  # the sign-in also set the dashboard's session cookie
    assert client.get("/api/meters/M1/readings?date=2026-11-02").status_code == 401
    assert client.get("/api/meters/M1/events").status_code == 401
    assert client.get("/api/meters/NOPE/readings", headers=viewer).status_code == 404
    assert client.get("/api/meters/NOPE/events", headers=viewer).status_code == 404
    assert client.get("/api/meters/M1/events?quantity=colour", headers=viewer).status_code == 400
    assert client.get("/api/meters/M1/readings?date=2026-13-01", headers=viewer).status_code == 422
    assert client.get("/api/meters/M1/readings?limit=100000", headers=viewer).status_code == 422
    assert (
        client.get("/api/meters/M1/events?date=0001-01-01&days=2", headers=viewer).status_code
        == 422
    )


def test_health_and_metrics(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "alive"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    assert client.get("/metrics").status_code == 200
