"""Ingestion scale-out benchmark (issue 20): N ingestion processes on one database, fed
through one MQTT shared subscription (``$share/<group>/...``), as a site adds
``meterlink-server`` processes. Throughput end to end (first publish to the last reading
committed and acknowledged) with 1, 2 and 4 processes in one run, each on a fresh
database with the same readings.

Run: ``python -m tests.benchmarks.bench_scaleout [--readings 400000] [--procs 1,2,4]``.
Needs a broker without queue limits: METERLINK_LOAD_MQTT_URL (deploy/scripts/mosquitto-load.sh).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import threading
import time
import uuid
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import psycopg

from protocols import wire
from tests.benchmarks.bench_ingest import fresh_db, payloads, setup_meters


def consumer_process(
    url: str, broker: str, root: str, idx: int, stored: Synchronized, ready: Event, stop: Event
) -> None:
    from server.db.pool import open_pool
    from server.ingest.consumer import Consumer, MqttConfig

    pool = open_pool(url, max_size=3)
    consumer = Consumer(
        MqttConfig(broker, root=root, share_group="bench", client_id=f"bench-{root}-{idx}"),
        pool,
        tz="Asia/Shanghai",
        batch_max=20000,
        batch_ms=100,
        retention_days=3650,
    )
    consumer.start()
    consumer.connected.wait(10)
    ready.set()
    while not stop.is_set():
        stored.value = consumer.stored_readings
        time.sleep(0.01)
    stored.value = consumer.stored_readings
    consumer.stop()
    pool.close()


def run(admin: str, broker: str, procs: int, data: list[bytes], total: int, meters: int) -> float:
    url = fresh_db(admin, f"bench_scaleout_{procs}")
    setup_meters(url, meters)
    root = "scale" + uuid.uuid4().hex[:6]
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    counters, readies, children = [], [], []
    for i in range(procs):
        stored = ctx.Value("q", 0)
        ready = ctx.Event()
        p = ctx.Process(target=consumer_process, args=(url, broker, root, i, stored, ready, stop))
        p.start()
        counters.append(stored)
        readies.append(ready)
        children.append(p)
    for r in readies:
        if not r.wait(60):
            raise TimeoutError("an ingestion process did not connect")
    time.sleep(0.5)  # every shared subscription in place
    parts = urlsplit(broker)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.max_inflight_messages_set(1000)
    pub.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    pub.loop_start()
    topic = wire.topic("gw-bench", wire.Channel.READINGS, root)
    t0 = time.perf_counter()
    done = threading.Event()

    def publish() -> None:
        infos = [pub.publish(topic, p, qos=1) for p in data]
        for info in infos:
            info.wait_for_publish(120)
        done.set()

    threading.Thread(target=publish, daemon=True).start()
    progress, last_move = 0, time.perf_counter()
    while (stored_now := sum(c.value for c in counters)) < total:
        time.sleep(0.005)
        if stored_now != progress:
            progress, last_move = stored_now, time.perf_counter()
        elif done.is_set() and time.perf_counter() - last_move > 60:
            with psycopg.connect(url) as conn:
                dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
            raise TimeoutError(
                f"{stored_now:,} of {total:,} readings stored and none for 60 s after the "
                f"last publish; dead letters: {dead[0] if dead else '?'}"
            )
        if time.perf_counter() - t0 > 900:
            raise TimeoutError("the run did not finish in 15 minutes")
    elapsed = time.perf_counter() - t0
    stop.set()
    for p in children:
        p.join(30)
    pub.loop_stop()
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    if not row or row[0] != total:
        raise AssertionError(f"{row} rows stored, {total} published")
    shares = [c.value for c in counters]
    print(f"  {procs} process(es): {total / elapsed:,.0f} readings/s end to end; per "
          f"process {shares}")  # fmt: skip
    return total / elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--readings", type=int, default=400_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--meters", type=int, default=2000)
    ap.add_argument("--procs", default="1,2,4")
    ap.add_argument("--timescale", action="store_true", help="TimescaleDB instead of PostgreSQL")
    args = ap.parse_args(argv)
    broker = os.environ.get("METERLINK_LOAD_MQTT_URL")
    if not broker:
        raise SystemExit("set METERLINK_LOAD_MQTT_URL (deploy/scripts/mosquitto-load.sh start)")
    admin = os.environ[
        "METERLINK_TEST_TIMESCALE_URL" if args.timescale else "METERLINK_TEST_PG_URL"
    ]
    data = payloads(args.readings, args.batch, args.meters, offset_days=2)
    total = (args.readings // args.meters) * args.meters
    flavour = "TimescaleDB" if args.timescale else "PostgreSQL"
    print(
        f"{flavour}: {total:,} readings of {args.meters:,} meters in messages of "
        f"{args.batch:,}; {os.cpu_count()} cores"
    )
    rates = {n: run(admin, broker, n, data, total, args.meters)
             for n in (int(x) for x in args.procs.split(","))}  # fmt: skip
    first = next(iter(rates.values()))
    print("  ratio to one process: " + ", ".join(f"{n}: {r / first:.2f}" for n, r in rates.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
