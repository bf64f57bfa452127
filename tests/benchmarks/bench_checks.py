"""Benchmark: the day's success-rate report, failed list and anomaly scan at utility scale.

    python -m tests.benchmarks.bench_checks                      # 1,000,000 meters
    python -m tests.benchmarks.bench_checks --meters 100000      # a quicker look

An archive of ``--meters`` meters (64 per transformer area and concentrator, a mix of
classes and phases, contracts) and their daily-freeze registers (total, four tariffs,
export) for the data date D and the day before are generated inside the database (what the
ingest path writes to ``daily_freeze``); 2 % of the meters have no reading for D, 0.1 % run
backwards, 0.1 % have tariffs that do not add up. Then, as the API does them:

* the report: success rate for the organisation and by area, concentrator, protocol and
  customer class, and the complete failed-meter list with reasons (target <= 10 s);
* the anomaly scan over those meter-days (every rule, findings written; target <= 60 s);

on plain PostgreSQL (``--database-url``, default the local server) and on TimescaleDB
(``--timescale-url`` or ``METERLINK_TEST_TIMESCALE_URL``). Each run uses a new database
and drops it afterwards. Figures go to the README's benchmark table.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import date, timedelta
from typing import Any

import psycopg

from server.checks import completeness, rules
from server.db.migrate import migrate

D = date(2026, 11, 10)
TZ = "Asia/Shanghai"

ARCHIVE = """
INSERT INTO areas (id, name) SELECT 'A' || a, 'area ' || a
  FROM generate_series(0, %(areas)s - 1) a;
INSERT INTO gateways (id, name, area_id, online) SELECT 'G' || a, 'gw ' || a, 'A' || a, true
  FROM generate_series(0, %(areas)s - 1) a;
INSERT INTO meters (id, address, protocol, gateway_id, area_id, customer_class, phases,
                    rated_voltage, rated_current, contracted_kw, is_area_master, installed_on)
SELECT 'M' || i, lpad(i::text, 12, '0'),
       CASE WHEN i % 50 = 0 THEN 'modbus' ELSE 'dlt645-2007' END,
       'G' || (i / 64), 'A' || (i / 64),
       (ARRAY['residential','residential','residential','commercial','industrial'])[i % 5 + 1],
       CASE WHEN i % 5 >= 3 THEN 3 ELSE 1 END, 220, 60, 10 + i % 40, i % 64 = 0, '2025-01-01'
FROM generate_series(0, %(meters)s - 1) i;
"""

# registers: a per-meter base and a daily use of 5..25 kWh; tariffs share the total. One
# statement per data date, the day before first: a day's freezes arrive together after its
# midnight, so on disk they sit together, as the ingest path writes them.
FREEZES = """
INSERT INTO daily_freeze (meter_id, data_date, quantity, value, freeze_ts, source)
SELECT 'M' || i, %(day)s::date, q.quantity,
       CASE q.quantity
         WHEN 'energy_export_total' THEN 0
         WHEN 'energy_import_total' THEN v
         ELSE round((v * q.share + CASE WHEN q.quantity = 'energy_import_t1'
                     AND i %% 1000 = 7 AND %(day)s::date = %(d)s THEN 30 ELSE 0 END)::numeric, 2)
       END,
       (%(day)s::date + 1)::timestamp AT TIME ZONE %(tz)s, 'scheduled'
FROM generate_series(0, %(meters)s - 1) i
CROSS JOIN LATERAL (SELECT CASE WHEN %(day)s::date = %(d)s AND i %% 1000 = 3
                                THEN 1000 + (i %% 997) * 10.0 - 40
                                ELSE 1000 + (i %% 997) * 10.0
                                     + (%(day)s::date - %(d)s + 1) * (5 + i %% 21) END AS v) x
CROSS JOIN (VALUES ('energy_import_total', 1.0), ('energy_import_t1', 0.1),
                   ('energy_import_t2', 0.3), ('energy_import_t3', 0.4),
                   ('energy_import_t4', 0.2), ('energy_export_total', 0.0)) q(quantity, share)
WHERE NOT (%(day)s::date = %(d)s AND i %% 50 = 1)
"""


def fresh_db(admin_url: str) -> tuple[str, str]:
    name = f"mlbench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, psycopg.conninfo.make_conninfo(admin_url, dbname=name)


def drop_db(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench(admin_url: str, label: str, meters: int) -> dict[str, Any]:
    name, url = fresh_db(admin_url)
    try:
        migrate(url)
        with psycopg.connect(url) as conn:
            t_load, _ = timed(
                lambda: (
                    conn.execute(
                        ARCHIVE.replace("%(areas)s", str(-(-meters // 64))).replace(
                            "%(meters)s", str(meters)
                        )
                    ),
                    [
                        conn.execute(FREEZES, {"meters": meters, "d": D, "day": day, "tz": TZ})
                        for day in (D - timedelta(days=1), D)
                    ],
                    conn.commit(),
                )
            )
            conn.commit()
            # what autovacuum has long done to a day's readings that arrived over the day:
            # hint bits set, visibility map built, statistics gathered
            conn.autocommit = True
            t_vacuum, _ = timed(lambda: conn.execute("VACUUM (FREEZE, ANALYZE)"))
            conn.autocommit = False
            rows = conn.execute("SELECT count(*) FROM daily_freeze").fetchone()

            def report() -> dict[str, Any]:
                out = completeness.report(conn, D)  # the five groupings, one pass
                failed = completeness.failed_meters(conn, D, limit=meters)
                return {"rate": out["all"][0], "failed": len(failed), "areas": len(out["area"])}

            t_report, rep = timed(report)
            t_scan, run = timed(lambda: rules.run_rules(conn, D, TZ))
            t_rescan, _ = timed(lambda: rules.run_rules(conn, D, TZ))
        return {
            "db": label,
            "meters": meters,
            "freeze_rows": rows[0] if rows else 0,
            "load_s": round(t_load, 1),
            "vacuum_s": round(t_vacuum, 1),
            "report_s": round(t_report, 2),
            "scan_s": round(t_scan, 2),
            "rescan_s": round(t_rescan, 2),
            "rate": rep["rate"],
            "failed": rep["failed"],
            "found": {k: v for k, v in run.found.items() if v},
            "failed_rules": run.failed,
        }
    finally:
        drop_db(admin_url, name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meters", type=int, default=1_000_000)
    ap.add_argument(
        "--database-url",
        default=os.environ.get(
            "METERLINK_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    ap.add_argument("--timescale-url", default=os.environ.get("METERLINK_TEST_TIMESCALE_URL"))
    ap.add_argument("--only", choices=("postgres", "timescale"), help="run one of the two targets")
    args = ap.parse_args(argv)
    targets = [] if args.only == "timescale" else [("PostgreSQL", args.database_url)]
    if args.only == "postgres":
        pass
    elif args.timescale_url:
        targets.append(("TimescaleDB", args.timescale_url))
    else:
        print("TimescaleDB: skipped (no --timescale-url / METERLINK_TEST_TIMESCALE_URL)")
    for label, url in targets:
        r = bench(url, label, args.meters)
        ok_r = "ok" if r["report_s"] <= 10 else "OVER"
        ok_s = "ok" if r["scan_s"] <= 60 else "OVER"
        print(
            f"{label}: {r['meters']:,} meters, {r['freeze_rows']:,} freeze rows "
            f"(generated in {r['load_s']} s, vacuumed in {r['vacuum_s']} s)"
        )
        print(
            f"  report (5 success-rate groupings + {r['failed']:,} failed meters): "
            f"{r['report_s']} s [{ok_r}, target 10 s]; rate {r['rate']['rate']}"
        )
        print(
            f"  anomaly scan: {r['scan_s']} s [{ok_s}, target 60 s]; again (updating "
            f"ongoing records): {r['rescan_s']} s; found {r['found']}, "
            f"failed rules {r['failed_rules'] or 'none'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
