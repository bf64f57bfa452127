"""Collection reports (issue 19): day and month reports by every grouping with the
first-pass rate beside the rate after re-reading, curve completeness, the threshold and the
previous period; the drill-down to a group's meters; the trend per day; clear 4xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from server.db.partitions import ensure_partitions

from .helpers import auth_headers
from .workbench_data import D, build


def db(client: TestClient) -> str:
    return str(client.app.state.database_url)  # type: ignore[attr-defined]


def setup(client: TestClient) -> dict[str, str]:
    build(db(client))
    with psycopg.connect(db(client)) as conn:
        # M2's day was missing when a re-read asked for it: read after re-reading
        conn.execute(
            "INSERT INTO reread_requests (meter_id, data_date, gateway_id, command_id, "
            "requested_by, missing_when_asked) VALUES ('M2', %s, 'g1', 'c1', 'ops', true)",
            (D,),
        )
        # M1's load curve of D: 96 points; M2's: 48 (D starts at 16:00 UTC the day before)
        start = datetime(D.year, D.month, D.day, tzinfo=UTC) - timedelta(hours=8)
        ensure_partitions(conn, {D}, "Asia/Shanghai")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO readings (meter_id, quantity, ts, value, kind, source) "
                "VALUES (%s, 'energy_import_total', %s, %s, 'interval', 'scheduled')",
                [("M1", start + timedelta(minutes=15 * i), float(i)) for i in range(96)]
                + [("M2", start + timedelta(minutes=15 * i), float(i)) for i in range(48)],
            )
    return auth_headers(client, "viewer", db(client))


def test_the_day_report_by_area_with_first_pass_curves_and_previous_day(
    client: TestClient,
) -> None:
    h = setup(client)
    r = client.get(
        "/api/reports/collection", params={"date": D.isoformat(), "by": "area"}, headers=h
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["total"], body["threshold"], body["by"]) == (3, 0.98, "area")
    assert (body["start"], body["end"], body["previous_end"]) == (
        D.isoformat(),
        D.isoformat(),
        (D - timedelta(days=1)).isoformat(),
    )
    a1 = body["items"][0]
    assert (a1["key"], a1["name"], a1["due"], a1["read"], a1["read_first"]) == (
        "A1",
        "一号台区",
        5,
        3,
        2,
    )
    assert (a1["rate"], a1["rate_first"], a1["below_threshold"]) == (0.6, 0.4, True)
    assert (a1["curve_points"], a1["curve_expected"], a1["curves_complete"]) == (144, 480, 1)
    assert a1["curve_rate"] == 0.3
    assert a1["previous"] == {"due": 5, "read": 5, "read_first": 5, "rate": 1.0, "rate_first": 1.0}
    assert a1["change"] == -0.4 and a1["change_first"] == -0.6
    a3 = body["items"][2]
    assert (a3["rate"], a3["below_threshold"], a3["change"]) == (1.0, False, 0.0)
    s = body["summary"]
    assert (s["due"], s["read"], s["read_first"]) == (9, 6, 5)
    low = client.get(
        "/api/reports/collection",
        params={"date": D.isoformat(), "by": "area", "below_threshold": "true"},
        headers=h,
    ).json()
    assert [g["key"] for g in low["items"]] == ["A1", "A2"]


def test_every_grouping_adds_up_to_the_whole(client: TestClient) -> None:
    h = setup(client)
    for by in ("org", "gateway", "protocol", "customer_class"):
        body = client.get(
            "/api/reports/collection", params={"date": D.isoformat(), "by": by}, headers=h
        ).json()
        assert sum(g["due"] for g in body["items"]) == 9, by
        assert sum(g["read"] for g in body["items"]) == 6, by
    org = client.get(
        "/api/reports/collection", params={"date": D.isoformat(), "by": "org"}, headers=h
    ).json()
    assert {g["key"]: (g["name"], g["read"], g["due"]) for g in org["items"]} == {
        "ST1": ("城关供电所", 3, 5),
        "ST2": ("城郊供电所", 1, 2),
        None: (None, 2, 2),  # the area without a unit
    }


def test_the_month_report_counts_meter_days(client: TestClient) -> None:
    h = setup(client)
    body = client.get(
        "/api/reports/collection",
        params={"period": "month", "month": D.strftime("%Y-%m"), "by": "area"},
        headers=h,
    ).json()
    a1 = body["items"][0]
    # 5 meters x 30 days of November due; 5 + 3 freezes
    assert (a1["due"], a1["read"], a1["read_first"]) == (150, 8, 7)
    assert a1["curve_points"] is None
    assert body["start"] == "2026-11-01" and body["end"] == "2026-11-30"
    assert body["previous_start"] == "2026-10-01" and a1["previous"]["read"] == 0
    bad = client.get(
        "/api/reports/collection", params={"period": "month", "month": "2026-13"}, headers=h
    )
    assert bad.status_code == 422 and "month" in bad.json()["detail"]
    bad = client.get("/api/reports/collection", params={"month": "2026-11"}, headers=h)
    assert bad.status_code == 422
    assert (
        client.get("/api/reports/collection", params={"by": "colour"}, headers=h).status_code == 422
    )


def test_drill_down_to_the_meters_of_a_group(client: TestClient) -> None:
    h = setup(client)
    p = {"date": D.isoformat(), "by": "area", "key": "A1"}
    body = client.get("/api/reports/collection/meters", params=p, headers=h).json()
    assert body["total"] == 5
    m = {r["meter_id"]: r for r in body["items"]}
    assert (m["M2"]["read_days"], m["M2"]["read_first_days"], m["M2"]["curve_points"]) == (1, 0, 48)
    assert m["M1"]["curve_points"] == 96 and m["M4"]["read_days"] == 0
    unread = client.get(
        "/api/reports/collection/meters", params={**p, "read": "false"}, headers=h
    ).json()
    assert [r["meter_id"] for r in unread["items"]] == ["M4", "M5"]
    every = client.get(
        "/api/reports/collection/meters",
        params={"date": D.isoformat(), "limit": 2, "offset": 8},
        headers=h,
    ).json()
    assert (every["total"], [r["meter_id"] for r in every["items"]]) == (9, ["P2"])
    org = client.get(
        "/api/reports/collection/meters",
        params={"date": D.isoformat(), "by": "org", "key": "ST2"},
        headers=h,
    ).json()
    assert [r["meter_id"] for r in org["items"]] == ["N1", "N2"]
    r = client.get("/api/reports/collection/meters", params={"by": "area"}, headers=h)
    assert r.status_code == 422 and "key" in r.json()["detail"]
    r = client.get(
        "/api/reports/collection/meters", params={"by": "area", "key": "nope"}, headers=h
    )
    assert r.status_code == 404


def test_the_trend_per_day(client: TestClient) -> None:
    h = setup(client)
    body = client.get(
        "/api/reports/collection/trend", params={"end": D.isoformat(), "days": 3}, headers=h
    ).json()
    assert body["threshold"] == 0.98
    assert [(x["date"], x["due"], x["read"], x["read_first"]) for x in body["items"]] == [
        ((D - timedelta(days=2)).isoformat(), 9, 0, 0),
        ((D - timedelta(days=1)).isoformat(), 9, 9, 9),
        (D.isoformat(), 9, 6, 5),
    ]
    assert body["items"][2]["below_threshold"] is True
    area = client.get(
        "/api/reports/collection/trend",
        params={"end": D.isoformat(), "days": 1, "by": "org", "key": "ST1"},
        headers=h,
    ).json()
    assert [(x["due"], x["read"]) for x in area["items"]] == [(5, 3)]
    assert (
        client.get("/api/reports/collection/trend", params={"days": 93}, headers=h).status_code
        == 422
    )
