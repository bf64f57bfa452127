"""Line loss (issue 19): every area's loss of a day with its status against the thresholds,
the meters that block a loss, the trend per day, and the customers of a high-loss area
ranked as theft suspects (zero consumption, consumption dropped while the loss rose, a
register that went backwards, a stopped register)."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
from fastapi.testclient import TestClient

from .helpers import auth_headers
from .workbench_data import D, build, put_freezes

END = D + timedelta(days=14)


def db(client: TestClient) -> str:
    return str(client.app.state.database_url)  # type: ignore[attr-defined]


def setup(client: TestClient) -> dict[str, str]:
    """A1 over D..D+14: the master +40 kWh a day; M2 10 a day then nothing (零度户),
    M3 10 a day, M4 10 then 3 a day, M5 10 a day with its register going back 5 on D+10;
    the loss goes from 0 to about 0.4 in the second week."""
    build(db(client))
    regs: dict[tuple[str, date], float] = {}
    for i in range(15):
        day = D + timedelta(days=i)
        regs[("M1", day)] = 1000 + 40 * i
        regs[("M2", day)] = 100 + 10 * min(i, 7)
        regs[("M3", day)] = 200 + 10 * i
        regs[("M4", day)] = 300 + 10 * min(i, 7) + 3 * max(0, i - 7)
        regs[("M5", day)] = 485 if i == 10 else 400 + 10 * i
    with psycopg.connect(db(client)) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM daily_freeze WHERE meter_id LIKE 'M%%'")
        put_freezes(cur, regs)
    return auth_headers(client, "operator", db(client))


def test_every_area_with_its_status(client: TestClient) -> None:
    h = setup(client)
    r = client.get("/api/line-loss/areas", params={"date": END.isoformat()}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["high_threshold"], body["negative_threshold"]) == (0.1, 0.0)
    rows = {a["area_id"]: a for a in body["items"]}
    a1 = rows["A1"]
    # the day: master +40; M2 0, M3 +10, M4 +3, M5 +10
    assert (a1["supply"], a1["sales"], a1["loss"], a1["loss_rate"]) == (40.0, 23.0, 17.0, 0.425)
    assert (a1["status"], a1["name"], a1["due"], a1["read"]) == ("high", "一号台区", 5, 5)
    assert rows["A2"]["status"] == "not_computable" and rows["A2"]["blocking"] == 2
    assert body["by_status"]["high"] == 1
    high = client.get(
        "/api/line-loss/areas", params={"date": END.isoformat(), "status": "high"}, headers=h
    ).json()
    assert [a["area_id"] for a in high["items"]] == ["A1"] and high["total"] == 1
    st2 = client.get(
        "/api/line-loss/areas", params={"date": END.isoformat(), "org_id": "ST2"}, headers=h
    ).json()
    assert [a["area_id"] for a in st2["items"]] == ["A2"]
    # a looser limit set by an admin makes the same loss normal
    with psycopg.connect(db(client)) as conn:
        conn.execute(
            "INSERT INTO rule_params (rule, params) VALUES ('line_loss', '{\"max_ratio\": 0.5}')"
        )
    again = client.get("/api/line-loss/areas", params={"date": END.isoformat()}, headers=h)
    assert {a["area_id"]: a["status"] for a in again.json()["items"]}["A1"] == "normal"
    assert again.json()["high_threshold"] == 0.5
    assert client.get("/api/line-loss/areas", params={"status": "x"}, headers=h).status_code == 422


def test_an_area_that_cannot_be_computed_names_its_meters(client: TestClient) -> None:
    h = setup(client)
    with psycopg.connect(db(client)) as conn:
        conn.execute("DELETE FROM daily_freeze WHERE meter_id = 'M4' AND data_date = %s", (END,))
    r = client.get("/api/line-loss/areas/A1", params={"date": END.isoformat()}, headers=h)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["status"] == "not_computable" and a["loss_rate"] is None
    assert [(m["meter_id"], m["why"]) for m in a["blocking_meters"]] == [
        ("M4", "no freeze on the day")
    ]
    before = client.get(
        "/api/line-loss/areas/A1",
        params={"date": (END - timedelta(days=1)).isoformat()},
        headers=h,
    ).json()
    assert before["status"] == "high" and before["blocking_meters"] == []
    n2 = client.get("/api/line-loss/areas/A2", params={"date": END.isoformat()}, headers=h)
    assert {m["why"] for m in n2.json()["blocking_meters"]} == {
        "no freeze on the day or the day before"
    }
    assert client.get("/api/line-loss/areas/nope", headers=h).status_code == 404


def test_the_trend_per_day(client: TestClient) -> None:
    h = setup(client)
    r = client.get(
        "/api/line-loss/areas/A1/trend", params={"end": END.isoformat(), "days": 14}, headers=h
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 14 and items[0]["date"] == (D + timedelta(days=1)).isoformat()
    assert [i["status"] for i in items[:7]] == ["normal"] * 7
    assert [i["loss_rate"] for i in items[:7]] == [0.0] * 7
    assert items[-1]["loss_rate"] == 0.425 and items[-1]["status"] == "high"
    reversed_day = items[9]  # D+10: M5 -5
    assert reversed_day["sales"] == 8.0 and reversed_day["loss_rate"] == 0.8
    assert (
        client.get("/api/line-loss/areas/A1/trend", params={"days": 0}, headers=h).status_code
        == 422
    )


def test_suspects_are_ranked(client: TestClient) -> None:
    h = setup(client)
    with psycopg.connect(db(client)) as conn:
        conn.execute(
            "INSERT INTO anomalies (rule, meter_id, area_id, first_date, last_date) "
            "VALUES ('stopped', 'M3', 'A1', %s, %s)",
            (END - timedelta(days=2), END),
        )
    r = client.get(
        "/api/line-loss/areas/A1/suspects",
        params={"date": END.isoformat(), "days": 14},
        headers=h,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["area_loss_rose"] is True and body["baseline_loss_rate"] == 0.0
    ranked = [(s["meter_id"], s["signals"], s["score"]) for s in body["items"]]
    assert ranked == [
        ("M2", ["zero_consumption"], 1.25),
        ("M5", ["register_reversed"], 1.0),
        ("M3", ["register_stopped"], 0.8),
        ("M4", ["consumption_dropped"], 0.75),
    ]
    m4 = body["items"][3]
    assert (m4["baseline_kwh_per_day"], m4["recent_kwh_per_day"], m4["change"]) == (10.0, 3.0, -0.7)
    assert body["items"][0]["customer_name"] == "张三"
    viewer = auth_headers(client, "viewer", db(client))
    hidden = client.get(
        "/api/line-loss/areas/A1/suspects", params={"date": END.isoformat()}, headers=viewer
    ).json()
    assert all(s["customer_name"] is None for s in hidden["items"])
    assert (
        client.get("/api/line-loss/areas/A1/suspects", params={"days": 2}, headers=h).status_code
        == 422
    )
