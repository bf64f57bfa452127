"""Anomaly work (issue 19): the list's filters, a record's detail with its evidence as
chart data, assignment, comments, the history (who and when, from the audit log), batch
decisions checked one by one against the workflow, statistics by rule and area; roles and
clear 4xx."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from .helpers import auth_headers
from .workbench_data import D, build


def db(client: TestClient) -> str:
    return str(client.app.state.database_url)  # type: ignore[attr-defined]


def setup(client: TestClient) -> dict[str, int]:
    build(db(client))
    rows = [
        ("line_loss", None, "A1", D, D),
        ("zero_consumption", "M2", "A1", D, D),
        ("stopped", "M3", "A1", D - timedelta(days=3), D - timedelta(days=1)),
        ("zero_consumption", "N1", "A2", D - timedelta(days=40), D - timedelta(days=35)),
    ]
    ids: dict[str, int] = {}
    with psycopg.connect(db(client)) as conn:
        for rule, meter, area, first, last in rows:
            row = conn.execute(
                "INSERT INTO anomalies (rule, meter_id, area_id, first_date, last_date, "
                'evidence) VALUES (%s, %s, %s, %s, %s, \'{"why": "test"}\') RETURNING id',
                (rule, meter, area, first, last),
            ).fetchone()
            assert row is not None
            ids[meter or area] = row[0]
    return ids


def listing(client: TestClient, h: dict[str, str], **params: Any) -> list[str]:
    r = client.get("/api/anomalies", params=params, headers=h)
    assert r.status_code == 200, r.text
    return sorted(a["meter_id"] or a["area_id"] for a in r.json()["items"])


def test_the_list_filters_by_area_unit_dates_and_assignee(client: TestClient) -> None:
    ids = setup(client)
    h = auth_headers(client, "viewer", db(client))
    assert listing(client, h, area_id="A2") == ["N1"]
    assert listing(client, h, area="A2") == ["N1"]  # the older name still works
    assert listing(client, h, org_id="ST1") == ["A1", "M2", "M3"]
    assert listing(client, h, start=D.isoformat(), end=D.isoformat()) == ["A1", "M2"]
    assert listing(client, h, end=(D - timedelta(days=2)).isoformat()) == ["M3", "N1"]
    op = auth_headers(client, "operator", db(client))
    r = client.post(
        f"/api/anomalies/{ids['M3']}/assign", json={"assigned_to": "test-operator"}, headers=op
    )
    assert r.status_code == 200, r.text
    assert listing(client, h, assigned_to="test-operator") == ["M3"]
    assert client.get("/api/anomalies", params={"org_id": "nope"}, headers=h).status_code == 404


def test_detail_with_evidence_as_chart_data(client: TestClient) -> None:
    ids = setup(client)
    op = auth_headers(client, "operator", db(client))
    r = client.get(f"/api/anomalies/{ids['M2']}", headers=op)
    assert r.status_code == 200, r.text
    a = r.json()
    assert (a["rule"], a["status"], a["evidence"], a["assigned_to"]) == (
        "zero_consumption",
        "open",
        {"why": "test"},
        None,
    )
    assert a["rule_label_zh"] and a["rule_label_en"]
    assert a["meter"]["customer_name"] == "张三" and a["area_name"] == "一号台区"
    ev = a["evidence_series"]
    assert ev["days"][0] == (D - timedelta(days=7)).isoformat()
    assert ev["days"][-1] == (D + timedelta(days=1)).isoformat() and ev["marked"] == [D.isoformat()]
    series = {s["name"]: s["values"] for s in ev["series"]}
    at_d = ev["days"].index(D.isoformat())
    assert series["energy_import_total"][at_d] == 115.0
    assert series["energy_import_total"][at_d - 1] == 110.0
    assert series["consumption"][at_d] == 5.0 and series["consumption"][at_d - 1] is None
    viewer = auth_headers(client, "viewer", db(client))
    assert (
        client.get(f"/api/anomalies/{ids['M2']}", headers=viewer).json()["meter"]["customer_name"]
        is None
    )
    area = client.get(f"/api/anomalies/{ids['A1']}", headers=viewer).json()
    s = {x["name"]: x["values"] for x in area["evidence_series"]["series"]}
    at_d = area["evidence_series"]["days"].index(D.isoformat())
    # A1 on D: the master M1 +40 kWh; M2 +5, M3 +5 (M4, M5 unread)
    assert (s["supply"][at_d], s["sales"][at_d], s["loss_rate"][at_d]) == (40.0, 10.0, 0.75)
    assert area["meter"] is None
    assert client.get("/api/anomalies/999999", headers=viewer).status_code == 404
    assert client.get("/api/anomalies/abc", headers=viewer).status_code == 422


def test_assignment_comments_and_decisions_make_the_history(client: TestClient) -> None:
    ids = setup(client)
    op = auth_headers(client, "operator", db(client))
    auth_headers(client, "admin", db(client))  # the admin exists: may be given work
    url = f"/api/anomalies/{ids['M2']}"
    r = client.post(
        f"{url}/assign", json={"assigned_to": "test-admin", "comment": "yours"}, headers=op
    )
    assert r.status_code == 200 and r.json()["assigned_to"] == "test-admin"
    r = client.post(f"{url}/comments", json={"comment": "called the customer"}, headers=op)
    assert r.status_code == 201 and r.json()["action"] == "comment"
    r = client.post(f"{url}/status", json={"status": "confirmed", "comment": "on site"}, headers=op)
    assert r.status_code == 200, r.text
    hist = client.get(f"{url}/history", headers=auth_headers(client, "viewer", db(client)))
    items = hist.json()["items"]
    assert [(i["action"], i.get("from"), i.get("to"), i["comment"]) for i in items] == [
        ("created", None, "open", None),
        ("assign", None, "test-admin", "yours"),
        ("comment", None, None, "called the customer"),
        ("status", "open", "confirmed", "on site"),
    ]
    assert all(i["actor"] == "test-operator" for i in items[1:]) and items[1]["at"]
    # refusals
    viewer = auth_headers(client, "viewer", db(client))
    assert (
        client.post(f"{url}/assign", json={"assigned_to": None}, headers=viewer).status_code == 403
    )
    r = client.post(f"{url}/assign", json={"assigned_to": "nobody"}, headers=op)
    assert r.status_code == 422 and "assigned_to" in r.json()["detail"]
    r = client.post(f"{url}/assign", json={"assigned_to": "test-viewer"}, headers=op)
    assert r.status_code == 422 and "viewer" in r.json()["detail"]
    assert client.post(f"{url}/comments", json={"comment": ""}, headers=op).status_code == 422
    assert (
        client.post("/api/anomalies/999999/comments", json={"comment": "x"}, headers=op).status_code
        == 404
    )
    r = client.post(f"{url}/assign", json={"assigned_to": None}, headers=op)
    assert r.status_code == 200 and r.json()["assigned_to"] is None


def test_batch_decisions_are_checked_one_by_one(client: TestClient) -> None:
    ids = setup(client)
    op = auth_headers(client, "operator", db(client))
    r = client.post(
        "/api/anomalies/batch",
        json={"ids": [ids["M2"], ids["M3"], 999999], "status": "dismissed", "comment": "meter ok"},
        headers=op,
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["done"], out["refused"]) == (2, 1)
    r = client.post(
        "/api/anomalies/batch",
        json={"ids": [ids["M2"], ids["A1"]], "status": "confirmed", "comment": "check"},
        headers=op,
    )
    res = {i["id"]: i for i in r.json()["items"]}
    assert (
        res[ids["M2"]]["ok"] is False
        and "dismissed cannot become confirmed" in res[ids["M2"]]["error"]
    )
    assert res[ids["A1"]]["ok"] is True
    with psycopg.connect(db(client)) as conn:
        n = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'anomaly.status' "
            "AND after->>'batch' = 'true'"
        ).fetchone()
        assert n == (3,)
    for bad in (
        {"ids": [], "status": "closed", "comment": "x"},
        {"ids": [1], "status": "open", "comment": "x"},
        {"ids": [1], "status": "closed", "comment": ""},
        {"ids": list(range(501)), "status": "closed", "comment": "x"},
    ):
        assert client.post("/api/anomalies/batch", json=bad, headers=op).status_code == 422, bad
    viewer = auth_headers(client, "viewer", db(client))
    body = {"ids": [ids["N1"]], "status": "closed", "comment": "x"}
    assert client.post("/api/anomalies/batch", json=body, headers=viewer).status_code == 403


def test_statistics_by_rule_and_area(client: TestClient) -> None:
    setup(client)
    h = auth_headers(client, "viewer", db(client))
    p = {"start": (D - timedelta(days=5)).isoformat(), "end": D.isoformat()}
    r = client.get("/api/anomalies/stats", params=p, headers=h)
    assert r.status_code == 200, r.text
    by_rule = {i["key"]: i for i in r.json()["items"]}
    assert set(by_rule) == {"line_loss", "zero_consumption", "stopped"}
    assert (by_rule["zero_consumption"]["total"], by_rule["zero_consumption"]["open"]) == (1, 1)
    days = by_rule["stopped"]["days"]
    assert len(days) == 6 and [d["new"] for d in days] == [0, 0, 1, 0, 0, 0]
    areas = client.get("/api/anomalies/stats", params={**p, "by": "area"}, headers=h).json()
    assert {i["key"]: i["total"] for i in areas["items"]} == {"A1": 3}
    bad = client.get(
        "/api/anomalies/stats",
        params={"start": D.isoformat(), "end": (D - timedelta(days=1)).isoformat()},
        headers=h,
    )
    assert bad.status_code == 422
    assert client.get("/api/anomalies/stats", params={"by": "x"}, headers=h).status_code == 422
