"""The MAC an ESAM meter returned (and the RN the edge sent) on the server (issue 21): kept
beside its reading through ingestion, compaction and retention, shown by the API with the
reading's ``unverified`` flag; a malformed one dead-letters its reading alone. Against the
real PostgreSQL and TimescaleDB of the test environment."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import psycopg
from fastapi.testclient import TestClient

from protocols import wire
from protocols.model import Quality, Reading, ReadingKind, Source
from server.db.compact import compact
from server.db.partitions import drop_old
from server.db.pool import open_pool
from server.ingest.consumer import Consumer, MqttConfig
from server.ingest.store import Batch, store

from .helpers import add_meters, auth_headers

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
TODAY = datetime.now(ZONE).date()
DAY = TODAY - timedelta(days=3)  # a data date well inside the retention, not in the future
FREEZE_TS = datetime.combine(DAY + timedelta(days=1), time.min, ZONE).astimezone(UTC)
MAC = bytes.fromhex("1A2B3C4D")
RN = bytes(range(16))
UNVERIFIED = frozenset({Quality.UNVERIFIED})


def freeze(meter: str, quantity: str, value: float, *, mac: bytes | None = MAC) -> Reading:
    return Reading(
        meter,
        quantity,
        FREEZE_TS,
        value,
        "kWh",
        kind=ReadingKind.FREEZE,
        quality=UNVERIFIED if mac else frozenset(),
        mac=mac,
        rn=RN if mac else None,
    )


def message(gw: str, readings: list[Reading], edit: Any = None) -> mqtt.MQTTMessage:
    payload = wire.batch_of(gw, f"{gw}-b", readings, datetime.now(UTC))
    if edit is not None:
        obj = json.loads(payload)
        edit(obj["readings"])
        payload = json.dumps(obj).encode()
    m = mqtt.MQTTMessage(mid=1, topic=wire.topic(gw, wire.Channel.READINGS).encode())
    m.payload = payload
    return m


def ingest(url: str, msgs: list[mqtt.MQTTMessage]) -> dict[str, list[str]]:
    pool = open_pool(url)
    try:
        c = Consumer(MqttConfig("mqtt://127.0.0.1:9"), pool, tz=TZ)
        return c._store(msgs)  # noqa: SLF001 - the handling without transport
    finally:
        pool.close()


def rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def seed(url: str) -> None:
    add_meters(
        url,
        [
            {"id": "E1", "address": "000000006982", "protocol": "dlt698"},  # with an ESAM
            {"id": "P1", "address": "000000006981", "protocol": "dlt698"},  # without
        ],
        gateway="gw-1",
    )
    add_meters(url, [{"id": "E2", "address": "000000006983", "protocol": "dlt698"}], "gw-2")


def test_macs_are_kept_once_and_a_bad_one_sets_only_its_reading_aside(migrated: str) -> None:
    seed(migrated)
    good = [
        freeze("E1", "energy_import_total", 1234.5),
        freeze("E1", "energy_import_t1", 300.25),
        freeze("P1", "energy_import_total", 99.0, mac=None),  # a plain meter: no MAC
    ]
    bad_mac = freeze("E1", "energy_export_total", 7.0)

    def spoil(items: list[dict[str, Any]]) -> None:
        items[3]["mac"] = "1A2B3C4DZZ"  # not hex

    first = message("gw-1", [*good, bad_mac], spoil)
    other = message("gw-2", [freeze("E2", "energy_import_total", 55.5)])
    receipts = ingest(migrated, [first, other])
    assert receipts == {"gw-1": ["gw-1-b"], "gw-2": ["gw-2-b"]}  # both messages taken
    stored = rows(
        migrated,
        "SELECT f.meter_id, f.quantity, f.value, f.quality, m.mac, m.rn FROM daily_freeze f "
        "LEFT JOIN freeze_macs m USING (meter_id, quantity, data_date) ORDER BY 1, 2",
    )
    assert stored == [
        ("E1", "energy_import_t1", 300.25, ["unverified"], MAC, RN),
        ("E1", "energy_import_total", 1234.5, ["unverified"], MAC, RN),
        ("E2", "energy_import_total", 55.5, ["unverified"], MAC, RN),
        ("P1", "energy_import_total", 99.0, [], None, None),
    ]
    dead = rows(migrated, "SELECT gateway_id, reason, payload FROM dead_letters")
    assert len(dead) == 1
    gw, reason, payload = dead[0]
    assert gw == "gw-1"
    assert reason.startswith("readings[3].mac: '1A2B3C4DZZ' is not hex octets")
    kept = json.loads(bytes(payload))
    assert kept["quantity"] == "energy_export_total" and kept["mac"] == "1A2B3C4DZZ"

    # the same message again (a redelivery): nothing doubled, nothing in conflict
    ingest(migrated, [message("gw-1", good)])
    assert rows(migrated, "SELECT count(*) FROM freeze_macs") == [(3,)]
    assert rows(migrated, "SELECT count(*) FROM reading_conflicts") == [(0,)]
    # another value for a stored freeze is a conflict, and its MAC is not attached
    other_mac = freeze("E1", "energy_import_total", 1300.0, mac=b"\x99\x88\x77\x66")
    ingest(migrated, [message("gw-1", [other_mac])])
    assert rows(
        migrated,
        "SELECT mac FROM freeze_macs WHERE meter_id = 'E1' AND quantity = %s",
        "energy_import_total",
    ) == [(MAC,)]
    assert rows(migrated, "SELECT count(*) FROM reading_conflicts") == [(1,)]


def test_malformed_and_oversized_macs_each_get_their_reason(migrated: str) -> None:
    seed(migrated)
    cases = {
        "mac": ("12345", "readings[0].mac: '12345' is not hex octets"),
        "rn": (12, "readings[0].rn: expected a hex string, got int"),
    }
    for field, (value, reason) in cases.items():

        def put(items: list[dict[str, Any]], f: str = field, v: Any = value) -> None:
            items[0][f] = v

        ingest(migrated, [message("gw-1", [freeze("E1", "energy_import_total", 1.0)], put)])
        assert rows(
            migrated, "SELECT count(*) FROM dead_letters WHERE reason LIKE %s", reason + "%"
        ) == [(1,)], field

    def huge(items: list[dict[str, Any]]) -> None:
        items[0]["mac"] = "AB" * 65

    ingest(migrated, [message("gw-1", [freeze("E1", "energy_import_total", 1.0)], huge)])
    assert rows(
        migrated,
        "SELECT count(*) FROM dead_letters WHERE reason = %s",
        "readings[0].mac: 130 hex digits exceed 128 (64 bytes)",
    ) == [(1,)]

    def orphan(items: list[dict[str, Any]]) -> None:
        del items[0]["mac"]

    ingest(migrated, [message("gw-1", [freeze("E1", "energy_import_total", 1.0)], orphan)])
    assert rows(
        migrated,
        "SELECT count(*) FROM dead_letters WHERE reason LIKE %s",
        "readings[0].rn: an rn without a mac%",
    ) == [(1,)]
    assert rows(migrated, "SELECT count(*) FROM daily_freeze") == [(0,)]


def interval_row(meter: str, ts: datetime, value: float) -> tuple[Any, ...]:
    return (meter, "energy_import_total", ts, value, "interval", "scheduled", ("unverified",))


def test_a_reading_s_mac_survives_compaction_and_goes_with_it_at_retention(
    migrated: str,
) -> None:
    seed(migrated)
    old_day = TODAY - timedelta(days=20)
    t0 = datetime.combine(old_day, time(8, 0), ZONE).astimezone(UTC)
    with psycopg.connect(migrated) as conn:
        b = Batch()
        b.add_rows(
            "gw-1",
            "c1",
            [interval_row("E1", t0 + timedelta(minutes=15 * i), 10.0 + i) for i in range(4)],
            [("E1", "energy_import_total", t0, 10.0, "interval", MAC, RN)],
        )
        store(conn, b, tz=TZ)
        conn.commit()
    with psycopg.connect(migrated, autocommit=True) as conn:
        assert compact(conn, old_day + timedelta(days=1), TZ, chunk=10) is not None
    with psycopg.connect(migrated) as conn:
        hot = conn.execute("SELECT count(*) FROM readings WHERE meter_id = 'E1'").fetchone()
        assert hot == (0,)  # moved into the compact history
        # a late reading of the compacted day, with its MAC, merged into its compact row
        late = t0 + timedelta(minutes=60)
        b = Batch()
        b.add_rows(
            "gw-1",
            "c2",
            [interval_row("E1", late, 14.0)],
            [("E1", "energy_import_total", late, 14.0, "interval", MAC[::-1], RN)],
        )
        store(conn, b, tz=TZ)
        conn.commit()
        shown = conn.execute(
            "SELECT r.ts, r.quality, k.mac FROM readings_between(%s, %s) r "
            "LEFT JOIN reading_macs k USING (meter_id, quantity, ts) "
            "WHERE r.meter_id = 'E1' ORDER BY r.ts",
            (t0, t0 + timedelta(hours=2)),
        ).fetchall()
        assert [(ts, q, m) for ts, q, m in shown] == [
            (t0, ["unverified"], MAC),
            (t0 + timedelta(minutes=15), ["unverified"], None),
            (t0 + timedelta(minutes=30), ["unverified"], None),
            (t0 + timedelta(minutes=45), ["unverified"], None),
            (late, ["unverified"], MAC[::-1]),
        ]
        # retention: a cutoff before the readings keeps them and so their MACs ...
        drop_old(conn, 1095, t0 + timedelta(days=1095) - timedelta(hours=1))
        assert conn.execute("SELECT count(*) FROM reading_macs").fetchone() == (2,)
        # ... a cutoff past them drops them (the compact row) and their MACs with them
        dropped = drop_old(conn, 1095, t0 + timedelta(days=1095, hours=2))
        assert "reading_macs: 2 rows" in dropped
        assert conn.execute("SELECT count(*) FROM reading_macs").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM readings_compact").fetchone() == (0,)
        # a freeze's MAC goes with its freeze
        b = Batch()
        b.add_rows(
            "gw-1",
            "c3",
            [("E1", "energy_import_total", FREEZE_TS, 5.0, "freeze", "scheduled", ())],
            [("E1", "energy_import_total", FREEZE_TS, 5.0, "freeze", MAC, None)],
        )
        store(conn, b, tz=TZ)
        assert conn.execute("SELECT mac, rn FROM freeze_macs").fetchall() == [(MAC, None)]
        conn.execute("DELETE FROM daily_freeze")
        assert conn.execute("SELECT count(*) FROM freeze_macs").fetchone() == (0,)


def test_the_api_shows_unverified_values_with_their_mac(client: TestClient) -> None:
    url = str(client.app.state.database_url)  # type: ignore[attr-defined]
    seed(url)
    ts = datetime.combine(DAY, time(10, 0), ZONE).astimezone(UTC)
    with psycopg.connect(url) as conn:
        b = Batch()
        b.add_rows(
            "gw-1",
            "api",
            [
                (
                    "E1",
                    "energy_import_total",
                    FREEZE_TS,
                    1234.5,
                    "freeze",
                    "scheduled",
                    ("unverified",),
                ),
                ("P1", "energy_import_total", FREEZE_TS, 99.0, "freeze", "scheduled", ()),
                ("E1", "voltage_a", ts, 230.5, "interval", "scheduled", ("unverified",)),
            ],
            [
                ("E1", "energy_import_total", FREEZE_TS, 1234.5, "freeze", MAC, RN),
                ("E1", "voltage_a", ts, 230.5, "interval", MAC[::-1], RN),
            ],
        )
        store(conn, b, tz=TZ)
        conn.commit()
    h = auth_headers(client, "viewer", url)
    r = client.get(f"/api/meters/E1/freeze?start={DAY}&end={DAY}", headers=h)
    assert r.status_code == 200, r.text
    (f,) = r.json()["freezes"]
    assert f["quality"] == ["unverified"] and f["mac"] == "1A2B3C4D" and f["rn"] == RN.hex().upper()
    (p,) = client.get(f"/api/meters/P1/freeze?start={DAY}&end={DAY}", headers=h).json()["freezes"]
    assert p["quality"] == [] and p["mac"] is None and p["rn"] is None
    latest = {
        v["quantity"]: v for v in client.get("/api/meters/E1/latest", headers=h).json()["values"]
    }
    assert latest["energy_import_total"]["quality"] == ["unverified"]
    assert latest["energy_import_total"]["mac"] == "1A2B3C4D"
    assert (
        latest["voltage_a"]["mac"] == "4D3C2B1A" and latest["voltage_a"]["rn"] == RN.hex().upper()
    )
    day = client.get(f"/api/meters/E1/readings?date={DAY}", headers=h).json()
    (item,) = day["items"]
    assert item["quality"] == ["unverified"] and item["mac"] == "4D3C2B1A"
    curve = client.get(
        "/api/meters/E1/curve",
        params={
            "quantity": "voltage_a",
            "start": ts.isoformat(),
            "end": (ts + timedelta(hours=1)).isoformat(),
        },
        headers=h,
    ).json()
    assert curve["points"][0]["mac"] == "4D3C2B1A"


def test_old_payloads_without_a_mac_stay_valid() -> None:
    plain = Reading("P1", "energy_import_total", FREEZE_TS, 1.0, "kWh", ReadingKind.FREEZE)
    payload = wire.batch_of("gw-1", "b", [plain], datetime.now(UTC))
    assert b'"mac"' not in payload  # nothing added to a reading without one
    decoded = wire.decode_readings_rows(payload)
    assert decoded.macs == [] and decoded.refused == [] and len(decoded.rows) == 1
    assert wire.decode_readings(payload).readings == (plain,)
    secured = freeze("E1", "energy_import_total", 2.0)
    again = wire.decode_readings(wire.batch_of("gw-1", "b", [secured], datetime.now(UTC)))
    assert again.readings == (secured,) and secured.source is Source.SCHEDULED
