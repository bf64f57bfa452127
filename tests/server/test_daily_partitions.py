"""Daily hot storage (issue 20, migration 0910): on plain PostgreSQL one partition per local
day of the utility's time zone (23 or 25 hours on a daylight-saving change), on TimescaleDB
one-day chunks; an existing site's yearly partition is cut so new days get their own, and
is dropped once compaction has emptied it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from server.db import migrate as migrate_module
from server.db.compact import ZONE_LOCK, compact
from server.db.migrate import migrate
from server.db.partitions import drop_emptied, ensure_partitions, partition_bounds
from server.ingest.store import Batch, store
from tests.conftest import _fresh_database

from .helpers import add_meters

SLOT = timedelta(minutes=15)


def put(url: str, rows: list[tuple[Any, ...]], tz: str) -> int:
    with psycopg.connect(url) as conn:
        b = Batch()
        b.add_rows("gw-1", "b1", rows)
        return store(conn, b, tz=tz).inserted


def test_days_split_at_local_midnight_across_a_dst_change(migrated: str) -> None:
    """Europe/Berlin, 2026-10-25 has 25 hours: COPY (all new) and the merge (repeats, a
    conflict, an event) put each reading in its local day's partition."""
    url, tz = migrated, "Europe/Berlin"
    zone = ZoneInfo(tz)
    add_meters(url, [{"id": "B1", "address": "000000000001"}])
    start = datetime(2026, 10, 24, 22, 0, tzinfo=zone).astimezone(UTC)
    end = datetime(2026, 10, 26, 2, 0, tzinfo=zone).astimezone(UTC)
    stamps = [start + i * SLOT for i in range((end - start) // SLOT)]
    first = [("B1", "voltage_a", ts, 230.0 + i % 7, "interval", "scheduled", ())
             for i, ts in enumerate(stamps) if i % 2 == 0]  # fmt: skip
    assert put(url, first, tz) == len(first)  # COPY path
    second = [("B1", "voltage_a", ts, 230.0 + i % 7, "interval", "scheduled", ())
              for i, ts in enumerate(stamps)]  # fmt: skip
    second[3] = (*second[3][:3], 1.0, *second[3][4:])  # odd slot: new, whatever its value
    second[4] = (*second[4][:3], 1.0, *second[4][4:])  # stored already: a conflict
    second.append(("B1", "cover_open_count", stamps[-1], 1.0, "event", "scheduled", ()))
    assert put(url, second, tz) == len(stamps) - len(first) + 1  # merge path
    with psycopg.connect(url) as conn:
        got = conn.execute(
            "SELECT tableoid::regclass::text, ts FROM readings ORDER BY ts, quantity"
        ).fetchall()
        conflicts = conn.execute("SELECT count(*) FROM reading_conflicts").fetchone()
        timescale = conn.execute(
            "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        if timescale:
            interval = conn.execute(
                "SELECT time_interval FROM timescaledb_information.dimensions "
                "WHERE hypertable_name = 'readings'"
            ).fetchone()
        else:
            bounds = {n: (lo, hi) for n, lo, hi in partition_bounds(conn)}
    assert len(got) == len(stamps) + 1 and conflicts == (1,)
    if timescale:
        assert interval == (timedelta(days=1),)
        return
    days = [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]
    assert sorted(bounds) == [f"readings_d{d:%Y%m%d}" for d in days]
    for d in days:
        lo, hi = bounds[f"readings_d{d:%Y%m%d}"]
        assert lo == datetime.combine(d, time.min, zone)
        assert hi == datetime.combine(d + timedelta(days=1), time.min, zone)
    assert hi - lo == timedelta(hours=24)
    oct25 = bounds["readings_d20261025"]
    assert oct25[1] - oct25[0] == timedelta(hours=25)
    for part, ts in got:
        assert part == f"readings_d{ts.astimezone(zone).date():%Y%m%d}"


@pytest.fixture
def pre_daily(pg_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A plain PostgreSQL database migrated as a site was before migration 0910."""
    gen = _fresh_database(pg_admin_url, "mltest_i20cut")
    url = next(gen)
    every = migrate_module.migration_files
    with monkeypatch.context() as mp:
        mp.setattr(migrate_module, "migration_files", lambda: [f for f in every() if f[0] < "0910"])
        migrate(url)
    yield url
    for _ in gen:
        pass


def test_existing_site_yearly_partition_is_cut_then_dropped(pre_daily: str) -> None:
    url, tz = pre_daily, "Asia/Shanghai"
    zone = ZoneInfo(tz)
    add_meters(url, [{"id": "Y1", "address": "000000000001"}])
    year = datetime.now(UTC).year
    today = datetime.now(zone).date()
    old_days = [today - timedelta(days=n) for n in (2, 3, 20)]
    with psycopg.connect(url) as conn:
        conn.execute(
            f"CREATE TABLE readings_y{year} PARTITION OF readings FOR VALUES FROM "
            f"('{year}-01-01 00:00:00+00') TO ('{year + 1}-01-01 00:00:00+00')"
        )
        rows = [
            ("Y1", q, datetime.combine(d, time.min, zone) + k * SLOT + dt, v, kind)
            for d in old_days
            for k in range(96)
            for q, dt, v, kind in (
                ("voltage_a", timedelta(0), 220.5, "interval"),
                ("cover_open_count", timedelta(seconds=9), float(k), "event"),
            )
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO readings (meter_id, quantity, ts, value, kind, source) "
                "VALUES (%s, %s, %s, %s, %s, 'scheduled')",
                rows,
            )
    lo_all = datetime.combine(old_days[-1], time.min, zone)
    hi_all = datetime.combine(today + timedelta(days=1), time.min, zone)
    read = (
        "SELECT count(*), sum(value), string_agg(DISTINCT kind, ',') FROM readings_between(%s, %s)"
    )
    with psycopg.connect(url) as conn:
        before = conn.execute(read, (lo_all, hi_all)).fetchone()
    assert before == (len(rows), sum(r[3] for r in rows), "event,interval")

    migrate(url)  # 0910: the yearly partition is cut
    cut = datetime.combine(datetime.now(UTC).date() + timedelta(days=2), time.min, UTC)
    with psycopg.connect(url) as conn:
        bounds = {n: (lo, hi) for n, lo, hi in partition_bounds(conn)}
        assert conn.execute(read, (lo_all, hi_all)).fetchone() == before
    assert bounds == {f"readings_y{year}": (datetime(year, 1, 1, tzinfo=UTC), cut)}
    # the days after the cut get daily partitions: the first from the cut on
    cut_day = cut.astimezone(zone).date()
    with psycopg.connect(url) as conn:
        ensure_partitions(conn, {cut_day, cut_day + timedelta(days=1)}, tz)
        bounds = {n: (lo, hi) for n, lo, hi in partition_bounds(conn)}
    nxt = datetime.combine(cut_day + timedelta(days=1), time.min, zone)
    assert bounds[f"readings_d{cut_day:%Y%m%d}"] == (cut, nxt)
    assert bounds[f"readings_d{cut_day + timedelta(days=1):%Y%m%d}"] == (
        nxt,
        datetime.combine(cut_day + timedelta(days=2), time.min, zone),
    )
    # compaction empties the old days; once the edge passes the cut, the yearly partition
    # (now empty) is dropped, the later daily ones stay
    with psycopg.connect(url, autocommit=True) as conn:
        res = compact(conn, today - timedelta(days=1), tz)
        assert res is not None and res.residue == 96 * 3
        assert conn.execute(f"SELECT count(*) FROM readings_y{year}").fetchone() == (0,)
        dropped = drop_emptied(conn, cut, ZONE_LOCK)
        assert dropped == [f"readings_y{year}"]
        left = [n for n, _, _ in partition_bounds(conn)]
        assert conn.execute(read, (lo_all, hi_all)).fetchone() == before
    assert left == sorted(f"readings_d{d:%Y%m%d}" for d in (cut_day, cut_day + timedelta(days=1)))
