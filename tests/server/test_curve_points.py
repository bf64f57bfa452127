"""The curve facts (``curve_points``, migration 0940; :mod:`server.db.curve_points`) equal
the count of the readings after every kind of write ingestion does to a counted day: new
points stored by direct COPY, repeats and conflicts through the merge, late points merged
into compact rows and into the residue table, other quantities, days not counted, and a
count running while ingestion stores the same day. The day reports, curve completeness,
the curve re-read list and the drill-down give the same answers from the facts as from a
live count; the nightly job counts closed days and recounts the latest ones (which repairs
what a hand-written INSERT added); retention drops the facts with the days. Both database
flavours (the ``migrated`` fixture)."""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from server.checks import completeness
from server.context import AppContext
from server.db import curve_points
from server.db.compact import compact
from server.db.partitions import drop_old
from server.db.pool import open_pool
from server.db.queries import reports
from server.ingest.store import Batch, store
from server.jobs import JobsService

from .conftest import settings_for
from .helpers import add_meters
from .test_checks_isolation import FixedClock

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
SLOT = timedelta(minutes=15)
TODAY = datetime.now(ZONE).date()
DAY = TODAY - timedelta(days=2)  # hot, closed, within the nightly recount and curve history
OLD = TODAY - timedelta(days=20)  # compacted
ENERGY = "energy_import_total"
METERS_A = [f"P{i}" for i in range(5)]
METERS_B = [f"Q{i}" for i in range(5)]
METERS = METERS_A + METERS_B


def day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, ZONE).astimezone(UTC)


def points(
    meter: str, d: date, slots: list[int], *, quantity: str = ENERGY, source: str = "scheduled"
) -> list[tuple[Any, ...]]:
    t0 = day_start(d)
    return [
        (meter, quantity, t0 + k * SLOT, round(100 + k * 0.25, 2), "interval", source, ())
        for k in slots
    ]


def put(url: str, rows: list[tuple[Any, ...]]) -> int:
    with psycopg.connect(url) as conn:
        b = Batch()
        b.add_rows("gw-1" if rows[0][0].startswith("P") else "gw-2", "b", rows)
        res = store(conn, b, tz=TZ)
        assert res.quarantined == 0
        return res.inserted


def archive(url: str) -> None:
    add_meters(url, [{"id": m, "address": f"1{i:011d}"} for i, m in enumerate(METERS_A)])
    add_meters(
        url,
        [
            {"id": m, "address": f"2{i:011d}", "protocol": "dlt698" if i % 2 else "dlt645-2007"}
            for i, m in enumerate(METERS_B)
        ],
        gateway="gw-2",
        area="A2",
    )


def live(conn: psycopg.Connection[Any], d: date) -> dict[str, int]:
    return dict(
        conn.execute(
            "SELECT meter_id, count(*) FROM readings_between(%s, %s) "
            "WHERE quantity = %s AND kind = 'interval' GROUP BY 1",
            (day_start(d), day_start(d + timedelta(days=1)), ENERGY),
        ).fetchall()
    )


def facts(conn: psycopg.Connection[Any], d: date) -> dict[str, int]:
    return dict(
        conn.execute("SELECT meter_id, n FROM curve_points WHERE data_date = %s", (d,)).fetchall()
    )


def marked(conn: psycopg.Connection[Any]) -> set[date]:
    return {r[0] for r in conn.execute("SELECT data_date FROM curve_point_days")}


def answers(conn: psycopg.Connection[Any], d: date) -> list[Any]:
    """Everything a clerk reads of the day's curves."""
    groups = ("all", "area", "gateway", "protocol", "org")
    rows, total = reports.group_meters(
        conn, d, d, by="all", key=None, read=None, curves_tz=TZ, limit=100, offset=0
    )
    return [
        completeness.period_report(conn, d, d, groups, detail=True, curves_tz=TZ),
        completeness.curve_completeness(conn, d, TZ, "area", today=TODAY),
        completeness.curve_completeness(conn, d, TZ, "protocol", today=TODAY),
        completeness.rereadable_curves(conn, d, TZ, today=TODAY),
        (rows, total),
    ]


def same_from_facts_and_live(url: str, *days: date) -> None:
    with psycopg.connect(url) as conn:
        for d in days:
            assert d in marked(conn)
            assert facts(conn, d) == live(conn, d), d
            from_facts = answers(conn, d)
            with conn.transaction():
                conn.execute("DELETE FROM curve_point_days WHERE data_date = %s", (d,))
                from_live = answers(conn, d)
                conn.execute(
                    "INSERT INTO curve_point_days (data_date, tz) VALUES (%s, %s)", (d, TZ)
                )
            assert from_facts == from_live, d
            total = sum(live(conn, d).values())
            assert sum(r["points"] for r in from_live[1]) == total
            assert from_live[0]["all"][0]["curve_points"] == total


def test_facts_equal_the_readings_after_every_kind_of_write(migrated: str) -> None:
    url = migrated
    archive(url)
    rng = random.Random(19)
    # partial curves with gaps on both days, and another quantity beside them
    first = []
    for m in METERS:
        for d in (DAY, OLD):
            first += points(m, d, sorted(rng.sample(range(96), rng.randint(0, 60))))
        first += points(m, DAY, list(range(0, 96, 4)), quantity="power_active_total")
    for m in METERS:
        put(url, [r for r in first if r[0] == m])
    with psycopg.connect(url, autocommit=True) as conn:
        assert compact(conn, OLD + timedelta(days=1), TZ) is not None
        before = answers(conn, DAY)
        assert curve_points.count_day(conn, DAY, TZ) == len(live(conn, DAY))
        curve_points.count_day(conn, OLD, TZ)
        assert answers(conn, DAY) == before  # the same answers, now from the facts
    same_from_facts_and_live(url, DAY, OLD)

    # new points only: the direct COPY
    with psycopg.connect(url) as conn:
        have = {
            (m, ts) for m, ts in conn.execute("SELECT meter_id, ts FROM readings_between(%s, %s)"
                                              " WHERE quantity = %s",
                                              (day_start(DAY), day_start(TODAY), ENERGY))
        }  # fmt: skip
    new = [r for m in METERS_A for r in points(m, DAY, list(range(96))) if (m, r[2]) not in have]
    assert put(url, new[:50]) == 50
    same_from_facts_and_live(url, DAY)
    # repeats, a conflicting value and new points together: the merge
    again = new[:80]
    again[3] = (*again[3][:3], 999.0, *again[3][4:])  # differs from the stored value
    assert put(url, again) == 30
    same_from_facts_and_live(url, DAY)
    # late points of the compacted day: into compact rows, and one off the quarter hours
    # into the residue table; with repeats
    late = [r for m in METERS_B for r in points(m, OLD, list(range(0, 96, 3)), source="backfill")]
    off = (METERS_B[0], ENERGY, day_start(OLD) + timedelta(minutes=7), 1.5, "interval",
           "reread", ())  # fmt: skip
    put(url, [*late, off])
    put(url, late[:10])
    same_from_facts_and_live(url, DAY, OLD)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM readings_cold").fetchone() == (1,)
    # today is not counted: its points are counted live; other quantities change nothing
    put(url, points(METERS_A[0], TODAY, [0, 1, 2]))
    put(url, points(METERS_A[1], DAY, list(range(96)), quantity="voltage_a"))
    with psycopg.connect(url) as conn:
        assert TODAY not in marked(conn) and facts(conn, TODAY) == {}
        got = completeness.curve_completeness(conn, TODAY, TZ, "area")
        assert sum(r["points"] for r in got) == 3
    same_from_facts_and_live(url, DAY, OLD)

    # a reading written by hand (outside ingestion) is seen once the nightly job recounts
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO readings (meter_id, quantity, ts, value, kind, source) "
            "VALUES (%s, %s, %s, 1, 'interval', 'manual')",
            (METERS_A[0], ENERGY, day_start(DAY) + timedelta(minutes=1)),
        )
        conn.commit()
        assert facts(conn, DAY) != live(conn, DAY)
        conn.commit()
        done = curve_points.count_closed_days(conn, TODAY, TZ)
        # the unmarked closed days of the look-back, newest first, and the last two again
        assert str(DAY) in done and str(TODAY - timedelta(days=1)) in done
        assert str(TODAY) not in done and len(done) == 14 + 1
        assert facts(conn, DAY) == live(conn, DAY)
        conn.commit()
    same_from_facts_and_live(url, DAY, OLD)

    # retention: the days beginning before the cutoff lose their mark and facts
    with psycopg.connect(url) as conn:
        with conn.transaction():
            dropped = drop_old(conn, 15, datetime.now(UTC))
        assert any(x.startswith("curve_points:") for x in dropped)
        assert OLD not in marked(conn) and facts(conn, OLD) == {}
        assert DAY in marked(conn)


def test_counting_beside_ingestion_misses_and_doubles_nothing(migrated: str) -> None:
    """Batches of new points and of repeats (direct COPY and merge) for a counted day
    while the day is counted again and again: every point in the facts once."""
    url = migrated
    archive(url)
    put(url, [r for m in METERS_A for r in points(m, DAY, [0])])
    with psycopg.connect(url, autocommit=True) as conn:
        curve_points.count_day(conn, DAY, TZ)
    batches = [
        [r for m in METERS_A for r in points(m, DAY, list(range(k, k + 4)))]
        for k in range(1, 93, 4)
    ]
    errors: list[BaseException] = []
    stop = threading.Event()

    def ingest() -> None:
        try:
            for i, b in enumerate(batches):
                put(url, b)
                if i % 3 == 2:
                    put(url, batches[i - 1] + b[:2])  # repeats: the merge path
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            stop.set()

    th = threading.Thread(target=ingest)
    th.start()
    counts = 0
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            curve_points.count_day(conn, DAY, TZ)
            counts += 1
    th.join()
    assert not errors and counts >= 1
    with psycopg.connect(url) as conn:
        assert facts(conn, DAY) == live(conn, DAY) == {m: 93 for m in METERS_A}


def test_count_needs_its_own_transaction(migrated: str) -> None:
    """The lock a count holds ends with the count's transaction: inside a caller's open
    one it would be held to its end, so that is refused with a clear error."""
    with psycopg.connect(migrated) as conn:
        conn.execute("SELECT 1")
        try:
            curve_points.count_day(conn, DAY, TZ)
        except RuntimeError as exc:
            assert "outside a transaction" in str(exc)
        else:
            raise AssertionError("count_day ran inside an open transaction")


def test_a_count_waits_for_the_ingestion_in_flight(migrated: str) -> None:
    """An ingestion transaction storing points holds the facts' lock until it ends: a
    count meanwhile waits (here: gives up after its lock timeout, changing nothing). Were
    it not to wait, it would mark the day without the points in flight, and nobody would
    add them (the transaction found the day unmarked)."""
    url = migrated
    archive(url)
    put(url, points(METERS_A[0], DAY, [0, 1]))
    with psycopg.connect(url) as ingest, psycopg.connect(url, autocommit=True) as other:
        ingest.execute("SELECT 1")  # a transaction the store below runs inside
        b = Batch()
        b.add_rows("gw-1", "b", points(METERS_A[0], DAY, [5, 6]) + points("P1", DAY, [7]))
        assert store(ingest, b, tz=TZ).inserted == 3
        with pytest.raises(psycopg.errors.LockNotAvailable):
            curve_points.count_day(other, DAY, TZ, lock_timeout_ms=200)
        assert DAY not in marked(other) and facts(other, DAY) == {}
        ingest.commit()
        curve_points.count_day(other, DAY, TZ)
        assert facts(other, DAY) == live(other, DAY) == {METERS_A[0]: 4, "P1": 1}


def test_the_nightly_job_counts_through_run_locked(migrated: str, tmp_path: Path) -> None:
    """The scheduled job (JobsService.curve_points) counts on a pool connection and keeps
    what it counted; its run is recorded."""
    url = migrated
    archive(url)
    put(url, points(METERS_A[0], DAY, [0, 1, 2]) + points(METERS_A[1], DAY, [3]))
    pool = open_pool(url)
    now = datetime.combine(TODAY, time(0, 7), ZONE)
    ctx = AppContext(settings_for(url, "mqtt://127.0.0.1:9", tmp_path), pool, FixedClock(now), "")
    try:
        done = JobsService(ctx).curve_points()
    finally:
        pool.close()
    assert done[str(DAY)] == 2 and str(TODAY) not in done
    with psycopg.connect(url) as conn:
        assert facts(conn, DAY) == {METERS_A[0]: 3, METERS_A[1]: 1}
        runs = conn.execute("SELECT job, outcome FROM job_runs").fetchall()
    assert runs == [("curve_points", "ok")]
