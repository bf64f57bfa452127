"""Migrations and the idempotent merge, on PostgreSQL and on TimescaleDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from protocols.wire import ReadingRow
from server.db.migrate import migrate
from server.db.partitions import drop_old, is_partitioned
from server.ingest.store import Batch, screen, store

from .helpers import add_meters

T0 = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)  # local midnight of 2026-11-02


def rows(meter: str, n: int, value: float = 1.0, kind: str = "interval",
         quantity: str = "energy_import_total", t0: datetime = T0) -> list[ReadingRow]:
    return [(meter, quantity, t0 + timedelta(minutes=15 * i), value + i, kind, "scheduled", ())
            for i in range(n)]


def test_migrations_twice_and_flavour(db_url: str) -> None:
    first = migrate(db_url)
    assert first[0] == "0001_archive" and "0002_readings" in first
    assert migrate(db_url) == []
    with psycopg.connect(db_url) as conn:
        ts = conn.execute("SELECT 1 FROM pg_extension WHERE extname='timescaledb'").fetchone()
        if ts:
            hyper = conn.execute("SELECT 1 FROM timescaledb_information.hypertables WHERE "
                                 "hypertable_name = 'readings'").fetchone()
            assert hyper is not None
        else:
            assert is_partitioned(conn)


def test_merge_is_idempotent_and_keeps_conflicts(migrated: str) -> None:
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}])
    with psycopg.connect(migrated) as conn:
        b = Batch()
        b.add_rows("gw-1", "b1", rows("M1", 10))
        assert store(conn, b, tz="Asia/Shanghai").inserted == 10
        again = Batch()
        again.add_rows("gw-1", "b1", rows("M1", 10))  # a redelivery: no-op
        assert store(conn, again, tz="Asia/Shanghai").inserted == 0
        changed = Batch()
        changed.add_rows("gw-1", "b2", rows("M1", 3, value=50.0))  # different values
        store(conn, changed, tz="Asia/Shanghai")
        n = conn.execute("SELECT count(*), sum(value) FROM readings").fetchone()
        assert n == (10, sum(1.0 + i for i in range(10)))  # never overwritten
        c = conn.execute("SELECT count(*) FROM reading_conflicts").fetchone()
        assert c == (3,)
        store(conn, changed, tz="Asia/Shanghai")  # the same conflict again: listed once
        assert conn.execute("SELECT count(*) FROM reading_conflicts").fetchone() == (3,)


def test_unknown_meters_go_to_quarantine(migrated: str) -> None:
    with psycopg.connect(migrated) as conn:
        b = Batch()
        b.add_rows("gw-1", "b1", rows("GHOST", 4))
        store(conn, b, tz="Asia/Shanghai")
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (4,)


def test_freeze_and_event_routing(migrated: str) -> None:
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}])
    with psycopg.connect(migrated) as conn:
        b = Batch()
        b.add_rows("gw-1", "b", rows("M1", 1, 1234.5, kind="freeze"))
        b.add_rows("gw-1", "b", rows("M1", 1, 3, kind="event", quantity="power_down_count"))
        store(conn, b, tz="Asia/Shanghai")
        f = conn.execute("SELECT data_date, value FROM daily_freeze").fetchall()
        assert [(str(d), v) for d, v in f] == [("2026-11-01", 1234.5)]
        assert conn.execute("SELECT count(*) FROM meter_events").fetchone() == (1,)


def test_midnight_interval_sample_and_freeze_are_not_a_conflict(migrated: str) -> None:
    """The register frozen at 00:00 and the interval sample read at 00:00 a few seconds later
    differ by what was used meanwhile: two observations, both kept, no conflict. A freeze
    repeated with another value is a conflict (kept aside, the first value stays)."""
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}])
    midnight = datetime(2026, 11, 1, 16, tzinfo=UTC)  # 00:00 in Asia/Shanghai
    with psycopg.connect(migrated) as conn:
        b = Batch()
        b.add_rows("gw-1", "b1", rows("M1", 1, 1234.50, kind="freeze", t0=midnight))
        b.add_rows("gw-1", "b1", rows("M1", 1, 1234.51, t0=midnight))
        assert store(conn, b, tz="Asia/Shanghai").inserted == 2
        again = Batch()  # both redelivered, in the other order: no-ops
        again.add_rows("gw-1", "b2", rows("M1", 1, 1234.51, t0=midnight))
        again.add_rows("gw-1", "b2", rows("M1", 1, 1234.50, kind="freeze", t0=midnight))
        assert store(conn, again, tz="Asia/Shanghai").inserted == 0
        assert conn.execute("SELECT count(*) FROM reading_conflicts").fetchone() == (0,)
        assert conn.execute("SELECT value FROM readings").fetchall() == [(1234.51,)]
        assert conn.execute("SELECT data_date::text, value FROM daily_freeze").fetchall() == [
            ("2026-11-01", 1234.50)]
        other = Batch()  # the same freeze with another value
        other.add_rows("gw-1", "b3", rows("M1", 1, 1200.0, kind="freeze", t0=midnight))
        store(conn, other, tz="Asia/Shanghai")
        assert conn.execute("SELECT kind, stored_value, new_value FROM reading_conflicts"
                            ).fetchall() == [("freeze", 1234.50, 1200.0)]
        assert conn.execute("SELECT value FROM daily_freeze").fetchall() == [(1234.50,)]


def test_bad_timestamps_screened() -> None:
    now = T0
    good, bad = screen(rows("M1", 1, t0=now + timedelta(hours=2)) + rows("M1", 1), now, 900, 30)
    assert len(good) == 1 and "in the future" in bad[0][1]
    good, bad = screen(rows("M1", 1, t0=now - timedelta(days=40)), now, 900, 30)
    assert not good and "older than the retention" in bad[0][1]


def test_retention_drops_whole_partitions_or_chunks(migrated: str) -> None:
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}])
    old = datetime(2021, 3, 1, tzinfo=UTC)
    with psycopg.connect(migrated) as conn:
        b = Batch()
        b.add_rows("gw-1", "b", rows("M1", 5, t0=old) + rows("M1", 5))
        store(conn, b, tz="Asia/Shanghai")
        with conn.transaction():
            dropped = drop_old(conn, 365, now=T0)
        assert dropped
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (5,)
