"""Benchmark: exporting a 100,000-row failed-meter list as CSV and XLSX.

    python -m tests.benchmarks.bench_export                  # 100,000 failed meters
    python -m tests.benchmarks.bench_export --rows 20000     # a quicker look

Two figures for each format:

* **end to end**: ``GET /api/failed-meters?format=csv|xlsx`` (and the workbench's failed list,
  ``GET /api/workbench/failed``, which adds reason categories, consecutive failed days and
  the last staff re-read to each row) against the real application on
  PostgreSQL (``--database-url``, default the local server; a new database, dropped
  afterwards) whose archive has ``--rows`` due meters (64 per area and concentrator) of
  which none was read: the query, the report's rendering and the audit row, as a clerk's
  download costs;
* **rendering alone**: the same rows, fetched once, through
  :func:`server.api.routes.export.render` (what the format adds to the query).

``--render-only`` skips the database: ``--rows`` synthetic rows shaped like the workbench's
failed list (reason category and detail, consecutive days, the last re-read as a nested
object, a float register value with noise) through :func:`render`, CSV and XLSX.

The figures go to the README's benchmark table.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import psycopg
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.routes.export import Output, render
from server.checks import completeness
from server.db.migrate import migrate
from server.settings import Settings
from tests.server.helpers import auth_headers

D = date(2026, 11, 10)
ARCHIVE = """
INSERT INTO areas (id, name) SELECT 'A' || a, '台区 ' || a FROM generate_series(0, %(areas)s) a;
INSERT INTO gateways (id, name, area_id, online, last_seen)
SELECT 'G' || a, 'gw ' || a, 'A' || a, a %% 7 <> 0, now() FROM generate_series(0, %(areas)s) a;
INSERT INTO meters (id, address, protocol, gateway_id, area_id, customer_class, installed_on)
SELECT 'M' || i, lpad(i::text, 12, '0'),
       CASE WHEN i %% 50 = 0 THEN 'modbus' ELSE 'dlt645-2007' END,
       'G' || (i / 64), 'A' || (i / 64),
       (ARRAY['residential','commercial','industrial','agricultural','other'])[i %% 5 + 1],
       '2025-01-01'
FROM generate_series(0, %(rows)s - 1) i;
INSERT INTO daily_freeze (meter_id, data_date, quantity, value, freeze_ts, source)
SELECT 'M' || i, %(before)s::date, 'energy_import_total', 1000 + i * 0.37 + 0.0000000001,
       now(), 'scheduled'
FROM generate_series(0, %(rows)s - 1) i WHERE i %% 3 <> 0;
"""


def _database(admin_url: str) -> tuple[str, str]:
    name = f"bench_export_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return name, admin_url.rsplit("/", 1)[0] + "/" + name


def run(admin_url: str, rows: int) -> None:
    name, url = _database(admin_url)
    try:
        migrate(url)
        t = time.perf_counter()
        with psycopg.connect(url) as conn:
            values = {"rows": rows, "areas": rows // 64, "before": date(2026, 11, 9)}
            for statement in filter(str.strip, ARCHIVE.split(";")):
                conn.execute(
                    statement, {k: v for k, v in values.items() if f"%({k})s" in statement}
                )
            conn.execute("ANALYZE")
        print(f"archive: {rows:,} due meters, none read on {D} ({time.perf_counter() - t:.1f} s)")
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                database_url=url,
                mqtt_url="mqtt://127.0.0.1:1",
                data_dir=Path(tmp),
                auth_secret="bench-export-secret-0123456789abcdef",
                jobs_enabled=False,
                ingest_enabled=False,
            )  # type: ignore[call-arg]
            app = create_app(settings, services=[])
            with TestClient(app) as client:
                headers = auth_headers(client, "viewer", url)
                for path in ("/api/failed-meters", "/api/workbench/failed"):
                    for fmt in ("csv", "xlsx"):
                        t = time.perf_counter()
                        r = client.get(
                            path,
                            params={"date": str(D), "format": fmt, "lang": "zh"},
                            headers=headers,
                        )
                        took = time.perf_counter() - t
                        assert r.status_code == 200, r.text[:300]
                        print(
                            f"end to end {path} {fmt}: {took:.2f} s, "
                            f"{len(r.content) / 1e6:.1f} MB ({rows / took:,.0f} rows/s)"
                        )
                        if fmt == "xlsx":
                            book = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
                            ws = book.active
                            assert ws is not None
                            n = sum(1 for _ in ws.iter_rows(values_only=True))
                            assert n == rows + 2, n  # title, header, rows
        with psycopg.connect(url) as conn:
            t = time.perf_counter()
            found: list[dict[str, Any]] = completeness.failed_meters(conn, D, limit=rows, offset=0)
            print(f"query alone: {len(found):,} rows in {time.perf_counter() - t:.2f} s")
        out = {
            fmt: Output(fmt, "zh", settings.tz, datetime.now(UTC))  # type: ignore[arg-type]
            for fmt in ("csv", "xlsx")
        }
        for fmt, o in out.items():
            t = time.perf_counter()
            body = render(
                found,
                o,
                name="failed-meters",
                what=("失败电表清单", "Failed meters"),
                scope={"date": D},
            ).body
            took = time.perf_counter() - t
            print(f"rendering alone {fmt}: {took:.2f} s, {len(body) / 1e6:.1f} MB")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def synthetic(rows: int) -> list[dict[str, Any]]:
    reasons = ("concentrator_offline", "meter_not_answering", "wrong_answers", "other")
    return [
        {
            "meter_id": f"M{i}",
            "address": f"{i:012d}",
            "customer_name": None,
            "area_id": f"A{i // 64}",
            "gateway_id": f"G{i // 64}",
            "protocol": "dlt645-2007",
            "customer_class": "residential",
            "reason": reasons[i % 4],
            "code": reasons[i % 4],
            "reason_text": "concentrator offline" if i % 4 == 0 else "meter not answering",
            "rereadable": True,
            "consecutive_days": 1 + i % 9,
            "last_good_date": date(2026, 11, 9),
            "last_good_value": 1000 + i * 0.37 + 1e-10,
            "gateway_online": i % 4 != 0,
            "reread": {"batch_id": i, "command_status": "pending"} if i % 10 == 0 else None,
        }
        for i in range(rows)
    ]


def render_only(rows: int) -> None:
    found = synthetic(rows)
    for fmt in ("csv", "xlsx"):
        o = Output(fmt, "zh", ZoneInfo("Asia/Shanghai"), datetime.now(UTC))
        t = time.perf_counter()
        body = render(
            found, o, name="failed", what=("失败电表清单", "Failed meters"), scope={"date": D}
        ).body
        took = time.perf_counter() - t
        print(
            f"rendering alone {fmt}: {rows:,} rows in {took:.2f} s, {len(body) / 1e6:.1f} MB "
            f"({rows / took:,.0f} rows/s)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--render-only", action="store_true", help="no database: render only")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("METERLINK_TEST_PG_URL", "postgresql://postgres@127.0.0.1/postgres"),
    )
    args = parser.parse_args()
    if args.render_only:
        render_only(args.rows)
    else:
        run(args.database_url, args.rows)


if __name__ == "__main__":
    main()
