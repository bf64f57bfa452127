"""DL/T 698.45 meters on the server (issue 21): the archive takes the protocol (API, CSV
import, the database's own check), completeness counts them per protocol, and a missed day
is re-readable: the re-read job asks their gateway, the failed list never calls the day
lost. Against the real PostgreSQL of the test environment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from protocols import wire
from protocols.vocabulary import REREADABLE_PROTOCOLS, MeterProtocol
from server.checks import completeness, reread
from server.gateways.commands import record_result, take_pending
from server.ingest.store import Batch, store

from .helpers import add_meters, auth_headers

D = date(2026, 11, 10)
TZ = "Asia/Shanghai"


def freeze_row(meter: str, day: date, value: float, flags: tuple[str, ...] = ()) -> tuple[Any, ...]:
    ts = datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)  # local midnight after
    return (meter, "energy_import_total", ts, value, "freeze", "scheduled", flags)


def test_the_rereadable_protocols_are_one_table() -> None:
    assert REREADABLE_PROTOCOLS == {MeterProtocol.DLT645_2007, MeterProtocol.DLT698}


def test_a_missed_698_day_is_counted_and_asked_again(migrated: str) -> None:
    add_meters(
        migrated,
        [
            {"id": "O1", "address": "000000006981", "protocol": "dlt698"},
            {"id": "O2", "address": "000000006982", "protocol": "dlt698"},
            {"id": "P1", "address": "000000000101", "protocol": "modbus"},
        ],
        gateway="gw-698",
        area="A698",
    )
    with psycopg.connect(migrated) as conn:
        b = Batch()
        # O1 holds an ESAM: its freeze came as SECURITY plaintext + MAC, not verified
        b.add_rows("gw-698", "seed", [freeze_row("O1", D, 1234.5, ("unverified",))])
        assert store(conn, b, tz=TZ).quarantined == 0
        assert conn.execute(
            "SELECT quality FROM daily_freeze WHERE meter_id = 'O1' AND data_date = %s", (D,)
        ).fetchone() == (["unverified"],)  # the archive keeps the flag
        whole = completeness.report(conn, D)
        by_protocol = {r["key"]: (r["read"], r["due"]) for r in whole["protocol"]}
        assert by_protocol["dlt698"] == (1, 2)
        failed = {r["meter_id"]: r for r in completeness.failed_meters(conn, D)}
        assert failed["O2"]["reason"] == "never_read"  # it keeps a freeze history
        assert failed["O2"]["rereadable"] is True
        assert "cannot be re-read" not in failed["O2"]["reason_text"]
        assert failed["P1"]["reason"] == "not_rereadable"
        assert "cannot be re-read" in failed["P1"]["reason_text"]
        missing = reread.missing_meter_days(conn, D, D)
        assert missing == [("O2", "gw-698", D)]  # the Modbus meter is never asked
        asked = reread.auto_reread(conn, D + timedelta(days=1), per_gateway=100, days=1)
        assert asked == {"gw-698": 1}
        (args,) = conn.execute(
            "SELECT args FROM gateway_commands WHERE gateway_id = 'gw-698' AND name = 'backfill'"
        ).fetchone() or (None,)
        assert args["items"] == [{"meter": "O2", "date": D.isoformat()}]


def test_the_archive_takes_dlt698_by_api_and_import(client: TestClient) -> None:
    admin = auth_headers(client, "admin", str(client.app.state.database_url))  # type: ignore[attr-defined]
    body = {"address": "000000006981", "protocol": "dlt698", "installed_on": "2025-01-01"}
    r = client.put("/api/meters/O1", json=body, headers=admin)
    assert r.status_code == 200, r.text
    assert client.get("/api/meters/O1", headers=admin).json()["protocol"] == "dlt698"
    bad = client.put("/api/meters/O9", json={**body, "protocol": "698"}, headers=admin)
    assert bad.status_code == 422  # the API takes the canonical value only
    csv = (
        "电表资产号,表地址,规约,安装日期\n"
        "O2,000000006982,698.45,2025-01-01\n"
        "O3,000000006983,DL/T 698.45,2025-01-01\n"
        "O4,000000006984,dlt699,2025-01-01\n"
    )
    r = client.post(
        "/api/archive/import", headers=admin, files={"file": ("m.csv", csv.encode(), "text/csv")}
    )
    assert r.status_code == 422
    errors = r.json()["detail"]["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(4, "protocol")]
    assert "698.45" in errors[0]["reason"]
    r = client.post(
        "/api/archive/import",
        headers=admin,
        files={"file": ("m.csv", csv.rsplit("O4", 1)[0].encode(), "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/meters/O3", headers=admin).json()["protocol"] == "dlt698"


def test_the_database_itself_accepts_dlt698_and_nothing_else(migrated: str) -> None:
    add_meters(migrated, [{"id": "O1", "address": "000000006981", "protocol": "dlt698"}])
    with pytest.raises(psycopg.errors.CheckViolation):
        add_meters(migrated, [{"id": "X1", "address": "000000000001", "protocol": "dlt699"}])


def curve_rows(meter: str, day: date, slots: range) -> list[tuple[Any, ...]]:
    """The forward-energy points ``slots`` (0..95) of ``meter``'s local day ``day``."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(TZ))
    return [
        (
            meter,
            "energy_import_total",
            (midnight + timedelta(minutes=15 * k)).astimezone(UTC),
            100.0 + k * 0.25,
            "interval",
            "scheduled",
            (),
        )
        for k in slots
    ]


def test_a_698_meters_missing_curve_points_are_shown_and_asked_again(
    client: TestClient,
) -> None:
    """曲线补抄 on the server: the curve-completeness report names the DL/T 698.45 meters whose
    day lacks points while the day is within their curve history; staff ask for the day
    with POST /api/reread (kind curve), which queues a backfill_curve command (asked once,
    the points stored when asked kept); a 645 meter, a day outside the history or an
    unknown kind is refused naming the item; an edge that predates the command is recorded
    as such."""
    url = str(client.app.state.database_url)  # type: ignore[attr-defined]
    add_meters(
        url,
        [
            {"id": "O1", "address": "000000006981", "protocol": "dlt698"},
            {"id": "O2", "address": "000000006982", "protocol": "dlt698"},
            {"id": "C1", "address": "000000000001", "protocol": "dlt645-2007"},
        ],
        gateway="gw-c",
        area="AC",
    )
    today = datetime.now(ZoneInfo(TZ)).date()
    day = today - timedelta(days=2)
    with psycopg.connect(url) as conn:
        gaps = [k for k in range(96) if k not in (10, 11, 12, 50, 51, 95)]  # 90 points
        b = Batch()
        b.add_rows("gw-c", "seed-o1", [curve_rows("O1", day, range(96))[k] for k in gaps])
        b.add_rows("gw-c", "seed-o2", curve_rows("O2", day, range(96)))
        b.add_rows("gw-c", "seed-c1", curve_rows("C1", day, range(50)))
        store(conn, b, tz=TZ)
        conn.commit()
    viewer = auth_headers(client, "viewer", url)
    op = auth_headers(client, "operator", url)
    got = client.get(f"/api/curve-completeness?date={day}&by=protocol", headers=viewer)
    assert got.status_code == 200, got.text
    body = got.json()
    groups = {g["key"]: g for g in body["groups"]}
    assert (groups["dlt698"]["points"], groups["dlt698"]["complete"]) == (186, 1)
    assert groups["dlt698"]["curve_rereadable"] == 1  # O1; O2 is whole
    assert groups["dlt645-2007"]["curve_rereadable"] == 0  # C1 lacks points, keeps no curve
    info = body["curve_reread"]
    assert info["protocols"] == ["dlt698"] and info["history_days"] == 10
    assert info["within_history"] is True and info["total"] == 1
    assert [(m["meter_id"], m["points"], m["reread_status"]) for m in info["meters"]] == [
        ("O1", 90, None)
    ]
    csv = client.get(f"/api/curve-completeness?date={day}&format=csv&lang=en", headers=viewer)
    assert csv.status_code == 200 and "Curves re-readable" in csv.text.splitlines()[0]

    items = [
        {"meter": "O1", "date": day.isoformat(), "kind": "curve"},
        {"meter": "O1", "date": day.isoformat()},  # its daily freeze: a backfill, apart
        {"meter": "O1", "date": day.isoformat(), "kind": "curve"},  # a repeat: asked once
    ]
    r = client.post("/api/reread", json={"items": items}, headers=op)
    assert r.status_code == 202, r.text
    assert r.json()["curves_requested"] == {"gw-c": 1} and r.json()["requested"] == {"gw-c": 1}
    with psycopg.connect(url) as conn:
        cmds = conn.execute(
            "SELECT id, name, args FROM gateway_commands WHERE gateway_id = 'gw-c' ORDER BY name"
        ).fetchall()
        assert [(n, a) for _, n, a in cmds] == [
            ("backfill", {"items": [{"meter": "O1", "date": day.isoformat()}]}),
            ("backfill_curve", {"items": [{"meter": "O1", "date": day.isoformat()}]}),
        ]
        curve_cmd = cmds[1][0]
        assert conn.execute(
            "SELECT command_id, points_when_asked FROM curve_reread_requests "
            "WHERE meter_id = 'O1' AND data_date = %s",
            (day,),
        ).fetchone() == (curve_cmd, 90)
        # what goes on the wire decodes on the edge's side as the curve command
        (sent,) = [c for c in take_pending(conn) if c.id == curve_cmd]
        assert wire.decode_command(sent.payload).name is wire.CommandName.BACKFILL_CURVE
        conn.commit()
    again = client.post("/api/reread", json={"items": items[:1]}, headers=op)
    assert again.json()["curves_already_pending"] == {"gw-c": 1}
    assert again.json()["curves_requested"] == {}
    shown = client.get(f"/api/curve-completeness?date={day}", headers=viewer).json()
    assert shown["curve_reread"]["meters"][0]["reread_status"] == "sent"

    for item, status, named in [
        ({"meter": "C1", "date": day.isoformat(), "kind": "curve"}, 422, "items[0].meter"),
        ({"meter": "O1", "date": str(today - timedelta(days=11)), "kind": "curve"}, 422, "10-day"),
        ({"meter": "O1", "date": today.isoformat(), "kind": "curve"}, 422, "items[0].date"),
        ({"meter": "O1", "date": day.isoformat(), "kind": "month"}, 422, "items[0].kind"),
        ({"meter": "O1", "date": day.isoformat(), "what": "x"}, 422, "unknown key 'what'"),
    ]:
        r = client.post("/api/reread", json={"items": [item]}, headers=op)
        assert r.status_code == status and named in r.json()["detail"], (item, r.text)
    assert (
        "keeps no 15-minute curve"
        in client.post(
            "/api/reread",
            json={"items": [{"meter": "C1", "date": str(day), "kind": "curve"}]},
            headers=op,
        ).json()["detail"]
    )
    old = client.get(
        f"/api/curve-completeness?date={today - timedelta(days=20)}", headers=viewer
    ).json()["curve_reread"]
    assert old["within_history"] is False and old["meters"] == [] and old["total"] == 0

    # an edge older than curve re-reads answers that it does not know the command
    refusal = (
        "malformed command: command: 'backfill_curve' is not one of read_now, backfill, "
        "time_sync, rediscover, reload_config"
    )
    res = wire.CommandResult(curve_cmd, "backfill_curve", False, datetime.now(UTC), refusal)
    with psycopg.connect(url) as conn:
        assert record_result(conn, "gw-c", res)
        status, error = conn.execute(
            "SELECT status, error FROM gateway_commands WHERE id = %s", (curve_cmd,)
        ).fetchone() or (None, None)
        conn.commit()
    assert status == "error"
    assert error.startswith("the gateway's edge agent predates curve re-reads")
    assert refusal in error
