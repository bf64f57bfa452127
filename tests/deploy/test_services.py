"""The services CI provisions really work: TimescaleDB with hypertables, an unlimited broker."""

from __future__ import annotations

import os
import threading
import time
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import psycopg
import pytest

from tests.conftest import IN_CI


def test_timescaledb_extension_loads_and_makes_hypertables(timescale_url: str) -> None:
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        assert version is not None
        conn.execute("CREATE TABLE t (ts timestamptz NOT NULL, v double precision)")
        conn.execute("SELECT create_hypertable('t', 'ts', chunk_time_interval => interval '1 day')")
        conn.execute(
            "INSERT INTO t SELECT now() - i * interval '1 hour', i FROM generate_series(1, 72) i"
        )
        chunks = conn.execute("SELECT count(*) FROM show_chunks('t')").fetchone()
        assert chunks is not None and chunks[0] >= 3
        conn.execute("SELECT drop_chunks('t', older_than => now() - interval '2 days')")
        left = conn.execute("SELECT count(*) FROM t").fetchone()
        assert left is not None and 0 < left[0] < 72


def _load_broker() -> tuple[str, int]:
    url = os.environ.get("METERLINK_LOAD_MQTT_URL")
    if not url:
        if IN_CI:
            pytest.fail("METERLINK_LOAD_MQTT_URL is not set (deploy/scripts/mosquitto-load.sh)")
        pytest.skip("METERLINK_LOAD_MQTT_URL not set: run deploy/scripts/mosquitto-load.sh start")
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 1883


def test_load_broker_queues_beyond_the_default_limit() -> None:
    """Debian's default max_queued_messages 1000 drops QoS 1 messages for a subscriber that is
    away or slow; the load broker must deliver all of them."""
    host, port = _load_broker()
    n = 3000
    got: set[int] = set()
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        got.add(int(msg.payload))
        if len(got) == n:
            done.set()

    def subscriber() -> mqtt.Client:
        # one persistent session (clean_session=False) held by two client objects in turn: a
        # paho client's loop is started once (a second loop_start leaks its wake-up sockets)
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="ml-load-sub", clean_session=False
        )
        c.on_message = on_message
        c.connect(host, port)
        c.loop_start()
        return c

    first = subscriber()
    first.subscribe("ml/load/#", qos=1)
    time.sleep(0.3)
    first.disconnect()  # the subscriber goes away: the broker must queue everything meanwhile
    first.loop_stop()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ml-load-pub")
    pub.max_inflight_messages_set(1000)
    pub.connect(host, port)
    pub.loop_start()
    infos = [pub.publish("ml/load/x", str(i), qos=1) for i in range(n)]
    for info in infos:
        info.wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()
    sub = subscriber()  # the session comes back: every queued message must arrive
    try:
        assert done.wait(15), f"only {len(got)} of {n} delivered"
    finally:
        sub.disconnect()
        sub.loop_stop()
