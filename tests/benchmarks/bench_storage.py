"""Storage benchmark (issue 20), one run on PostgreSQL and TimescaleDB: readings arrive
slot by slot as gateways send them (every meter's 4 interval quantities of one 15-minute
slot in one store() call; 5 daily-freeze registers per meter after midnight; a clock
check and two events per meter at 03:00, which compaction moves to the residue table), and a
nightly compaction (hot window ``--hot-days``) moves each closed day into the compact
history, as the server's job does. Measured:

- bytes on disk per stored reading: the growth of the whole database
  (``pg_database_size``: every table and index, hot and compact readings, freezes, the
  check queue) over the days after the warm-up, divided by the readings stored in them;
  both measuring points are right after a nightly compaction, so the hot window is the same
  size at both (it is reported apart: a fixed cost, not a per-reading one);
- the hot table's cost per reading before any compaction (the warm-up's first days);
- compaction throughput: readings moved per second of wall time, and per CPU second of the
  compacting process plus its database backend where /proc shows the backend;
- a meter's curve through the API (the app in-process, one HTTP request each): 30 days,
  7 days and 1 day, median and 95th percentile, at half the history and at the end;
- the failed list's page (up to 1,000 meters, each with its last good reading) for the
  day after the last (every meter failed; last good readings in the hot table) and for a
  compacted day whose freezes are removed for the measurement (a rolled-back
  transaction: last good readings in the compact history).

Run: ``python -m tests.benchmarks.bench_storage [--meters 1000] [--days 20]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.checks import completeness
from server.db.compact import compact
from server.ingest.store import Batch, store
from server.settings import Settings
from tests.benchmarks.bench_ingest import fresh_db
from tests.server.helpers import auth_headers

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
SLOT = timedelta(minutes=15)
INTERVAL_QUANTITIES = ("energy_import_total", "power_active_total", "voltage_a", "current_a")
FREEZE_QUANTITIES = ("energy_import_total", *(f"energy_import_t{i}" for i in range(1, 5)))


def setup_meters(url: str, meters: int) -> list[str]:
    ids = [f"M{m:07d}" for m in range(meters)]
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO areas (id, name) VALUES ('A1', 'A1')")
        conn.execute("INSERT INTO gateways (id, name, area_id) VALUES ('gw-b', 'b', 'A1')")
        with conn.cursor().copy(
            "COPY meters (id, address, protocol, gateway_id, area_id, installed_on) FROM STDIN"
        ) as cp:
            for i, m in enumerate(ids):
                cp.write_row((m, f"{i:012d}", "dlt645-2007", "gw-b", "A1", "2025-01-01"))
    return ids


def db_size(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM")
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


def hot_size(url: str) -> int:
    """Bytes of the hot table, its chunks or partitions and their indexes."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "WHERE c.relkind IN ('r', 'p') AND (c.relname = 'readings' OR c.oid IN ("
            " SELECT inhrelid FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
            " WHERE p.relname = 'readings'))"
        ).fetchone()
    return int(row[0]) if row else 0


class Day:
    """One day's readings of every meter, slot by slot, with plausible registers."""

    def __init__(self, ids: list[str], d: date, n: int) -> None:
        self.ids, self.d, self.n = ids, d, n
        self.start = datetime.combine(d, datetime.min.time(), ZONE).astimezone(UTC)

    def slot_rows(self, k: int) -> list[tuple[Any, ...]]:
        ts = self.start + k * SLOT
        rows = []
        for i, m in enumerate(self.ids):
            base = (i * 37) % 5000 + self.n * 9.6 + k * 0.1
            rows.append((m, "energy_import_total", ts, round(base, 2), "interval", "scheduled", ()))
            p = round(0.4 + ((i + k) % 17) * 0.0123, 4)
            rows.append((m, "power_active_total", ts, p, "interval", "scheduled", ()))
            v = round(219.0 + ((i * 3 + k) % 31) * 0.1, 1)
            rows.append((m, "voltage_a", ts, v, "interval", "scheduled", ()))
            c = round(1.0 + ((i + 2 * k) % 23) * 0.037, 3)
            rows.append((m, "current_a", ts, c, "interval", "scheduled", ()))
        return rows

    def residue_rows(self) -> list[tuple[Any, ...]]:
        """What compaction cannot encode, a realistic share: each meter's daily clock check
        (03:00:07) and two events (a cover-open count and a power-down count, off the
        15-minute grid)."""
        rows = []
        clock = self.start + timedelta(hours=3, seconds=7)
        for i, m in enumerate(self.ids):
            rows.append((m, "clock_offset", clock, float(i % 9 - 4), "clock", "scheduled", ()))
            at = self.start + timedelta(hours=3, minutes=1, seconds=i % 60)
            rows.append((m, "cover_open_count", at, float(self.n), "event", "scheduled", ()))
            rows.append((m, "power_down_count", at, float(self.n + i % 3), "event",
                         "scheduled", ()))  # fmt: skip
        return rows

    def freeze_rows(self) -> list[tuple[Any, ...]]:
        ts = self.start + timedelta(days=1)  # local 00:00 of the next day
        rows = []
        for i, m in enumerate(self.ids):
            total = round((i * 37) % 5000 + (self.n + 1) * 9.6, 2)
            rows.append((m, "energy_import_total", ts, total, "freeze", "scheduled", ()))
            for t, share in zip(FREEZE_QUANTITIES[1:], (0.1, 0.3, 0.4, 0.2), strict=True):
                rows.append((m, t, ts, round(total * share, 2), "freeze", "scheduled", ()))
        return rows


def put(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> None:
    b = Batch()
    b.add_rows("gw-b", f"b{time.monotonic_ns()}", rows)
    res = store(conn, b, tz=TZ)
    assert res.inserted == len(rows), res


def cpu_of(pid: int) -> float | None:
    """CPU seconds of a local process (the database backend), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def curve_times(client: TestClient, headers: dict[str, str], ids: list[str], end: datetime,
                days: int, n: int = 200) -> tuple[float, float, int]:  # fmt: skip
    rnd = random.Random(7)
    times, points = [], 0
    start = end - timedelta(days=days)
    for _ in range(n):
        m = rnd.choice(ids)
        t = time.perf_counter()
        r = client.get(
            f"/api/meters/{m}/curve",
            params={"start": start.isoformat(), "end": end.isoformat(), "limit": 100_000},
            headers=headers,
        )
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text
        points = len(r.json()["points"])
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95)] * 1000, points


def failed_times(conn: psycopg.Connection[Any], day: date, meters: int, drop: bool,
                 n: int = 5) -> tuple[float, int, str]:  # fmt: skip
    """Median ms of the failed list's first page for ``day`` (its freezes removed inside
    a rolled-back transaction with ``drop``), its rows, and the first row's last good kind."""
    times, rows = [], []
    for _ in range(n):
        with conn.transaction(force_rollback=True):
            if drop:
                conn.execute("DELETE FROM daily_freeze WHERE data_date = %s", (day,))
            t = time.perf_counter()
            rows = completeness.failed_meters(conn, day, tz=TZ, limit=min(meters, 1000))
            times.append(time.perf_counter() - t)
    kind = str(rows[0]["last_good_kind"]) if rows else "-"
    return statistics.median(times) * 1000, len(rows), kind


def bench(url: str, label: str, meters: int, days: int, hot_days: int, warm: int) -> None:
    ids = setup_meters(url, meters)
    today = datetime.now(ZONE).date()
    first = today - timedelta(days=days + 2)
    all_days = [Day(ids, first + timedelta(days=n), n) for n in range(days)]
    base = db_size(url)
    stored = 0
    ingest_s = 0.0
    moved, compact_wall, compact_cpu, cpu_known = 0, 0.0, 0.0, True
    hot_per_reading = None
    warm_size = warm_stored = warm_hot = 0
    mqtt = os.environ.get("METERLINK_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    tmp = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    app = create_app(
        Settings(
            database_url=url,
            mqtt_url=mqtt,
            data_dir=tmp,
            auth_secret="bench-secret-bench-secret-bench-secret",
            jobs_enabled=False,
            ingest_enabled=False,
        ),
        services=[],
    )
    curves: dict[str, tuple[float, float, int]] = {}
    with TestClient(app) as client, psycopg.connect(url) as conn:
        headers = auth_headers(client, "viewer", url)
        for n, day in enumerate(all_days):
            t = time.perf_counter()
            for k in range(96):
                rows = day.slot_rows(k)
                put(conn, rows)
                stored += len(rows)
                if k == 12:  # 03:00: the clock checks and events of the night
                    rows = day.residue_rows()
                    put(conn, rows)
                    stored += len(rows)
            put(conn, day.freeze_rows())
            stored += meters * len(FREEZE_QUANTITIES)
            ingest_s += time.perf_counter() - t
            if n + 1 == hot_days:  # the hot window is full: the hot table's own cost
                hot_per_reading = (db_size(url) - base) / stored
            # the nightly run after day n closes (today = day n + 1), as the job does it:
            # the days before today - hot_days go
            before = day.d + timedelta(days=1) - timedelta(days=hot_days)
            if n + 1 >= hot_days:
                with psycopg.connect(url, autocommit=True) as cc:
                    pid = cc.info.backend_pid
                    b0, p0, w0 = cpu_of(pid), time.process_time(), time.perf_counter()
                    res = compact(cc, before, TZ)
                    w1, p1, b1 = time.perf_counter(), time.process_time(), cpu_of(pid)
                assert res is not None
                moved += res.readings
                compact_wall += w1 - w0
                if b0 is None or b1 is None:
                    cpu_known = False
                else:
                    compact_cpu += (p1 - p0) + (b1 - b0)
            if n + 1 == warm:
                warm_size, warm_stored = db_size(url), stored
                warm_hot = hot_size(url)
            if n + 1 == days // 2:
                curves["30 d, half the history"] = curve_times(
                    client, headers, ids, day.start + timedelta(days=1), 30
                )
        end = all_days[-1].start + timedelta(days=1)
        for span in (30, 7, 1):
            curves[f"{span} d"] = curve_times(client, headers, ids, end, span)
        conn.commit()
        failed = {
            "day after the last (hot)": failed_times(
                conn, all_days[-1].d + timedelta(1), meters, False
            ),
            "a compacted day": failed_times(conn, all_days[days // 2].d, meters, True),
        }
    final = db_size(url)
    hot = hot_size(url)
    with psycopg.connect(url) as conn:
        rel = conn.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relname IN "
            "('readings_compact', 'daily_freeze', 'check_queue', 'quantity_keys', "
            "'readings_cold', 'meter_events')"
        ).fetchall()
        cold = conn.execute("SELECT count(*) FROM readings_cold").fetchone()
        parts = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'readings'::regclass"
        ).fetchone()
        compact_rows = conn.execute("SELECT count(*) FROM readings_compact").fetchone()
    per = (final - warm_size) / (stored - warm_stored)
    print(f"{label}: {meters:,} meters x {days} days, {stored:,} readings stored "
          f"({meters * 4 * 96:,} interval + {meters * 5:,} freeze + {meters * 3:,} residue "
          f"(clock checks, events) a day), hot window "
          f"{hot_days} days")  # fmt: skip
    print(f"  ingest slot by slot with store(): {stored / ingest_s:,.0f} readings/s")
    print(f"  hot table only (first {hot_days} days, before any compaction): "
          f"{hot_per_reading:.1f} B/reading")  # fmt: skip
    print(
        f"  after compaction, days {warm + 1}-{days}: {final - warm_size:,} B for "
        f"{stored - warm_stored:,} readings = {per:.2f} B/reading [goal <= 12: "
        f"{'ok' if per <= 12 else 'OVER'}]"
    )
    n_rows = compact_rows[0] if compact_rows else 0
    hist = (final - hot) - (warm_size - warm_hot)
    print(f"  the same without the hot table (its window is a fixed cost whose size moves as "
          f"chunks fill and empty): {hist:,} B = {hist / (stored - warm_stored):.2f} "
          f"B/reading")  # fmt: skip
    print(f"  whole history: database grew {final - base:,} B for {stored:,} readings = "
          f"{(final - base) / stored:.2f} B/reading (hot window included); hot table "
          f"{warm_hot:,} B after the warm-up, {hot:,} B now; {dict(rel)}; "
          f"{n_rows:,} compact rows")  # fmt: skip
    sizes: dict[str, int] = {str(k): int(v) for k, v in rel}
    n_cold = cold[0] if cold else 0
    if n_cold:
        print(f"  residue: {n_cold:,} readings in readings_cold, {sizes['readings_cold']:,} B "
              f"= {sizes['readings_cold'] / n_cold:.0f} B each (meter_events, holding the "
              f"hot window's events, {sizes['meter_events']:,} B); hot partitions or chunks left: "
              f"{parts[0] if parts else 0}")  # fmt: skip
    cpu = f"{moved / compact_cpu:,.0f} readings per CPU second" if cpu_known else "CPU n/a"
    print(f"  compaction: {moved:,} readings in {compact_wall:.1f} s = "
          f"{moved / compact_wall:,.0f} readings/s wall; {cpu} (client + backend)")  # fmt: skip
    for k, (med, p95, pts) in curves.items():
        ok = "ok" if med <= 50 else "OVER"
        print(f"  curve {k}: median {med:.1f} ms, p95 {p95:.1f} ms, {pts} points [{ok}]")
    for k, (med, rows, kind) in failed.items():
        print(f"  failed list, {k}: median {med:.1f} ms for {rows} meters (last good: {kind})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meters", type=int, default=1000)
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--hot-days", type=int, default=2)
    ap.add_argument("--warm", type=int, default=6, help="days before the measured ones")
    ap.add_argument("--only", choices=("postgres", "timescale"))
    args = ap.parse_args(argv)
    targets = []
    if args.only != "timescale":
        targets.append(("PostgreSQL", os.environ["METERLINK_TEST_PG_URL"]))
    if args.only != "postgres" and os.environ.get("METERLINK_TEST_TIMESCALE_URL"):
        targets.append(("TimescaleDB", os.environ["METERLINK_TEST_TIMESCALE_URL"]))
    for label, admin in targets:
        url = fresh_db(admin, f"bench_storage_{label.lower()}")
        bench(url, label, args.meters, args.days, args.hot_days, args.warm)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
