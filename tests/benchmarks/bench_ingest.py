"""Ingestion benchmark: readings per second end to end (publisher -> broker -> consumer ->
committed rows) against, in the same run, the same rows written by one connection without
MQTT: our store(); plain binary COPY -> staging -> INSERT ... ON CONFLICT merge; and bare
binary COPY into readings (no checks: the ceiling). Prints the ratios, on PostgreSQL and,
when METERLINK_TEST_TIMESCALE_URL is set, on TimescaleDB.

Run: ``python -m tests.benchmarks.bench_ingest [--readings 600000] [--batch 2000]``.
Needs a broker without queue limits: METERLINK_LOAD_MQTT_URL (deploy/scripts/mosquitto-load.sh).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import psycopg

from protocols import wire
from protocols.model import Reading
from server.db.migrate import migrate
from server.db.partitions import ensure_partitions
from server.db.pool import open_pool
from server.ingest.consumer import Consumer, MqttConfig
from server.ingest.store import Batch, _merge, store


def fresh_db(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(admin)
    url = parts._replace(path="/" + name).geturl()
    migrate(url)
    return url


def payloads(n: int, batch: int, meters: int, offset_days: int) -> list[bytes]:
    """``n`` readings of ``meters`` meters, slot by slot (15 minutes apart) from
    ``offset_days`` ago, or earlier when that many slots would reach the future (the
    server refuses a reading from the future, so such a run would never complete)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    slots = n // meters
    t0 = min(now - timedelta(days=offset_days), now - timedelta(minutes=15 * (slots + 1)))
    out, k = [], 0
    rows: list[Reading] = []
    for s in range(slots):
        ts = t0 + timedelta(minutes=15 * s)
        for m in range(meters):
            rows.append(Reading(f"M{m:05d}", "energy_import_total", ts, float(s)))
            if len(rows) == batch:
                out.append(wire.batch_of("gw-bench", f"b{k}", rows, t0))
                rows, k = [], k + 1
    if rows:
        out.append(wire.batch_of("gw-bench", f"b{k}", rows, t0))
    return out


def setup_meters(url: str, meters: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO gateways (id, name) VALUES ('gw-bench', 'bench')")
        with conn.cursor().copy(
            "COPY meters (id, address, protocol, gateway_id, installed_on) FROM STDIN"
        ) as cp:
            for m in range(meters):
                cp.write_row((f"M{m:05d}", f"{m:012d}", "dlt645-2007", "gw-bench", "2025-01-01"))
        conn.commit()


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    return int(row[0]) if row else 0


def end_to_end(url: str, broker: str, data: list[bytes], total: int) -> float:
    root = "bench" + uuid.uuid4().hex[:6]
    pool = open_pool(url, max_size=4)
    consumer = Consumer(
        MqttConfig(broker, root=root, client_id="bench-" + root),
        pool,
        tz="Asia/Shanghai",
        batch_max=20000,
        batch_ms=100,
        retention_days=3650,
    )
    consumer.start()
    consumer.connected.wait(10)
    parts = urlsplit(broker)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.max_inflight_messages_set(1000)
    pub.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    pub.loop_start()
    topic = wire.topic("gw-bench", wire.Channel.READINGS, root)
    t0 = time.perf_counter()
    infos = [pub.publish(topic, p, qos=1) for p in data]
    for i in infos:
        i.wait_for_publish(60)
    # the consumer counts what it acknowledged after commit; polling count(*) instead would
    # load the database under test. The stored rows are counted once at the end.
    while consumer.stored_readings < total:
        time.sleep(0.005)
        if time.perf_counter() - t0 > 600:
            raise TimeoutError("end-to-end run did not finish in 10 minutes")
    elapsed = time.perf_counter() - t0
    pub.loop_stop()
    consumer.stop()
    pool.close()
    stored = count(url)
    if stored != total:
        raise AssertionError(f"{stored} rows stored, {total} published")
    return total / elapsed


def _days(rows: list[tuple[Any, ...]]) -> set[date]:
    """The local days (the utility's zone) of ``rows``: their hot partitions."""
    zone = ZoneInfo("Asia/Shanghai")
    return {r[2].astimezone(zone).date() for r in rows}


def _batches(data: list[bytes]) -> list[Batch]:
    """The decoded messages in store batches of 10 messages (decoding is not timed)."""
    decoded = [wire.decode_readings_rows(p) for p in data]
    out = []
    for chunk in range(0, len(decoded), 10):
        b = Batch()
        for d in decoded[chunk : chunk + 10]:
            b.add_rows(d.gateway, d.batch_id, d.rows)
        out.append(b)
    return out


def timed_writes(url: str, data: list[bytes], total: int, how: str) -> float:
    """Readings per second written by one connection, without MQTT or decoding:
    ``store``: our store() (new rows by direct COPY, the merge only for repeats);
    ``merge``: the textbook path, every row by binary COPY into staging then INSERT ... ON
    CONFLICT DO NOTHING (store()'s merge path, which repeats take);
    ``copy``: binary COPY straight into readings with no checks at all (the ceiling)."""
    batches = _batches(data)
    t0 = time.perf_counter()
    with psycopg.connect(url) as conn:
        for b in batches:
            if how == "store":
                store(conn, b, tz="Asia/Shanghai")
            elif how == "merge":
                with conn.transaction():
                    ensure_partitions(conn, _days(b.rows), "Asia/Shanghai")
                    _merge(conn, b.rows, "Asia/Shanghai")
            else:
                with conn.transaction(), conn.cursor() as cur:
                    ensure_partitions(conn, _days(b.rows), "Asia/Shanghai")
                    with cur.copy(
                        "COPY readings (meter_id, quantity, ts, value, kind, source, "
                        "quality, gateway_id) FROM STDIN (FORMAT BINARY)"
                    ) as cp:
                        cp.set_types(
                            [
                                "text",
                                "text",
                                "timestamptz",
                                "float8",
                                "text",
                                "text",
                                "text[]",
                                "text",
                            ]
                        )
                        for r in b.rows:
                            cp.write_row(r[:8])
    elapsed = time.perf_counter() - t0
    assert count(url) == total
    return total / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=600_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--meters", type=int, default=2000)
    args = ap.parse_args()
    broker = os.environ.get("METERLINK_LOAD_MQTT_URL")
    if not broker:
        raise SystemExit("set METERLINK_LOAD_MQTT_URL (deploy/scripts/mosquitto-load.sh start)")
    targets = [
        (
            "PostgreSQL",
            os.environ.get(
                "METERLINK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
            ),
        )
    ]
    if os.environ.get("METERLINK_TEST_TIMESCALE_URL"):
        targets.append(("TimescaleDB", os.environ["METERLINK_TEST_TIMESCALE_URL"]))
    data = payloads(args.readings, args.batch, args.meters, offset_days=30)
    total = sum(len(wire.decode_readings_rows(p).rows) for p in data)
    print(f"{total:,} readings of {args.meters:,} meters in messages of {args.batch:,}")
    for name, admin in targets:
        rates = {}
        for how in ("e2e", "store", "merge", "copy"):
            # a name of this run's own: two runs on one server must not drop each other's
            db_name = f"mlbench_{how}_{os.getpid()}"
            url = fresh_db(admin, db_name)
            try:
                setup_meters(url, args.meters)
                rates[how] = (
                    end_to_end(url, broker, data, total)
                    if how == "e2e"
                    else timed_writes(url, data, total, how)
                )
            finally:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        e2e = rates["e2e"]
        print(
            f"{name}: end to end {e2e:,.0f} readings/s | without MQTT: store() "
            f"{rates['store']:,.0f} /s (ratio {e2e / rates['store']:.2f}), COPY -> staging "
            f"-> merge {rates['merge']:,.0f} /s (ratio {e2e / rates['merge']:.2f}), bare COPY "
            f"{rates['copy']:,.0f} /s (ratio {e2e / rates['copy']:.2f})"
        )


if __name__ == "__main__":
    main()
