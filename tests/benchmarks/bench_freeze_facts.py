"""Benchmark: what keeping the collection facts (``collection_month``, migration 0930) costs
the storing of daily freezes, against the same storing with the facts' triggers switched off,
in one run (issue 19, scale).

    python -m tests.benchmarks.bench_freeze_facts [--meters 20000] [--days 6]

A new database per flavour with ``--meters`` meters; each day's freezes (forward active
total and the four tariffs, five rows a meter, as a gateway sends them after midnight) are
stored through the ingest path's ``store()`` in batches of 2,000 rows, on alternate days
with the triggers on and off (the first day on each side is a warm-up). Prints freeze rows
per second both ways and their ratio, on plain PostgreSQL (``--database-url``) and
TimescaleDB (``--timescale-url`` or ``METERLINK_TEST_TIMESCALE_URL``); each run's database is
dropped afterwards. Checks on the way that the facts equal the freezes stored with the
triggers on.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from server.db.migrate import migrate
from server.ingest.store import Batch, store

TZ = "Asia/Shanghai"
BATCH = 2000
QUANTITIES = ("energy_import_total", "energy_import_t1", "energy_import_t2")
QUANTITIES += ("energy_import_t3", "energy_import_t4")


def day_rows(meters: int, d: date) -> list[tuple[Any, ...]]:
    ts = datetime.combine(d + timedelta(days=1), datetime.min.time(), ZoneInfo(TZ))
    ts = ts.astimezone(UTC)
    return [
        (f"M{i}", q, ts, 1000.0 + i + k, "freeze", "scheduled", ())
        for i in range(meters)
        for k, q in enumerate(QUANTITIES)
    ]


def store_day(url: str, meters: int, d: date, gateways: dict[str, str]) -> float:
    """Seconds of CPU-bound wall time to store ``d``'s freezes, batch by batch, committed."""
    rows = day_rows(meters, d)
    with psycopg.connect(url) as conn:
        t0 = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            b = Batch()
            chunk = rows[i : i + BATCH]
            b.add_rows(gateways[chunk[0][0]], f"b{d}{i}", chunk)
            store(conn, b, tz=TZ)
            conn.commit()
        return time.perf_counter() - t0


def run(admin_url: str, label: str, meters: int, days: int) -> None:
    name = f"mlbench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    try:
        migrate(url)
        with psycopg.connect(url) as conn:
            conn.execute("INSERT INTO areas (id, name) VALUES ('A', 'A')")
            conn.execute("INSERT INTO gateways (id, name, area_id) VALUES ('G', 'G', 'A')")
            conn.execute(
                "INSERT INTO meters (id, address, protocol, gateway_id, area_id, installed_on) "
                "SELECT 'M' || i, lpad(i::text, 12, '0'), 'dlt645-2007', 'G', 'A', '2025-01-01' "
                "FROM generate_series(0, %s - 1) i",
                (meters,),
            )
            conn.commit()
        gateways = {f"M{i}": "G" for i in range(meters)}
        last = datetime.now(ZoneInfo(TZ)).date() - timedelta(days=1)
        on: list[float] = []
        off: list[float] = []
        for k in range(days):
            d = last - timedelta(days=days - k)
            with_triggers = k % 2 == 0
            with psycopg.connect(url, autocommit=True) as conn:
                verb = "ENABLE" if with_triggers else "DISABLE"
                conn.execute(f"ALTER TABLE daily_freeze {verb} TRIGGER USER")
            t = store_day(url, meters, d, gateways)
            (on if with_triggers else off).append(t)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ALTER TABLE daily_freeze ENABLE TRIGGER USER")
            facts = conn.execute(
                "SELECT coalesce(sum(bit_count(read_bits::bit(32))), 0) FROM collection_month"
            ).fetchone()
        stored_on = meters * len(on)
        assert facts is not None and int(facts[0]) == stored_on, (facts, stored_on)
        per_day = meters * len(QUANTITIES)
        # the first day of each side warms the caches; the rest are timed
        r_on = per_day * (len(on) - 1) / sum(on[1:])
        r_off = per_day * (len(off) - 1) / sum(off[1:])
        print(
            f"{label}: {meters:,} meters, {per_day:,} freeze rows a day, {len(on) - 1} + "
            f"{len(off) - 1} days timed: with the facts {r_on:,.0f} rows/s, without "
            f"{r_off:,.0f} rows/s (ratio {r_on / r_off:.2f}); load average "
            f"{os.getloadavg()[0]:.1f}"
        )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meters", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=6, help="days stored, alternately on and off")
    ap.add_argument(
        "--database-url",
        default=os.environ.get(
            "METERLINK_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    ap.add_argument("--timescale-url", default=os.environ.get("METERLINK_TEST_TIMESCALE_URL"))
    args = ap.parse_args(argv)
    if args.days < 4:
        ap.error("--days: at least 4 (a warm-up and a timed day on each side)")
    run(args.database_url, "PostgreSQL", args.meters, args.days)
    if args.timescale_url:
        run(args.timescale_url, "TimescaleDB", args.meters, args.days)
    else:
        print("TimescaleDB: skipped (no --timescale-url / METERLINK_TEST_TIMESCALE_URL)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
