"""Ingestion that cannot be fooled (issue 16), on PostgreSQL and TimescaleDB: a gateway writes
only the meters the archive gives it on the reading's date, implausible values are
quarantined with their reason (never stored as valid, never dropped), and the archive
facts the screening caches follow every change of the archive."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from protocols.wire import ReadingRow
from server.ingest.store import Batch, StoreResult, store

from .helpers import add_meters, auth_headers

TZ = "Asia/Shanghai"
D = date(2026, 11, 10)


def freeze_ts(day: date) -> datetime:
    """The freeze closing ``day``: local 00:00 of the next day."""
    return datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC)  # 12:00 local


def row(
    meter: str, quantity: str, ts: datetime, value: float, kind: str = "interval"
) -> ReadingRow:
    return (meter, quantity, ts, value, kind, "scheduled", ())


def publish(url: str, gateway: str, rows: list[ReadingRow], batch: str = "b") -> StoreResult:
    with psycopg.connect(url) as conn:
        b = Batch()
        b.add_rows(gateway, batch, rows)
        return store(conn, b, tz=TZ)


def quarantined(url: str) -> dict[tuple[str, str, str], str]:
    """(meter, quantity, gateway) -> reason."""
    with psycopg.connect(url) as conn:
        return {
            (m, q, gw): reason
            for m, q, gw, reason in conn.execute(
                "SELECT meter_id, quantity, gateway_id, reason FROM quarantine"
            )
        }


def freezes(url: str) -> dict[tuple[str, date], tuple[float, str]]:
    with psycopg.connect(url) as conn:
        return {
            (m, d): (v, gw)
            for m, d, v, gw in conn.execute(
                "SELECT meter_id, data_date, value, gateway_id FROM daily_freeze "
                "WHERE quantity = 'energy_import_total'"
            )
        }


def two_gateways(url: str) -> None:
    add_meters(url, [{"id": "M1", "address": "000000000001"}], gateway="gw-1", area="A1")
    add_meters(url, [{"id": "N1", "address": "000000000002"}], gateway="gw-2", area="A1")


def test_a_neighbours_freeze_is_quarantined_and_the_genuine_one_stored(migrated: str) -> None:
    two_gateways(migrated)
    forged = publish(
        migrated, "gw-2", [row("M1", "energy_import_total", freeze_ts(D), 1.0, "freeze")]
    )
    assert (forged.inserted, forged.quarantined) == (0, 1)
    assert forged.quarantined_by == {"not_owner": 1}
    genuine = publish(
        migrated, "gw-1", [row("M1", "energy_import_total", freeze_ts(D), 1234.5, "freeze")]
    )
    assert (genuine.inserted, genuine.quarantined) == (1, 0)
    assert freezes(migrated) == {("M1", D): (1234.5, "gw-1")}
    reason = quarantined(migrated)[("M1", "energy_import_total", "gw-2")]
    assert reason == "meter not on this gateway (archive: gw-1 since 2025-01-01)"
    with psycopg.connect(migrated) as conn:  # the genuine value is not a "conflict"
        assert conn.execute("SELECT count(*) FROM reading_conflicts").fetchone() == (0,)
    # interval readings alike, in a batch mixed with the gateway's own meter
    mixed = publish(
        migrated,
        "gw-2",
        [row("M1", "voltage_a", noon(D), 230.0), row("N1", "voltage_a", noon(D), 229.0)],
    )
    assert (mixed.inserted, mixed.quarantined) == (1, 1)


def test_the_gateway_history_of_many_meters_is_written_per_statement(migrated: str) -> None:
    """An import of many meters writes their stays in one statement and bumps the archive
    version once (row by row, 100,000 meters took more than 10 minutes); a statement moving,
    correcting and leaving several meters at once writes what row-by-row changes would."""
    n = 5000
    with psycopg.connect(migrated) as conn:
        conn.execute(
            "INSERT INTO gateways (id, name) VALUES ('gw-1', ''), ('gw-2', ''), ('gw-3', '')"
        )
        version = conn.execute("SELECT n FROM archive_version").fetchone()
        conn.execute(
            "INSERT INTO meters (id, address, protocol, gateway_id, installed_on) "
            "SELECT 'B' || i, lpad(i::text, 12, '0'), 'dlt645-2007', "
            "CASE WHEN i %% 2 = 0 THEN 'gw-1' END, DATE '2025-01-01' "
            "FROM generate_series(1, %s) i",
            (n,),
        )
        assert conn.execute("SELECT n FROM archive_version").fetchone()[0] - version[0] == 2
        assert conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE gateway_id = 'gw-1' AND valid_to IS NULL "
            "AND valid_from = DATE '2025-01-01') FROM meter_gateway_history"
        ).fetchone() == (n // 2, n // 2)
        # one statement: B2 moves to gw-2 on 11-01, B4 leaves its gateway on 11-02, B6's
        # stay is corrected to have begun on 2025-02-01, B1 (no gateway) joins gw-3 on 11-03,
        # B8 only changes its customer's name
        conn.execute(
            """UPDATE meters m SET gateway_id = c.gw, gateway_since = c.since,
                   customer_name = coalesce(c.name, m.customer_name)
               FROM (VALUES ('B2', 'gw-2', DATE '2026-11-01', NULL),
                            ('B4', NULL, DATE '2026-11-02', NULL),
                            ('B6', 'gw-1', DATE '2025-02-01', NULL),
                            ('B1', 'gw-3', DATE '2026-11-03', NULL),
                            ('B8', 'gw-1', DATE '2025-01-01', 'Li')) c(id, gw, since, name)
              WHERE m.id = c.id"""
        )
        got = conn.execute(
            "SELECT meter_id, gateway_id, valid_from::text, valid_to::text "
            "FROM meter_gateway_history WHERE meter_id IN ('B1', 'B2', 'B4', 'B6', 'B8') "
            "ORDER BY meter_id, valid_from"
        ).fetchall()
    assert got == [
        ("B1", "gw-3", "2026-11-03", None),
        ("B2", "gw-1", "2025-01-01", "2026-11-01"),
        ("B2", "gw-2", "2026-11-01", None),
        ("B4", "gw-1", "2025-01-01", "2026-11-02"),
        ("B6", "gw-1", "2025-02-01", None),
        ("B8", "gw-1", "2025-01-01", None),
    ]


def test_a_moved_meter_belongs_to_its_new_gateway_from_the_move_date(migrated: str) -> None:
    two_gateways(migrated)
    moved = D - timedelta(days=3)
    with psycopg.connect(migrated) as conn:
        conn.execute(
            "UPDATE meters SET gateway_id = 'gw-2', gateway_since = %s WHERE id = 'M1'", (moved,)
        )
        conn.commit()
        history = conn.execute(
            "SELECT gateway_id, valid_from, valid_to FROM meter_gateway_history "
            "WHERE meter_id = 'M1' ORDER BY valid_from"
        ).fetchall()
    assert history == [("gw-1", date(2025, 1, 1), moved), ("gw-2", moved, None)]
    # the new gateway from the move date on, live and frozen
    new = publish(
        migrated,
        "gw-2",
        [
            row("M1", "voltage_a", noon(moved), 230.0),
            row("M1", "energy_import_total", freeze_ts(moved), 500.0, "freeze"),
            row("M1", "voltage_a", noon(moved - timedelta(days=1)), 231.0),  # before: no
        ],
    )
    assert (new.inserted, new.quarantined) == (2, 1)
    # the old gateway: its days before the move still land (a late outbox), none after
    old = publish(
        migrated,
        "gw-1",
        [
            row("M1", "voltage_b", noon(moved - timedelta(days=1)), 230.0),
            row("M1", "energy_import_total", freeze_ts(moved - timedelta(days=1)), 490.0, "freeze"),
            row("M1", "voltage_b", noon(moved), 230.0),
            row("M1", "energy_import_total", freeze_ts(D), 520.0, "freeze"),
        ],
    )
    assert (old.inserted, old.quarantined) == (2, 2)
    reasons = quarantined(migrated)
    assert reasons[("M1", "voltage_b", "gw-1")] == (
        f"meter not on this gateway on {moved} (archive: gw-2 since {moved})"
    )
    assert reasons[("M1", "voltage_a", "gw-2")] == (
        f"meter not on this gateway on {moved - timedelta(days=1)} (archive: gw-2 since {moved})"
    )
    # a day before the move re-read by the new gateway from the meter's freeze history
    reread = publish(
        migrated,
        "gw-2",
        [row("M1", "energy_import_total", freeze_ts(moved - timedelta(days=5)), 450.0, "freeze")],
    )
    assert (reread.inserted, reread.quarantined) == (1, 0)
    assert freezes(migrated)[("M1", moved)] == (500.0, "gw-2")


def test_installation_and_removal_dates_bound_what_is_accepted(migrated: str) -> None:
    add_meters(migrated, [{"id": "M1", "address": "000000000001", "installed_on": D}])
    removed = D + timedelta(days=2)
    with psycopg.connect(migrated) as conn:
        conn.execute("UPDATE meters SET removed_on = %s", (removed,))
        conn.commit()
    got = publish(
        migrated,
        "gw-1",
        [
            row("M1", "voltage_a", noon(D - timedelta(days=1)), 230.0),
            row("M1", "voltage_a", noon(D), 230.0),
            row("M1", "voltage_a", noon(D + timedelta(days=2)), 230.0),
            row("M1", "voltage_a", noon(D + timedelta(days=3)), 230.0),
        ],
    )
    assert (got.inserted, got.quarantined) == (2, 2)
    with psycopg.connect(migrated) as conn:
        reasons = sorted(r for (r,) in conn.execute("SELECT reason FROM quarantine"))
    assert reasons == [
        f"reading for {D - timedelta(days=1)}, before the meter was installed ({D})",
        f"reading for {D + timedelta(days=3)}, after the meter was removed ({removed})",
    ]


IMPLAUSIBLE: list[tuple[str, ReadingRow, str]] = [
    ("negative register", row("M1", "energy_import_total", noon(D), -5.0), "outside 0 ... 1e+06"),
    (
        "register 1e308",
        row("M1", "energy_export_total", noon(D), 1e308),
        "register of a dlt645-2007",
    ),
    ("freeze 1e308", row("M1", "energy_import_t1", freeze_ts(D), 1e308, "freeze"), "register"),
    ("-1,000,000 V", row("M1", "voltage_a", noon(D), -1e6), "voltage_a = -1e+06 outside 0 ... 440"),
    ("PF 999", row("M1", "pf_total", noon(D), 999.0), "power factor"),
    ("voltage as a freeze", row("M1", "voltage_b", freeze_ts(D), 230.0, "freeze"), "kind 'freeze'"),
    ("frequency 70 Hz", row("M1", "frequency", noon(D), 70.0), "Hz: grid frequency"),
    ("current 1e9 A", row("M1", "current_a", noon(D), 1e9), "20 x rated 10 A"),
    ("power 1e9 kW", row("M1", "power_active_total", noon(D), 1e9), "kW: 1 phase(s)"),
    ("clock offset as interval", row("M1", "clock_offset", noon(D), 3.0), "only clock"),
    ("counter -1", row("M1", "cover_open_count", noon(D), -1.0, "event"), "event counter"),
]


def test_each_implausible_class_is_quarantined_with_its_reason(
    migrated: str, client: TestClient
) -> None:
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}])
    with psycopg.connect(migrated) as conn:
        conn.execute("UPDATE meters SET rated_voltage = 220, rated_current = 10 WHERE id = 'M1'")
        conn.commit()
    plausible = [
        row("M1", "energy_import_total", noon(D), 999_999.99),
        row("M1", "energy_combined_total", noon(D), -12.5),  # combined may be negative
        row("M1", "voltage_a", noon(D), 0.0),  # a lost phase is an anomaly, not a forgery
        row("M1", "current_a", noon(D), -3.2),  # signed: reverse flow
        row("M1", "pf_total", noon(D), -0.95),
        row("M1", "frequency", noon(D), 49.98),
        row("M1", "clock_offset", noon(D), -400.0, "clock"),
    ]
    got = publish(migrated, "gw-1", plausible + [r for _, r, _ in IMPLAUSIBLE])
    assert (got.inserted, got.quarantined) == (len(plausible), len(IMPLAUSIBLE))
    assert got.quarantined_by == {"implausible": len(IMPLAUSIBLE)}
    with psycopg.connect(migrated) as conn:
        kept = {
            (m, q, ts): (v, reason)
            for m, q, ts, v, reason in conn.execute(
                "SELECT meter_id, quantity, ts, value, reason FROM quarantine"
            )
        }
        assert conn.execute("SELECT count(*) FROM daily_freeze").fetchone() == (0,)
    for what, (m, q, ts, v, _k, _s, _qual), part in IMPLAUSIBLE:
        value, reason = kept[(m, q, ts)]
        assert value == v, what
        assert reason.startswith("implausible: ") and part in reason, (what, reason)
    # staff see them, with the reasons
    viewer = auth_headers(client, "viewer", migrated)
    page = client.get("/api/quarantine?limit=100", headers=viewer).json()
    assert page["total"] == len(IMPLAUSIBLE)
    assert {r["reason"] for r in page["items"]} == {reason for _, reason in kept.values()}
    assert all(r["meter_id"] == "M1" and r["gateway_id"] == "gw-1" for r in page["items"])


def test_the_screening_follows_archive_changes_without_a_restart(migrated: str) -> None:
    """The cached archive facts are dropped when the archive changes (archive_version)."""
    publish_ = [row("X1", "voltage_a", noon(D), 230.0)]
    got = publish(migrated, "gw-1", publish_)
    assert got.quarantined_by == {"not_in_archive": 1}
    assert quarantined(migrated)[("X1", "voltage_a", "gw-1")] == "meter not in the archive"
    add_meters(migrated, [{"id": "X1", "address": "000000000009"}])  # now it is archived
    assert publish(migrated, "gw-1", [row("X1", "voltage_a", noon(D), 231.0)]).inserted == 1
    with psycopg.connect(migrated) as conn:  # moved away today: gw-1 is refused from today
        today = conn.execute("SELECT current_date").fetchone()
        conn.execute("INSERT INTO gateways (id, name) VALUES ('gw-9', 'gw-9')")
        conn.execute("UPDATE meters SET gateway_id = 'gw-9' WHERE id = 'X1'")
        conn.commit()
    assert today is not None
    later = publish(migrated, "gw-1", [row("X1", "voltage_b", noon(today[0]), 230.0)])
    assert later.quarantined == 1
    assert quarantined(migrated)[("X1", "voltage_b", "gw-1")].endswith(
        f"(archive: gw-9 since {today[0]})"
    )
    # ratings bound the values: a rated 57.7 V meter behind a 100 PT may show 10 kV
    with psycopg.connect(migrated) as conn:
        conn.execute("UPDATE meters SET rated_voltage = 57.7, pt_ratio = 100 WHERE id = 'X1'")
        conn.commit()
    ok = publish(migrated, "gw-9", [row("X1", "voltage_c", noon(today[0]), 10_000.0)])
    assert (ok.inserted, ok.quarantined) == (1, 0)


def test_a_meter_on_no_gateway_is_nobodys_to_write(migrated: str) -> None:
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}])
    with psycopg.connect(migrated) as conn:
        conn.execute("UPDATE meters SET gateway_id = NULL, gateway_since = %s", (D,))
        conn.commit()
    got = publish(migrated, "gw-1", [row("M1", "voltage_a", noon(D), 230.0)])
    assert got.quarantined == 1
    assert quarantined(migrated)[("M1", "voltage_a", "gw-1")] == (
        f"meter not on this gateway on {D} (archive: on no gateway since {D})"
    )
    # its readings from before it left are still its old gateway's
    assert (
        publish(
            migrated, "gw-1", [row("M1", "voltage_a", noon(D - timedelta(days=1)), 1.0)]
        ).inserted
        == 1
    )


@pytest.mark.parametrize("how", ["put", "patch"])
def test_moving_a_meter_through_the_api_records_the_move_date(
    client: TestClient, migrated: str, how: str
) -> None:
    op = auth_headers(client, "admin", migrated)  # the archive is an admin's
    for gw in ("gw-1", "gw-2"):
        assert client.put(f"/api/gateways/{gw}", json={"name": gw}, headers=op).status_code == 200
    body: dict[str, Any] = {
        "address": "000000000001",
        "protocol": "dlt645-2007",
        "gateway_id": "gw-1",
        "installed_on": "2026-01-01",
    }
    assert client.put("/api/meters/M1", json=body, headers=op).json()["gateway_since"] == (
        "2026-01-01"
    )
    move = {"gateway_id": "gw-2", "gateway_since": "2026-11-03"}
    if how == "put":
        r = client.put("/api/meters/M1", json={**body, **move}, headers=op)
    else:
        r = client.patch("/api/meters/M1", json=move, headers=op)
    assert r.status_code == 200 and r.json()["gateway_since"] == "2026-11-03"
    # a later edit that does not name the date keeps it
    r = client.put("/api/meters/M1", json={**body, "gateway_id": "gw-2"}, headers=op)
    assert r.json()["gateway_since"] == "2026-11-03"
    got = publish(migrated, "gw-1", [row("M1", "voltage_a", noon(date(2026, 11, 5)), 230.0)])
    assert quarantined(migrated)[("M1", "voltage_a", "gw-1")] == (
        "meter not on this gateway on 2026-11-05 (archive: gw-2 since 2026-11-03)"
    )
    assert got.quarantined == 1
    # a corrected move date moves the boundary between the two stays
    r = client.patch("/api/meters/M1", json={"gateway_since": "2026-11-06"}, headers=op)
    assert r.json()["gateway_since"] == "2026-11-06"
    with psycopg.connect(migrated) as conn:
        stays = conn.execute(
            "SELECT gateway_id, valid_from::text, valid_to::text FROM meter_gateway_history "
            "WHERE meter_id = 'M1' ORDER BY valid_from"
        ).fetchall()
    assert stays == [("gw-1", "2026-01-01", "2026-11-06"), ("gw-2", "2026-11-06", None)]
    late = publish(migrated, "gw-1", [row("M1", "voltage_b", noon(date(2026, 11, 5)), 230.0)])
    assert (late.inserted, late.quarantined) == (1, 0)
    # a move without a date takes effect today in the utility's time zone
    assert client.put("/api/gateways/gw-3", json={"name": "gw-3"}, headers=op).status_code == 200
    r = client.patch("/api/meters/M1", json={"gateway_id": "gw-3"}, headers=op)
    assert r.json()["gateway_since"] == datetime.now(ZoneInfo(TZ)).date().isoformat()
