"""Migrations and the idempotent merge, on PostgreSQL and on TimescaleDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from protocols.wire import ReadingRow
from server.db.migrate import migrate
from server.db.partitions import drop_old, is_partitioned
from server.ingest.store import Batch, screen, store

from .helpers import add_meters

T0 = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)  # local midnight of 2026-11-02


def rows(
    meter: str,
    n: int,
    value: float = 1.0,
    kind: str = "interval",
    quantity: str = "energy_import_total",
    t0: datetime = T0,
) -> list[ReadingRow]:
    return [
        (meter, quantity, t0 + timedelta(minutes=15 * i), value + i, kind, "scheduled", ())
        for i in range(n)
    ]


def test_migrations_twice_and_flavour(db_url: str) -> None:
    first = migrate(db_url)
    assert first[0] == "0001_archive" and "0002_readings" in first
    assert migrate(db_url) == []
    with psycopg.connect(db_url) as conn:
        ts = conn.execute("SELECT 1 FROM pg_extension WHERE extname='timescaledb'").fetchone()
        if ts:
            hyper = conn.execute(
                "SELECT 1 FROM timescaledb_information.hypertables WHERE "
                "hypertable_name = 'readings'"
            ).fetchone()
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


def test_new_readings_by_direct_copy_and_every_kind_of_repeat(migrated: str) -> None:
    """New interval readings of archived meters go straight in by COPY; a batch mixed with
    unknown meters, freezes and events stores each part where it belongs; a batch that
    repeats some readings (or holds one reading twice) falls back to the merge as a whole:
    nothing doubled, nothing lost, conflicts kept aside; the meter-days to check again are
    queued the same way on both paths."""
    add_meters(
        migrated, [{"id": "M1", "address": "000000000001"}, {"id": "M2", "address": "000000000002"}]
    )
    tz = "Asia/Shanghai"
    with psycopg.connect(migrated) as conn:
        b = Batch()
        b.add_rows(
            "gw-1",
            "b1",
            rows("M1", 8)
            + rows("M1", 8, 220.0, quantity="voltage_a")
            + rows("GHOST", 2)
            + rows("M2", 1, 5.0, kind="freeze")
            + rows("M2", 1, 1.0, kind="event", quantity="cover_open_count"),
        )
        assert store(conn, b, tz=tz).inserted == 8 + 8 + 1 + 1
        assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM daily_freeze").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM meter_events").fetchone() == (1,)
        direct_days = conn.execute(
            "SELECT meter_id, data_date FROM check_queue WHERE meter_id = 'M1' ORDER BY 2"
        ).fetchall()
        # 8 slots from local midnight: the voltage points queue M1's day once
        assert [d.isoformat() for _, d in direct_days] == ["2026-11-02"]
        # half old, half new, one new reading twice with two values: the merge decides
        mixed = Batch()
        mixed.add_rows(
            "gw-1",
            "b2",
            rows("M1", 12)
            + rows("M2", 2, 7.0, t0=T0 + timedelta(days=1))
            + rows("M2", 1, 9.0, t0=T0 + timedelta(days=1)),
        )
        assert store(conn, mixed, tz=tz).inserted == 4 + 2
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (8 + 8 + 1 + 4 + 2,)
        assert conn.execute("SELECT count(*) FROM reading_conflicts").fetchone() == (1,)
        # the same voltage points through the merge queue the same meter-day
        conn.execute("DELETE FROM check_queue")
        conn.execute(
            "DELETE FROM readings WHERE quantity = 'voltage_a' AND ts > %s",
            (T0 + timedelta(hours=1),),
        )
        again = Batch()
        again.add_rows("gw-1", "b3", rows("M1", 8, 220.0, quantity="voltage_a"))
        assert store(conn, again, tz=tz).inserted == 3  # a partial repeat: merged
        assert (
            conn.execute("SELECT meter_id, data_date FROM check_queue ORDER BY 2").fetchall()
            == direct_days
        )


def test_two_writers_storing_the_same_readings_at_once(migrated: str) -> None:
    """Two transactions store overlapping batches concurrently (two consumers, or a
    redelivery racing the original): the second waits, falls back to the merge, and every
    reading is stored once."""
    import threading

    add_meters(migrated, [{"id": f"M{i}", "address": f"{i:012d}"} for i in range(20)])
    batches = []
    for k in range(2):
        b = Batch()
        for i in range(20):
            b.add_rows("gw-1", f"b{k}", rows(f"M{i}", 50 + 25 * k))  # the second overlaps
        batches.append(b)
    results: list[int] = []
    errors: list[BaseException] = []

    def write(b: Batch) -> None:
        try:
            with psycopg.connect(migrated) as conn:
                results.append(store(conn, b, tz="Asia/Shanghai").inserted)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sum(results) == 20 * 75
    with psycopg.connect(migrated) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (20 * 75,)
        assert conn.execute("SELECT count(*) FROM reading_conflicts").fetchone() == (0,)


def test_a_year_first_stored_by_a_rolled_back_batch_is_stored_later(migrated: str) -> None:
    """The first batch of a new year creates its partition (plain PostgreSQL) inside the
    batch's transaction; if that transaction rolls back, the partition is gone with it, and
    the next batch of that year must create it again instead of believing it exists."""
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}])
    b = Batch()
    b.add_rows("gw-1", "b1", rows("M1", 2, t0=datetime(2031, 6, 1, tzinfo=UTC)))
    with psycopg.connect(migrated) as conn:
        with pytest.raises(RuntimeError), conn.transaction():
            store(conn, b, tz="Asia/Shanghai")
            raise RuntimeError("the commit never happens (a crash, a failed statement after)")
        assert store(conn, b, tz="Asia/Shanghai").inserted == 2


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
            ("2026-11-01", 1234.50)
        ]
        other = Batch()  # the same freeze with another value
        other.add_rows("gw-1", "b3", rows("M1", 1, 1200.0, kind="freeze", t0=midnight))
        store(conn, other, tz="Asia/Shanghai")
        assert conn.execute(
            "SELECT kind, stored_value, new_value FROM reading_conflicts"
        ).fetchall() == [("freeze", 1234.50, 1200.0)]
        assert conn.execute("SELECT value FROM daily_freeze").fetchall() == [(1234.50,)]


def test_bad_timestamps_screened() -> None:
    now = T0
    good, bad = screen(rows("M1", 1, t0=now + timedelta(hours=2)) + rows("M1", 1), now, 900, 30)
    assert len(good) == 1 and "in the future" in bad[0][1]
    good, bad = screen(rows("M1", 1, t0=now - timedelta(days=40)), now, 900, 30)
    assert not good and "older than the retention" in bad[0][1]


def test_retention_drops_whole_partitions_or_chunks(migrated: str) -> None:
    # in service since before its oldest readings (readings from before a meter's
    # installation are quarantined)
    add_meters(migrated, [{"id": "M1", "address": "000000000001", "installed_on": "2020-01-01"}])
    old = datetime(2021, 3, 1, tzinfo=UTC)
    with psycopg.connect(migrated) as conn:
        b = Batch()
        b.add_rows("gw-1", "b", rows("M1", 5, t0=old) + rows("M1", 5))
        store(conn, b, tz="Asia/Shanghai")
        with conn.transaction():
            dropped = drop_old(conn, 365, now=T0)
        assert dropped
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (5,)


#: deploy/SCALING.md's plan for Citus: the tables distributed by meter_id (colocated), and
#: those that carry a meter_id but stay on the coordinator with the staff data they belong to
DISTRIBUTED = {
    "readings",
    "readings_compact",
    "readings_cold",
    "daily_freeze",
    "collection_month",
    "curve_points",
    "meter_events",
    "quarantine",
    "check_queue",
    "reading_conflicts",
    "reread_requests",
    "curve_reread_requests",
    "reading_macs",
    "freeze_macs",
    "meter_gateway_history",
    "meter_health_log",
}
COORDINATOR_WITH_METER = {"anomalies", "reread_batch_items"}
REFERENCE = {"meters", "areas", "gateways", "org_units", "quantity_keys", "rule_params"}


def test_schema_fits_distribution_by_meter(migrated: str) -> None:
    """Every table with a meter_id is placed by the plan; each distributed one has
    meter_id in every unique key (Citus enforces no other) and foreign keys only to
    reference tables or, by meter_id, to a colocated one; SCALING.md names them as the
    test does."""
    with psycopg.connect(migrated) as conn:
        with_meter = {
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                "c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND "
                "a.attname = 'meter_id' AND NOT a.attisdropped WHERE n.nspname = 'public' "
                "AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            )
        }
        unique = conn.execute(
            "SELECT t.relname, pg_get_indexdef(i.indexrelid), "
            "'meter_id' = ANY(ARRAY(SELECT a.attname FROM pg_attribute a "
            "  WHERE a.attrelid = t.oid AND a.attnum = ANY(i.indkey))) "
            "FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
            "WHERE i.indisunique AND t.relname = ANY(%s)",
            (sorted(DISTRIBUTED),),
        ).fetchall()
        fkeys = conn.execute(
            "SELECT t.relname, f.relname, 'meter_id' = ANY(ARRAY(SELECT a.attname FROM "
            "pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey))) "
            "FROM pg_constraint k JOIN pg_class t ON "
            "t.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid WHERE k.contype = 'f' "
            "AND (t.relname = ANY(%(d)s) OR f.relname = ANY(%(d)s))",
            {"d": sorted(DISTRIBUTED)},
        ).fetchall()
    assert with_meter == DISTRIBUTED | COORDINATOR_WITH_METER
    assert {t for t, *_ in unique} == DISTRIBUTED  # every one has a key
    assert [(t, d) for t, d, has in unique if not has] == []
    # a foreign key goes to a reference table, or between two colocated distributed
    # tables on a key that holds meter_id (a freeze's MAC -> its freeze)
    assert {
        (t, f)
        for t, f, by_meter in fkeys
        if f not in REFERENCE and not (t in DISTRIBUTED and f in DISTRIBUTED and by_meter)
    } == set()
    plan = (Path(__file__).parents[2] / "deploy" / "SCALING.md").read_text(encoding="utf-8")
    distributed = plan.split("Per-meter tables are distributed by", 1)[1].split("\n- ", 1)[0]
    reference = plan.split("become **reference tables**", 1)[1].split("\n- ", 1)[0]
    assert {t for t in DISTRIBUTED if f"`{t}`" not in distributed} == set()
    assert {t for t in REFERENCE if f"`{t}`" not in reference} == set()
