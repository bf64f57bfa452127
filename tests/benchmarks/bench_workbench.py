"""Benchmark: every workbench page's data (issue 19) through the HTTP API at utility scale.

    python -m tests.benchmarks.bench_workbench                      # 100,000 meters
    python -m tests.benchmarks.bench_workbench --meters 20000 --only postgres

An archive of ``--meters`` meters is generated inside a new database: one supply company
with ten supply stations, transformer areas of 64 meters (one master each) shared out
between the stations, one concentrator per area (every 20th off line) with the status the
edge publishes (buses, a state per meter, the outbox), customers with names and accounts;
``--days`` days of daily freezes up to yesterday (2 % of the meters unread yesterday, half
of those asked again by a re-read and a quarter of those read back); the 96-point load
curve of yesterday for ``--curve-share`` of the meters; one anomaly per 100 meters. Then the
closed days' curve points are counted (what the nightly ``curve_points`` job does, timed:
ingestion of curve points waits for each day's count; ``--no-curve-facts`` leaves the days
uncounted, so every report counts them live, as before migration 0940), the
database is vacuumed (as autovacuum would have), the application is started on it (no
broker, no jobs) and each page's requests are timed through the HTTP stack, signed in as an
admin: the first call and the best of three. Goal: every page's data under 1 s. Runs on
plain PostgreSQL (``--database-url``) and TimescaleDB (``--timescale-url`` or
``METERLINK_TEST_TIMESCALE_URL``); each run's database is dropped afterwards. Figures go to
the README's benchmark table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.auth.users import create_user
from server.db.curve_points import count_closed_days
from server.db.migrate import migrate
from server.db.partitions import ensure_partitions
from server.settings import Settings

TZ = "Asia/Shanghai"
PASSWORD = "bench horse battery staple"
GOAL_S = 1.0

ARCHIVE = """
INSERT INTO org_units (id, name, parent_id, level) VALUES ('CO', '县供电公司', NULL, 'company');
INSERT INTO org_units (id, name, parent_id, level)
SELECT 'ST' || s, '供电所 ' || s, 'CO', 'station' FROM generate_series(0, 9) s;
INSERT INTO areas (id, name, org_unit_id) SELECT 'A' || a, '台区 ' || a, 'ST' || (a % 10)
  FROM generate_series(0, %(areas)s - 1) a;
INSERT INTO gateways (id, name, area_id, online, last_seen)
SELECT 'G' || a, '集中器 ' || a, 'A' || a, a % 20 <> 7, now() - interval '5 minutes'
  FROM generate_series(0, %(areas)s - 1) a;
-- the archive's own triggers write each meter's first concentrator stay (one statement)
INSERT INTO meters (id, address, protocol, gateway_id, bus, area_id, customer_class,
                    customer_name, customer_account, is_area_master, installed_on)
SELECT 'M' || i, lpad(i::text, 12, '0'),
       CASE WHEN i % 50 = 0 THEN 'modbus' WHEN i % 25 = 0 THEN 'dlt645-1997'
            ELSE 'dlt645-2007' END,
       'G' || (i / 64), 'rs485-' || (i % 2 + 1), 'A' || (i / 64),
       (ARRAY['residential','residential','residential','commercial','industrial'])[i % 5 + 1],
       '客户' || i, lpad((i * 7)::text, 10, '0'), i % 64 = 0, '2025-01-01'
FROM generate_series(0, %(meters)s - 1) i;
UPDATE areas a SET master_meter_id = 'M' || (substr(a.id, 2)::int * 64);
UPDATE gateways g SET status_at = now(), status = s.status FROM (
    SELECT m.gateway_id, jsonb_build_object(
        'gateway', m.gateway_id, 'online', true, 'ts', now(), 'version', '1.0',
        'buses', jsonb_build_array(
            jsonb_build_object('name', 'rs485-1', 'ok', true, 'transactions', 900,
                               'timeouts', 4, 'checksum_errors', 0, 'meters_ok', 31,
                               'meters_failing', 1, 'last_error', 'timeout'),
            jsonb_build_object('name', 'rs485-2', 'ok', true, 'transactions', 900,
                               'timeouts', 0, 'checksum_errors', 0, 'meters_ok', 32,
                               'meters_failing', 0, 'last_error', null)),
        'meters', jsonb_agg(jsonb_build_object(
            'meter', m.id,
            'state', CASE WHEN substr(m.id, 2)::int % 50 = 1 THEN 'failing' ELSE 'ok' END,
            'last_ok', now(),
            'last_error', CASE WHEN substr(m.id, 2)::int % 50 = 1 THEN 'timeout' END,
            'consecutive_failures', CASE WHEN substr(m.id, 2)::int % 50 = 1 THEN 3 ELSE 0 END)),
        'outbox', jsonb_build_object('depth', count(*) % 7, 'oldest_age_s', null,
                                     'dropped', 0)) AS status
    FROM meters m GROUP BY m.gateway_id) s
WHERE s.gateway_id = g.id;
"""

# Each day's forward-active registers, every day of the history in one statement: a
# per-meter base and 5..25 kWh a day; the masters register their area's sum and a little
# loss. Yesterday 2 % of the meters are unread; on each earlier day a rotating 0.5 %.
FREEZES = """
INSERT INTO daily_freeze (meter_id, data_date, quantity, value, freeze_ts, source)
SELECT 'M' || i, d::date, 'energy_import_total',
       CASE WHEN i % 64 = 0 THEN 100000 + (d::date - %(first)s + 1) * 64 * 16.5
            ELSE 1000 + (i % 997) * 10.0 + (d::date - %(first)s + 1) * (5 + i % 21) END,
       (d::date + 1)::timestamp AT TIME ZONE %(tz)s, 'scheduled'
FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d
CROSS JOIN generate_series(0, %(meters)s - 1) i
WHERE NOT (d::date = %(last)s AND i % 50 = 1)
  AND NOT (d::date < %(last)s AND i % 200 = (d::date - %(first)s) % 200)
"""

REREAD = """
INSERT INTO gateway_commands (id, gateway_id, name, status, requested_by)
SELECT 'bench-' || g.id, g.id, 'backfill', 'ok', 'reread-job' FROM gateways g;
INSERT INTO reread_requests (meter_id, data_date, gateway_id, command_id, requested_by,
                             missing_when_asked)
SELECT 'M' || i, %(last)s, 'G' || (i / 64), 'bench-G' || (i / 64), 'reread-job', true
FROM generate_series(0, %(meters)s - 1) i WHERE i % 100 = 1;
INSERT INTO daily_freeze (meter_id, data_date, quantity, value, freeze_ts, source)
SELECT 'M' || i, %(last)s, 'energy_import_total', 5000, now(), 'backfill'
FROM generate_series(0, %(meters)s - 1) i WHERE i % 200 = 1;
"""

# The 96-point curves of the report day and the day before (the previous period) for
# ``--curve-share`` of the meters; one meter in ten of those misses every 7th point.
CURVES = """
INSERT INTO readings (meter_id, quantity, ts, value, kind, source)
SELECT 'M' || i, 'energy_import_total',
       (%(day)s::date)::timestamp AT TIME ZONE %(tz)s + p * interval '15 minutes',
       1000 + p * 0.2, 'interval', 'scheduled'
FROM generate_series(0, %(curve_meters)s - 1) i CROSS JOIN generate_series(0, 95) p
WHERE NOT (i % 10 = 3 AND p % 7 = 0)
"""

ANOMALIES = """
INSERT INTO anomalies (rule, meter_id, area_id, first_date, last_date, evidence, status)
SELECT (ARRAY['zero_consumption','stopped','reverse_energy','spike'])[i % 4 + 1],
       'M' || i, 'A' || (i / 64), %(last)s::date - (i % 5), %(last)s, '{}'::jsonb,
       (ARRAY['open','open','confirmed','dismissed'])[i % 4 + 1]
FROM generate_series(5, %(meters)s - 1, 100) i;
"""

# An audit log of a working utility: an archive edit for every meter (through the chain
# trigger, as the application writes them).
AUDIT = """
INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)
SELECT now() - i * interval '1 minute', 'clerk' || (i % 20), 'update', 'meter', 'M' || i,
       jsonb_build_object('customer_name', '客户' || i),
       jsonb_build_object('customer_name', '客户' || i || ' 新')
FROM generate_series(0, %(meters)s - 1) i;
"""


def fresh_db(admin_url: str) -> tuple[str, str]:
    name = f"mlbench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, psycopg.conninfo.make_conninfo(admin_url, dbname=name)


def drop_db(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def history_days(last: date, days: int | None) -> int:
    """Days of freezes up to ``last``: ``days``, or by default enough for every page the UI
    shows: the previous month whole (the month report's previous period) and the 60 days
    of the report page's trend (its 30 days and the 30 before)."""
    if days is not None:
        if days < 1:
            raise ValueError(f"--days must be at least 1, not {days}")
        return days
    previous_month = (last.replace(day=1) - timedelta(days=1)).replace(day=1)
    return max((last - previous_month).days + 1, 61)


def generate(
    url: str, meters: int, days: int, curve_share: float, last: date, curve_facts: bool
) -> tuple[float, float | None]:
    """Generate the data; (seconds taken, seconds the nightly count of the closed days'
    curve points took, or None with ``curve_facts`` off)."""
    t0 = time.perf_counter()
    first = last - timedelta(days=days - 1)
    p = {
        "meters": meters,
        "areas": -(-meters // 64),
        "first": first,
        "last": last,
        "tz": TZ,
        "curve_meters": int(meters * curve_share),
    }
    with psycopg.connect(url) as conn:
        for sql in (ARCHIVE, REREAD, ANOMALIES, AUDIT, FREEZES):
            conn.execute(_bind(sql, p))
        ensure_partitions(conn, {last - timedelta(days=1), last, last + timedelta(days=1)}, TZ)
        for day in (last - timedelta(days=1), last):
            conn.execute(_bind(CURVES, {**p, "day": day}))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM (FREEZE, ANALYZE)")
        t_gen = time.perf_counter() - t0
        if not curve_facts:
            return t_gen, None
        t0 = time.perf_counter()
        count_closed_days(conn, last + timedelta(days=1), TZ)
        t_count = time.perf_counter() - t0
        conn.execute("VACUUM (ANALYZE) curve_points")
    return t_gen, t_count


def _bind(sql: str, p: dict[str, Any]) -> bytes:
    """Several statements in one: the values written in (psycopg binds one statement)."""
    out = sql
    for k, v in p.items():
        out = out.replace(f"%({k})s", f"'{v}'" if isinstance(v, date | str) else str(v))
    return out.encode()


def requests(last: date, meters: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(page, url, query) of every call the UI's pages make (server/web/static/js/pages),
    with the query they send: an area and concentrator a third in, a meter with curves.
    The meter page's calls are listed one by one (the UI sends them together)."""
    n = -(-meters // 64) // 3
    d = last.isoformat()
    month = last.strftime("%Y-%m")
    tz = ZoneInfo(TZ)
    day_lo = datetime.combine(last, datetime.min.time(), tz).isoformat()
    day_hi = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz).isoformat()
    m = "M1003"  # has curves, misses every 7th point
    start31 = (last - timedelta(days=31)).isoformat()
    start30 = (last - timedelta(days=30)).isoformat()
    report = {"period": "day", "limit": 1000, "date": d}
    meter_page: list[tuple[str, str, dict[str, Any]]] = [
        ("meter: archive card", f"/api/meters/{m}", {}),
        ("meter: readings of the day", f"/api/meters/{m}/readings", {"limit": 50, "date": d}),
        ("meter: readings, page 3", f"/api/meters/{m}/readings", {"limit": 50, "offset": 100}),
    ]
    for q in ("energy_import_total", "power_active_total", "voltage_a", "current_a"):
        meter_page.append(
            (
                f"meter: curve {q}",
                f"/api/meters/{m}/curve",
                {"quantity": q, "start": day_lo, "end": day_hi, "limit": 2000},
            )
        )
    meter_page += [
        ("meter: latest", f"/api/meters/{m}/latest", {}),
        ("meter: freezes of 31 days", f"/api/meters/{m}/freeze", {"start": start31, "end": d}),
        (
            "meter: events of 31 days",
            f"/api/meters/{m}/events",
            {"date": d, "days": 31, "limit": 20, "offset": 0},
        ),
        ("meter: its anomalies", "/api/anomalies", {"meter_id": "M5", "limit": 50}),
    ]
    return [
        ("signed-in user", "/api/auth/me", {}),
        ("org tree", "/api/org/tree", {}),
        ("org tree of a day", "/api/org/tree", {"date": d}),
        ("area list", "/api/org/areas", {"limit": 1000}),
        ("area list of a station", "/api/org/areas", {"limit": 1000, "org_id": "ST3"}),
        ("an area's concentrators", f"/api/org/areas/A{n}/gateways", {"limit": 1000}),
        (
            "a concentrator's meters",
            f"/api/org/gateways/G{n}/meters",
            {"area_id": f"A{n}", "limit": 200},
        ),
        ("areas (filter lists)", "/api/areas", {"limit": 1000}),
        ("concentrators (filter lists)", "/api/gateways", {"limit": 1000}),
        ("meters of a concentrator", "/api/meters", {"gateway_id": f"G{n}", "limit": 1000}),
        ("search: address digits", "/api/search", {"q": "0000123", "limit": 50}),
        ("search: customer name", "/api/search", {"q": "客户4567", "limit": 50}),
        ("search: account", "/api/search", {"q": "31234", "limit": 50}),
        ("report probe (by all, 1)", "/api/reports/collection", {"by": "all", "limit": 1}),
        ("report by area (day)", "/api/reports/collection", {**report, "by": "area"}),
        ("report by org (day)", "/api/reports/collection", {**report, "by": "org"}),
        ("report by concentrator (day)", "/api/reports/collection", {**report, "by": "gateway"}),
        ("report by protocol (day)", "/api/reports/collection", {**report, "by": "protocol"}),
        (
            "report by area (month)",
            "/api/reports/collection",
            {"period": "month", "month": month, "by": "area", "limit": 1000},
        ),
        (
            "report by class (month)",
            "/api/reports/collection",
            {"period": "month", "month": month, "by": "customer_class", "limit": 1000},
        ),
        (
            "report by area (previous month)",
            "/api/reports/collection",
            {
                "period": "month",
                "month": (last.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"),
                "by": "area",
                "limit": 1000,
            },
        ),
        (
            "report drill-down: area",
            "/api/reports/collection/meters",
            {"date": d, "by": "area", "key": f"A{n}"},
        ),
        (
            "report drill-down: all unread",
            "/api/reports/collection/meters",
            {"date": d, "read": "false"},
        ),
        ("trend 60 days (report page)", "/api/reports/collection/trend", {"end": d, "days": 60}),
        ("trend 30 days", "/api/reports/collection/trend", {"end": d, "days": 30}),
        (
            "months side by side by area (6)",
            "/api/reports/collection/months",
            {"by": "area", "months": 6, "limit": 50},
        ),
        (
            "months side by side by org (12)",
            "/api/reports/collection/months",
            {"by": "org", "months": 12, "limit": 50},
        ),
        ("curve completeness by area", "/api/curve-completeness", {"by": "area", "date": d}),
        ("failed meters", "/api/workbench/failed", {"date": d, "limit": 50}),
        (
            "failed: station + reason",
            "/api/workbench/failed",
            {"date": d, "org_id": "ST3", "reason": "meter_not_answering", "limit": 50},
        ),
        (
            "failed: an earlier day, area",
            "/api/workbench/failed",
            {"date": start30, "area_id": f"A{n}", "limit": 50},
        ),
        ("anomaly list", "/api/anomalies", {"limit": 50, "offset": 0}),
        (
            "anomaly list: station, dates",
            "/api/anomalies",
            {"org_id": "ST3", "start": d, "end": d, "limit": 50},
        ),
        (
            "anomaly list: rule, status, page 5",
            "/api/anomalies",
            {"rule": "stopped", "status": "open", "limit": 50, "offset": 200},
        ),
        ("anomaly detail", "/api/anomalies/1", {}),
        ("anomaly history", "/api/anomalies/1/history", {}),
        (
            "anomaly statistics by rule",
            "/api/anomalies/stats",
            {"by": "rule", "start": start30, "end": d},
        ),
        (
            "anomaly statistics by area",
            "/api/anomalies/stats",
            {"by": "area", "start": start30, "end": d},
        ),
        *meter_page,
        ("line loss: every area", "/api/line-loss/areas", {"date": d, "limit": 1000}),
        ("line loss: one area", f"/api/line-loss/areas/A{n}", {"date": d}),
        ("line loss: trend", f"/api/line-loss/areas/A{n}/trend", {"end": d, "days": 30}),
        (
            "line loss: suspects",
            f"/api/line-loss/areas/A{n}/suspects",
            {"date": d, "limit": 50},
        ),
        ("concentrators", "/api/concentrators", {"limit": 100, "offset": 0}),
        ("concentrators of a day", "/api/concentrators", {"date": d, "limit": 100}),
        ("one concentrator", f"/api/concentrators/G{n}", {}),
        ("a concentrator's commands", f"/api/gateways/G{n}/commands", {"limit": 20}),
        ("gateway status (old page)", "/api/gateway-status", {"limit": 100}),
        ("re-read batches", "/api/reread/batches", {"limit": 50, "offset": 0}),
        ("users", "/api/users", {"limit": 1000}),
        ("rule parameters", "/api/rule-params", {}),
        ("rules", "/api/rules", {}),
        ("audit log", "/api/audit", {"limit": 50, "offset": 0}),
        ("audit log: actor", "/api/audit", {"limit": 50, "actor": "bench"}),
        ("quarantine", "/api/quarantine", {"limit": 50, "offset": 0}),
        ("dead letters", "/api/dead-letters", {"limit": 50, "offset": 0}),
        ("conflicts", "/api/conflicts", {"limit": 50, "offset": 0}),
    ]


def bench(
    admin_url: str,
    label: str,
    meters: int,
    days_wanted: int | None,
    curve_share: float,
    keep: bool = False,
    curve_facts: bool = True,
) -> list[Any]:
    name, url = fresh_db(admin_url)
    last = datetime.now(ZoneInfo(TZ)).date() - timedelta(days=1)
    days = history_days(last, days_wanted)
    try:
        migrate(url)
        t_gen, t_count = generate(url, meters, days, curve_share, last, curve_facts)
        with psycopg.connect(url) as conn:
            create_user(
                conn,
                actor="bench",
                username="bench",
                password=PASSWORD,
                role="admin",
                now=datetime.now(UTC),
            )
            conn.commit()
            freezes = conn.execute("SELECT count(*) FROM daily_freeze").fetchone()
        print(
            f"{label}: {meters:,} meters, {days} days, {freezes[0] if freezes else 0:,} freeze "
            f"rows, about {int(meters * curve_share) * 96 * 2:,} curve points on 2 days "
            f"(generated in {t_gen:.1f} s; load average {os.getloadavg()[0]:.1f})"
        )
        if t_count is None:
            print("  curve facts: off (every report counts the curve points live)")
        else:
            print(f"  curve facts: the closed days counted in {t_count:.1f} s (the nightly job)")
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                database_url=url,
                mqtt_url="mqtt://127.0.0.1:1",
                data_dir=Path(tmp),
                auth_secret="bench-secret-bench-secret-bench-secret",
                jobs_enabled=False,
            )
            app = create_app(settings, services=[])
            out = []
            with TestClient(app) as client:
                r = client.post("/api/auth/login", json={"username": "bench", "password": PASSWORD})
                h = {"Authorization": f"Bearer {r.json()['token']}"}
                for page, path, query in requests(last, meters):
                    times = []
                    for _ in range(4):
                        t0 = time.perf_counter()
                        resp = client.get(path, params=query, headers=h)
                        times.append(time.perf_counter() - t0)
                        assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
                    body = resp.json()
                    total = body.get("total") if isinstance(body, dict) else len(body)
                    out.append((page, times[0], min(times[1:]), total, sorted(times[1:])[1]))
                    print(f"  … {page}: best {min(times[1:]) * 1000:.0f} ms", flush=True)
                # a bulk re-read of 1,000 meter-days (written, with its items)
                items = [
                    {"meter_id": f"M{i}", "date": last.isoformat()}
                    for i in range(1, meters, max(1, meters // 1000))
                    if i % 25 and i % 50
                ][:1000]
                t0 = time.perf_counter()
                resp = client.post("/api/reread/batches", json={"items": items}, headers=h)
                t_post = time.perf_counter() - t0
                assert resp.status_code == 202, resp.text[:300]
                batch = resp.json()["id"]
                out.append(
                    (f"POST re-read batch ({len(items)} meter-days)", t_post, t_post, None, t_post)
                )
                t0 = time.perf_counter()
                resp = client.get(f"/api/reread/batches/{batch}", headers=h)
                t_get = time.perf_counter() - t0
                out.append(("re-read batch outcome", t_get, t_get, resp.json()["total"], t_get))
        print(f"  (load average after: {os.getloadavg()[0]:.1f})")
        for page, first, best, total, median in out:
            mark = "ok" if best <= GOAL_S else "OVER"
            shown = f" ({total:,} items)" if isinstance(total, int) else ""
            print(
                f"  {page:<40} first {first * 1000:7.0f} ms, best {best * 1000:7.0f} ms, "
                f"p50 {median * 1000:7.0f} ms [{mark}]{shown}"
            )
        return out
    finally:
        if keep:
            print(f"  database kept: {name} (drop it when done)")
        else:
            drop_db(admin_url, name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meters", type=int, default=100_000)
    ap.add_argument(
        "--days",
        type=int,
        default=None,
        help="days of daily freezes up to yesterday (default: the previous month whole and "
        "at least 61 days, for the month report's comparison and the 60-day trend)",
    )
    ap.add_argument(
        "--curve-share",
        type=float,
        default=0.3,
        help="share of the meters with 96-point curves yesterday and the day before",
    )
    ap.add_argument(
        "--database-url",
        default=os.environ.get(
            "METERLINK_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    ap.add_argument("--timescale-url", default=os.environ.get("METERLINK_TEST_TIMESCALE_URL"))
    ap.add_argument("--only", choices=("postgres", "timescale"), help="run one of the two targets")
    ap.add_argument(
        "--keep", action="store_true", help="keep each run's database (for EXPLAIN); say its name"
    )
    ap.add_argument(
        "--no-curve-facts",
        action="store_true",
        help="leave the closed days' curve points uncounted (reports count them live)",
    )
    args = ap.parse_args(argv)
    targets = [] if args.only == "timescale" else [("PostgreSQL", args.database_url)]
    if args.only != "postgres":
        if args.timescale_url:
            targets.append(("TimescaleDB", args.timescale_url))
        else:
            print("TimescaleDB: skipped (no --timescale-url / METERLINK_TEST_TIMESCALE_URL)")
    over = 0
    for label, url in targets:
        results = bench(
            url,
            label,
            args.meters,
            args.days,
            args.curve_share,
            args.keep,
            not args.no_curve_facts,
        )
        over += sum(1 for _, _, best, _, _ in results if best > GOAL_S)
    print(f"pages over {GOAL_S:.0f} s (best of three): {over}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
