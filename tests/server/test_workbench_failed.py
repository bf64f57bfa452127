"""Failed meters as a clerk works them (issue 19): any date, filters, paging with a total,
reason categories, consecutive unread days; re-read batches kept with each item's outcome
(read back after a reload); the on-demand read with its values; roles, audit and clear 4xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from protocols.wire.status import GatewayStatus, MeterHealth
from server.db.partitions import ensure_partitions
from server.gateways.status import record_status

from .helpers import auth_headers
from .workbench_data import D, build, put_freezes


def db(client: TestClient) -> str:
    return str(client.app.state.database_url)  # type: ignore[attr-defined]


def setup(client: TestClient) -> None:
    build(db(client))
    with psycopg.connect(db(client)) as conn:
        conn.execute("UPDATE meters SET protocol = 'dlt645-2007' WHERE id = 'N2'")
        # what the concentrators report during D's collection day (D+1, local time), as
        # ingestion records it: g1 says M5 is failing, g2 goes off line
        during = datetime(D.year, D.month, D.day, 2, 0, tzinfo=UTC) + timedelta(days=1)
        record_status(
            conn,
            GatewayStatus(
                "g1", True, during, meters=(MeterHealth("M5", "failing", None, "timeout", 3),)
            ),
        )
        record_status(conn, GatewayStatus("g2", False, during, reason="last will"))
        conn.execute(
            "INSERT INTO gateways (id, name, area_id, online) VALUES ('g4', '', 'A2', true)"
        )
        conn.execute(
            "INSERT INTO meters (id, address, gateway_id, area_id, protocol, installed_on) "
            "VALUES ('Q1', '000000000401', 'g4', 'A2', 'dlt645-2007', %s)",
            (D - timedelta(days=2),),
        )


def failed(client: TestClient, h: dict[str, str], **params: Any) -> dict[str, Any]:
    r = client.get("/api/workbench/failed", params={"date": D.isoformat(), **params}, headers=h)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_the_failed_list_sorts_meters_into_what_a_clerk_does(client: TestClient) -> None:
    setup(client)
    h = auth_headers(client, "operator", db(client))
    body = failed(client, h)
    rows = {r["meter_id"]: r for r in body["items"]}
    assert body["total"] == 4 and set(rows) == {"M4", "M5", "N2", "Q1"}
    assert {m: r["reason"] for m, r in rows.items()} == {
        "M4": "not_rereadable",  # DL/T 645-1997: no freeze history
        "M5": "meter_not_answering",
        "N2": "concentrator_offline",
        "Q1": "archive_problem",  # never read since installed
    }
    # the reason's words in the clerk's language (zh without lang or Accept-Language)
    assert rows["M5"]["reason_text"].startswith("电表不应答")
    assert rows["M4"]["reason_text"].endswith("无法补抄")
    en = {r["meter_id"]: r for r in failed(client, h, lang="en")["items"]}
    assert en["M5"]["reason_text"].startswith("meter not answering")
    assert en["M4"]["reason_text"].endswith("the day cannot be re-read")
    by_header = client.get(
        "/api/workbench/failed",
        params={"date": D.isoformat()},
        headers={**h, "Accept-Language": "en"},
    ).json()
    assert {r["meter_id"]: r["reason_text"] for r in by_header["items"]} == {
        m: r["reason_text"] for m, r in en.items()
    }
    assert rows["M4"]["rereadable"] is False and rows["M5"]["rereadable"] is True
    assert (rows["M5"]["consecutive_days"], rows["Q1"]["consecutive_days"]) == (1, 3)
    assert rows["M5"]["customer_name"] == "赵六" and rows["M5"]["address"] == "000000000105"
    assert body["by_reason"] == {
        "concentrator_offline": 1,
        "meter_not_answering": 1,
        "wrong_answers": 0,
        "not_rereadable": 1,
        "archive_problem": 1,
        "other": 0,
    }
    assert [r["meter_id"] for r in failed(client, h, reason="archive_problem")["items"]] == ["Q1"]
    assert {r["meter_id"] for r in failed(client, h, area_id="A2")["items"]} == {"N2", "Q1"}
    assert [r["meter_id"] for r in failed(client, h, gateway_id="g1")["items"]] == ["M4", "M5"]
    assert [r["meter_id"] for r in failed(client, h, protocol="dlt645-1997")["items"]] == ["M4"]
    assert {r["meter_id"] for r in failed(client, h, org_id="CO")["items"]} == {
        "M4",
        "M5",
        "N2",
        "Q1",
    }
    assert failed(client, h, org_id="ST1")["total"] == 2
    page = failed(client, h, limit=3, offset=3)
    assert (page["total"], len(page["items"]), page["limit"], page["offset"]) == (4, 1, 3, 3)
    # another day: all but the new meter were read the day before
    before = failed(client, h, date=(D - timedelta(days=1)).isoformat())
    assert [(r["meter_id"], r["consecutive_days"]) for r in before["items"]] == [("Q1", 2)]
    viewer = auth_headers(client, "viewer", db(client))
    assert all(r["customer_name"] is None for r in failed(client, viewer)["items"])
    for bad in ({"reason": "bored"}, {"date": "2026-02-30"}, {"protocol": "x"}, {"limit": 5000}):
        r = client.get("/api/workbench/failed", params=bad, headers=h)
        assert r.status_code == 422, bad
    for unknown in ({"area_id": "nope"}, {"gateway_id": "nope"}, {"org_id": "nope"}):
        assert client.get("/api/workbench/failed", params=unknown, headers=h).status_code == 404


def test_a_reread_batch_keeps_each_items_outcome(client: TestClient) -> None:
    setup(client)
    op = auth_headers(client, "operator", db(client))
    items = [
        {"meter_id": "M5", "date": D.isoformat()},
        {"meter_id": "M4", "date": D.isoformat()},
        {"meter_id": "N2", "date": D.isoformat()},
        {"meter_id": "N2", "date": D.isoformat()},  # a repeat: asked once
    ]
    r = client.post("/api/reread/batches", json={"items": items}, headers=op)
    assert r.status_code == 202, r.text
    batch = r.json()
    assert batch["requested"] == {"g1": 1, "g2": 1} and batch["not_rereadable"] == 1
    assert batch["items"] == 3 and batch["requested_by"] == "test-operator"
    with psycopg.connect(db(client)) as conn:
        cmd = conn.execute(
            "SELECT id, args FROM gateway_commands WHERE gateway_id = 'g1' AND name = 'backfill'"
        ).fetchone()
        assert cmd is not None and cmd[1]["items"] == [{"meter": "M5", "date": D.isoformat()}]
        # the gateway answers: M5 timed out; N2's freeze arrives
        conn.execute(
            "UPDATE gateway_commands SET status = 'error', finished_at = now(), result = %s "
            "WHERE id = %s",
            (
                Jsonb(
                    {
                        "read": 0,
                        "failed": [{"meter": "M5", "date": D.isoformat(), "reason": "timeout"}],
                    }
                ),
                cmd[0],
            ),
        )
        with conn.cursor() as cur:
            put_freezes(cur, {("N2", D): 200.0})
        audited = conn.execute(
            "SELECT actor, after FROM audit_log WHERE action = 'reread.batch' AND entity_id = %s",
            (str(batch["id"]),),
        ).fetchone()
        assert audited is not None and audited[0] == "test-operator"
    # read back (as after a reload): every outcome is there
    viewer = auth_headers(client, "viewer", db(client))
    got = client.get(f"/api/reread/batches/{batch['id']}", headers=viewer).json()
    outcome = {i["meter_id"]: (i["outcome"], i["reason"]) for i in got["items"]}
    assert outcome == {
        "M4": ("not_rereadable", "the meter keeps no freeze history"),
        "M5": ("failed", "timeout"),
        "N2": ("read", None),
    }
    # the reasons as codes and words in the request's language (the page shows these;
    # Chinese without a language asked)
    en = client.get(f"/api/reread/batches/{batch['id']}?lang=en", headers=viewer).json()
    words = {i["meter_id"]: (i["reason_code"], i["reason_text"]) for i in en["items"]}
    assert words == {
        "M4": ("no_freeze_history", "the meter keeps no freeze history"),
        "M5": ("timeout", "meter not answering (timeout)"),
        "N2": (None, None),
    }
    assert {i["meter_id"]: i["reason_text"] for i in got["items"]} == {
        "M4": "电表无冻结历史，无法补抄",
        "M5": "电表不应答（超时）",
        "N2": None,
    }
    assert got["outcome"] == {
        "read": 1,
        "pending": 0,
        "sent": 0,
        "failed": 1,
        "expired": 0,
        "not_rereadable": 1,
    }
    assert got["total"] == 3 and got["batch"]["id"] == batch["id"]
    only = client.get(
        f"/api/reread/batches/{batch['id']}", params={"outcome": "failed"}, headers=viewer
    ).json()
    assert [i["meter_id"] for i in only["items"]] == ["M5"] and only["total"] == 1
    listed = client.get("/api/reread/batches", headers=viewer).json()
    assert listed["total"] == 1 and listed["items"][0]["outcome"]["read"] == 1
    # the failed list shows the request beside the meter
    row = {r["meter_id"]: r for r in failed(client, op)["items"]}["M5"]
    assert row["reread"]["batch_id"] == batch["id"] and row["reread"]["command_status"] == "error"


def test_reread_batches_refuse_what_cannot_be_asked(client: TestClient) -> None:
    setup(client)
    op = auth_headers(client, "operator", db(client))
    viewer = auth_headers(client, "viewer", db(client))
    one = [{"meter_id": "M5", "date": D.isoformat()}]
    assert (
        client.post("/api/reread/batches", json={"items": one}, headers=viewer).status_code == 403
    )
    # today in the utility's zone (the server's): the machine's date differs from it for
    # eight hours of every day (Shanghai is UTC+8)
    utility_today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    cases = [
        ({"items": []}, "items"),
        ({"items": [{"meter_id": "M5", "date": "2026-11-31"}]}, "date"),
        ({"items": [{"meter_id": "nope", "date": D.isoformat()}]}, "items[0].meter_id"),
        ({"items": [{"meter_id": "M5", "date": utility_today.isoformat()}]}, "history"),
        ({"items": [{"meter_id": "M5", "date": "2020-01-01"}]}, "history"),
        ({"items": [{"meter": "M5", "date": D.isoformat()}]}, "meter"),
        ({"items": [{"meter_id": "M5", "date": D.isoformat()}] * 10_001}, "10000"),
    ]
    for payload, word in cases:
        r = client.post("/api/reread/batches", json=payload, headers=op)
        assert r.status_code == 422, (payload, r.text)
        assert word in r.json()["detail"], r.json()
    assert client.get("/api/reread/batches/999", headers=op).status_code == 404
    assert client.get("/api/reread/batches/x", headers=op).status_code == 422


def test_on_demand_read_shows_the_values_as_they_arrive(client: TestClient) -> None:
    setup(client)
    op = auth_headers(client, "operator", db(client))
    r = client.post("/api/meters/M2/read-now", json={}, headers=op)
    assert r.status_code == 202, r.text
    cmd = r.json()
    assert (cmd["gateway_id"], cmd["status"]) == ("g1", "pending")
    url = f"/api/meters/M2/read-now/{cmd['command_id']}"
    got = client.get(url, headers=op).json()
    assert (got["status"], got["final"], got["values"], got["readings"]) == (
        "pending",
        False,
        {},
        [],
    )
    now = datetime.now(UTC)
    with psycopg.connect(db(client)) as conn:
        ensure_partitions(conn, {now.astimezone(ZoneInfo("Asia/Shanghai")).date()}, "Asia/Shanghai")
        conn.execute(
            "INSERT INTO readings (meter_id, quantity, ts, value, kind, source) "
            "VALUES ('M2', 'energy_import_total', %s, 123.4, 'instant', 'on_demand')",
            (now,),
        )
        conn.execute(
            "UPDATE gateway_commands SET status = 'ok', finished_at = now(), result = %s "
            "WHERE id = %s",
            (Jsonb({"readings": 1, "values": {"energy_import_total": 123.4}}), cmd["command_id"]),
        )
        queued = conn.execute(
            "SELECT actor FROM audit_log WHERE action = 'command.queued' AND entity_id = %s",
            (cmd["command_id"],),
        ).fetchone()
        assert queued == ("test-operator",)
    got = client.get(url, headers=auth_headers(client, "viewer", db(client))).json()
    assert got["status"] == "ok" and got["final"] is True
    assert got["values"] == {"energy_import_total": 123.4}
    assert [(x["quantity"], x["value"]) for x in got["readings"]] == [
        ("energy_import_total", 123.4)
    ]
    # the command of another meter, unknown meters, roles
    assert client.get(f"/api/meters/M3/read-now/{cmd['command_id']}", headers=op).status_code == 404
    assert client.post("/api/meters/nope/read-now", headers=op).status_code == 404
    viewer = auth_headers(client, "viewer", db(client))
    assert client.post("/api/meters/M2/read-now", headers=viewer).status_code == 403
    r = client.post("/api/meters/M2/read-now", json={"quantities": []}, headers=op)
    assert r.status_code == 422
