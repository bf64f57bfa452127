"""Concentrators (issue 19): the list with the online rate, last communication, outbox and
failing meters from the status the edge publishes (its wire encoding, as stored), the
day's collection; one concentrator's buses beside the archive, failing meters, time sync,
clock offsets, commands and events; /api/gateway-status now carries outbox_depth."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from protocols.wire.status import BusHealth, GatewayStatus, MeterHealth, encode_status

from .helpers import auth_headers
from .workbench_data import D, build

NOW = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)


def db(client: TestClient) -> str:
    return str(client.app.state.database_url)  # type: ignore[attr-defined]


def setup(client: TestClient) -> dict[str, str]:
    build(db(client))
    status = GatewayStatus(
        gateway="g1",
        online=True,
        ts=NOW,
        version="1.2.3",
        buses=(BusHealth("rs485-1", True, 120, 3, 1, 3, 2, "timeout"),),
        meters=(
            MeterHealth("M1", "ok", NOW),
            MeterHealth("M4", "dead", None, "timeout", 12),
            MeterHealth("M5", "failing", NOW, "checksum", 2),
        ),
        outbox_depth=42,
        outbox_oldest_age_s=90.5,
        outbox_dropped=1,
    )
    with psycopg.connect(db(client)) as conn:
        conn.execute(
            "UPDATE gateways SET status = %s, status_at = %s, last_seen = %s, version = '1.2.3' "
            "WHERE id = 'g1'",
            (Jsonb(json.loads(encode_status(status))), NOW, NOW),
        )
        conn.execute("UPDATE gateways SET online = false WHERE id = 'g3'")
        conn.execute(
            "INSERT INTO gateway_commands (id, gateway_id, name, status, requested_by, result) "
            "VALUES ('ts1', 'g1', 'time_sync', 'ok', 'ops', %s)",
            (Jsonb({"buses": {"rs485-1": {"max_offset_s": 75.0, "time_set": True}}}),),
        )
        conn.execute(
            "INSERT INTO meter_events (meter_id, ts, quantity, value) VALUES "
            "('M2', %s, 'clock_offset', -75), ('M3', %s, 'clock_offset', 3)",
            (NOW, NOW),
        )
    return auth_headers(client, "viewer", db(client))


def test_the_list_with_online_rate_outbox_and_collection(client: TestClient) -> None:
    h = setup(client)
    r = client.get("/api/concentrators", params={"date": D.isoformat()}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["count"], body["online"], body["total"]) == (3, 2, 3)
    assert body["online_rate"] == round(2 / 3, 6)
    g1 = body["items"][0]
    assert (g1["id"], g1["outbox_depth"], g1["outbox_oldest_age_s"], g1["outbox_dropped"]) == (
        "g1",
        42,
        90.5,
        1,
    )
    assert (g1["failing_meters"], g1["meters"], g1["due"], g1["read"], g1["rate"]) == (
        2,
        5,
        5,
        3,
        0.6,
    )
    assert g1["last_seen"].startswith("2026-11-21T02:00") and g1["area_name"] == "一号台区"
    g2 = body["items"][1]
    assert g2["outbox_depth"] is None and g2["failing_meters"] == 0
    off = client.get("/api/concentrators", params={"online": "false"}, headers=h).json()
    assert [g["id"] for g in off["items"]] == ["g3"] and off["online_rate"] == 0.0
    st1 = client.get("/api/concentrators", params={"org_id": "ST1"}, headers=h).json()
    assert [g["id"] for g in st1["items"]] == ["g1"]
    assert client.get("/api/concentrators", params={"org_id": "x"}, headers=h).status_code == 404
    assert client.get("/api/concentrators", params={"area_id": "x"}, headers=h).status_code == 404
    # the gateways page's outbox column: the field it reads is sent now
    status = client.get("/api/gateway-status", headers=h).json()["items"]
    assert {g["id"]: g["outbox_depth"] for g in status} == {"g1": 42, "g2": None, "g3": None}


def test_one_concentrator_in_detail(client: TestClient) -> None:
    h = setup(client)
    r = client.get("/api/concentrators/g1", params={"date": D.isoformat()}, headers=h)
    assert r.status_code == 200, r.text
    g = r.json()
    assert (g["online"], g["version"], g["outbox_depth"], g["read"], g["due"]) == (
        True,
        "1.2.3",
        42,
        3,
        5,
    )
    assert g["buses"] == [
        {
            "name": "rs485-1",
            "ok": True,
            "transactions": 120,
            "timeouts": 3,
            "checksum_errors": 1,
            "meters_ok": 3,
            "meters_failing": 2,
            "last_error": "timeout",
            "archive_meters": 5,
        }
    ]
    assert [(m["meter"], m["state"], m["consecutive_failures"]) for m in g["failing_meters"]] == [
        ("M4", "dead", 12),
        ("M5", "failing", 2),
    ]
    assert g["time_sync"]["command_id"] == "ts1" and g["time_sync"]["status"] == "ok"
    assert [(c["meter_id"], c["offset_s"]) for c in g["clock_offsets"]] == [
        ("M2", -75.0),
        ("M3", 3.0),
    ]
    assert [c["id"] for c in g["commands"]] == ["ts1"]
    assert {e["meter_id"] for e in g["events"]} == {"M2", "M3"}
    bare = client.get("/api/concentrators/g2", headers=h).json()
    assert bare["buses"] == [
        {"name": "rs485-1", "ok": None, "reported": False, "archive_meters": 2}
    ]
    assert bare["failing_meters"] == [] and bare["time_sync"] is None
    assert client.get("/api/concentrators/nope", headers=h).status_code == 404
