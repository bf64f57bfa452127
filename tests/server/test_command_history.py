"""The command history (命令记录, GET /api/commands): every concentrator's commands with
filters by concentrator, meter (a read_now's meter or one of a re-read's items), command,
status and local days; paged with a total; exported with headers in the language; 422 for
an unknown parameter, an invalid enum or a reversed period; every signed-in role reads it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from .helpers import auth_headers
from .test_workbench_gaps import csv_rows, xlsx_rows
from .workbench_data import build


def db(client: TestClient) -> str:
    return str(client.app.state.database_url)  # type: ignore[attr-defined]


# (id, gateway, name, args, status, requested_by, created_at UTC, result, error)
COMMANDS = [
    (
        "c1",
        "g1",
        "read_now",
        {"meter": "M1"},
        "ok",
        "clerk",
        datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
        {"read": 3},
        None,
    ),
    (
        "c2",
        "g1",
        "backfill",
        {"items": [{"meter": "M1", "date": "2026-11-28"}, {"meter": "M2", "date": "2026-11-28"}]},
        "sent",
        "system:reread",
        datetime(2026, 11, 30, 17, 0, tzinfo=UTC),
        None,
        None,
    ),
    (
        "c3",
        "g2",
        "time_sync",
        {},
        "error",
        "clerk",
        datetime(2026, 12, 1, 3, 0, tzinfo=UTC),
        None,
        "bus rs485-1 busy",
    ),
    (
        "c4",
        "g2",
        "backfill",
        {"items": [{"meter": "M9", "date": "2026-11-29"}]},
        "pending",
        "clerk2",
        datetime(2026, 12, 1, 4, 0, tzinfo=UTC),
        None,
        None,
    ),
]


def setup(client: TestClient) -> dict[str, str]:
    build(db(client))
    with psycopg.connect(db(client)) as conn:
        for cid, gw, name, args, status, who, at, result, error in COMMANDS:
            conn.execute(
                "INSERT INTO gateway_commands (id, gateway_id, name, args, status, requested_by,"
                " created_at, result, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    cid,
                    gw,
                    name,
                    Jsonb(args),
                    status,
                    who,
                    at,
                    Jsonb(result) if result is not None else None,
                    error,
                ),
            )
    return auth_headers(client, "viewer", db(client))


def ids(client: TestClient, h: dict[str, str], **params: Any) -> list[str]:
    r = client.get("/api/commands", params=params, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "total", "limit", "offset"}
    return [i["id"] for i in body["items"]]


def test_the_history_lists_every_command_newest_first_with_who_and_outcome(
    client: TestClient,
) -> None:
    h = setup(client)
    body = client.get("/api/commands", headers=h).json()
    assert body["total"] == 4 and [i["id"] for i in body["items"]] == ["c4", "c3", "c2", "c1"]
    c1 = body["items"][3]
    assert (c1["name"], c1["meter_id"], c1["requested_by"], c1["status"]) == (
        "read_now",
        "M1",
        "clerk",
        "ok",
    )
    assert c1["summary"] == {"read": 3}
    c2 = body["items"][2]
    assert (c2["items"], c2["meter_id"]) == (2, None)
    assert body["items"][1]["error"] == "bus rs485-1 busy"
    # paging with a total
    page = client.get("/api/commands", params={"limit": 2, "offset": 2}, headers=h).json()
    assert page["total"] == 4 and [i["id"] for i in page["items"]] == ["c2", "c1"]


def test_the_filters_each_narrow_the_list(client: TestClient) -> None:
    h = setup(client)
    assert ids(client, h, gateway_id="g2") == ["c4", "c3"]
    # the meter: a read_now naming it and a re-read carrying it among its items
    assert ids(client, h, meter_id="M1") == ["c2", "c1"]
    assert ids(client, h, meter_id="M2") == ["c2"]
    assert ids(client, h, name="backfill") == ["c4", "c2"]
    assert ids(client, h, status="pending") == ["c4"]
    # local days (Asia/Shanghai): c2 at 17:00 UTC on 30 Nov is 1 Dec 01:00 there
    assert ids(client, h, start="2026-12-01") == ["c4", "c3", "c2"]
    assert ids(client, h, end="2026-11-30") == ["c1"]
    assert ids(client, h, start="2026-12-01", end="2026-12-01", gateway_id="g1") == ["c2"]
    assert ids(client, h, meter_id="nobody") == []


def test_bad_input_answers_422_naming_it(client: TestClient) -> None:
    h = setup(client)
    for params, word in (
        ({"status": "done"}, "status"),
        ({"name": "format_disk"}, "name"),
        ({"start": "2026-13-01"}, "start"),
        ({"gatway_id": "g1"}, "gatway_id"),
        ({"start": "2026-12-02", "end": "2026-12-01"}, "start"),
        ({"limit": 0}, "limit"),
    ):
        r = client.get("/api/commands", params=params, headers=h)
        assert r.status_code == 422, (params, r.text)
        assert word in r.text, (params, r.text)


def test_the_history_exports_in_the_language_and_needs_a_sign_in(client: TestClient) -> None:
    h = setup(client)
    rows = csv_rows(client, "/api/commands", h, lang="en", gateway_id="g2")
    assert rows[0][:7] == [
        "Requested at",
        "Command",
        "Concentrator",
        "Meter",
        "Meter-days",
        "Requested by",
        "Status",
    ]
    assert [r[1] for r in rows[1:]] == ["backfill", "time_sync"]
    assert [r[6] for r in rows[1:]] == ["not yet sent", "error"]
    z = xlsx_rows(client, "/api/commands", h, lang="zh", status="sent")
    assert str(z[0][0]).startswith("命令记录")
    assert z[1][:3] == ["发起时间", "命令", "集中器"]
    assert [r[6] for r in z[2:]] == ["进行中"]
    client.cookies.clear()  # the sign-in also set the dashboard's session cookie
    assert client.get("/api/commands").status_code == 401
