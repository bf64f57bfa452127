"""The MQTT consumer on a real broker and database: stored once, bad input kept aside,
gateway status tracked, kill -9 loses nothing, two consumers share the load exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest

from protocols import wire
from protocols.model import Reading, ReadingKind
from server.db.pool import open_pool
from server.gateways.commands import queue_command
from server.ingest.consumer import Consumer, MqttConfig
from tests.conftest import IN_CI, Broker

from .helpers import add_meters

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def publisher(broker: Broker) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def batch(
    gw: str, meters: list[str], slots: int, start: int = 0, kind: ReadingKind = ReadingKind.INTERVAL
) -> bytes:
    t0 = NOW - timedelta(days=20)  # 20 days of slots fit before now (no future readings)
    readings = [
        Reading(
            m,
            "energy_import_total",
            t0 + timedelta(minutes=15 * (start + i)),
            float(start + i),
            kind=kind,
        )
        for m in meters
        for i in range(slots)
    ]
    return wire.batch_of(gw, f"{gw}-{start}", readings, NOW)


def count(url: str, sql: str = "SELECT count(*) FROM readings") -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def wait_for(fn: Any, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def consumer(migrated: str, mqtt_broker: Broker, topic_prefix: str) -> Iterator[Consumer]:
    pool = open_pool(migrated)
    c = Consumer(
        MqttConfig(
            mqtt_broker.url, root=topic_prefix, share_group=None, client_id=f"srv-{topic_prefix}"
        ),
        pool,
        tz="Asia/Shanghai",
        batch_ms=50,
        retention_days=30,
    )
    c.start()
    assert c.connected.wait(10)
    try:
        yield c
    finally:
        c.stop()
        pool.close()


def test_readings_stored_once_and_bad_messages_kept(
    consumer: Consumer, migrated: str, mqtt_broker: Broker, topic_prefix: str
) -> None:
    add_meters(migrated, [{"id": f"M{i}", "address": f"{i:012d}"} for i in range(1, 4)])
    pub = publisher(mqtt_broker)
    topic = wire.topic("gw-1", wire.Channel.READINGS, topic_prefix)
    for _ in range(2):  # the same batch twice: stored once
        pub.publish(topic, batch("gw-1", ["M1", "M2", "M3"], 96), qos=1).wait_for_publish(5)
    bad = {
        "malformed JSON": b"{not json",
        "unknown schema": json.dumps({"schema": 99, "gateway": "gw-1"}).encode(),
        "gateway mismatch": batch("gw-2", ["M1"], 1),
        "future": wire.batch_of(
            "gw-1", "f", [Reading("M1", "energy_import_total", NOW + timedelta(days=3), 1.0)], NOW
        ),
    }
    for payload in bad.values():
        pub.publish(topic, payload, qos=1).wait_for_publish(5)
    pub.publish(topic, batch("gw-1", ["NOBODY"], 4), qos=1).wait_for_publish(5)
    assert wait_for(lambda: count(migrated, "SELECT count(*) FROM dead_letters") >= 4)
    assert wait_for(lambda: count(migrated, "SELECT count(*) FROM quarantine") == 4)
    assert count(migrated) == 3 * 96
    with psycopg.connect(migrated) as conn:
        reasons = [r[0] for r in conn.execute("SELECT reason FROM dead_letters ORDER BY id")]
    assert any("expected" in r or "JSON" in r or "json" in r for r in reasons)
    assert any("schema" in r for r in reasons)
    assert any("does not match the topic" in r for r in reasons)
    assert any("in the future" in r for r in reasons)
    pub.loop_stop()


def test_status_last_will_and_command_round_trip(
    consumer: Consumer, migrated: str, mqtt_broker: Broker, topic_prefix: str
) -> None:
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}])
    pub = publisher(mqtt_broker)
    status = wire.GatewayStatus("gw-1", True, NOW, "0.1.0", outbox_depth=7)
    st_topic = wire.topic("gw-1", wire.Channel.STATUS, topic_prefix)
    pub.publish(st_topic, wire.encode_status(status), qos=1).wait_for_publish(5)
    assert wait_for(lambda: count(migrated, "SELECT count(*) FROM gateways WHERE online") == 1)
    pub.publish(
        st_topic, wire.last_will("gw-1", NOW + timedelta(seconds=5)), qos=1
    ).wait_for_publish(5)
    assert wait_for(lambda: count(migrated, "SELECT count(*) FROM gateways WHERE online") == 0)
    # a command is sent to the gateway and its result recorded
    got: list[bytes] = []
    gw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    gw.on_message = lambda c, u, m: got.append(m.payload)
    gw.connect(mqtt_broker.host, mqtt_broker.port)
    gw.subscribe(wire.topic("gw-1", wire.Channel.CMD, topic_prefix), 1)
    gw.loop_start()
    time.sleep(0.2)
    with psycopg.connect(migrated) as conn:
        cmd_id = queue_command(
            conn, gateway_id="gw-1", name="read_now", args={"meter": "M1"}, requested_by="test"
        )
        conn.commit()
    assert wait_for(lambda: bool(got))
    cmd = wire.decode_command(got[0])
    assert cmd.id == cmd_id
    res = wire.CommandResult(cmd_id, "read_now", True, NOW, None, {"readings": 3})
    gw.publish(
        wire.topic("gw-1", wire.Channel.CMD_RESULT, topic_prefix), wire.encode_result(res), qos=1
    ).wait_for_publish(5)
    assert wait_for(
        lambda: count(migrated, "SELECT count(*) FROM gateway_commands WHERE status = 'ok'") == 1
    )
    gw.loop_stop()
    pub.loop_stop()


CONSUMER = """
import sys, time, logging
logging.basicConfig(level=logging.INFO)
from server.db.pool import open_pool
from server.ingest.consumer import Consumer, MqttConfig
url, broker, root, group, cid = sys.argv[1:6]
pool = open_pool(url)
c = Consumer(MqttConfig(broker, root=root, share_group=group or None, client_id=cid), pool,
             tz="Asia/Shanghai", batch_ms=20, batch_max=500, retention_days=30)
c.start()
while True:
    time.sleep(0.2)
"""


def run_consumer(url: str, broker: str, root: str, group: str, cid: str) -> subprocess.Popen[bytes]:
    # the child keeps its own copy of the log's descriptor; ours is closed at once
    with open(f"/tmp/consumer-{cid}.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "-c", CONSUMER, url, broker, root, group, cid],
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def publish_all(broker: Broker, root: str, meters: list[str], batches: int) -> int:
    pub = publisher(broker)
    topic = wire.topic("gw-1", wire.Channel.READINGS, root)
    for k in range(batches):
        pub.publish(topic, batch("gw-1", meters, 4, start=4 * k), qos=1).wait_for_publish(10)
    pub.loop_stop()
    pub.disconnect()
    return len(meters) * 4 * batches


def test_kill_9_mid_stream_loses_nothing(migrated: str, topic_prefix: str) -> None:
    broker_url = os.environ.get("METERLINK_LOAD_MQTT_URL")
    if not broker_url:
        reason = (
            "needs the load-test broker (METERLINK_LOAD_MQTT_URL, started by .ci/run): "
            "the default broker drops queued QoS 1 messages past 1000"
        )
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    from urllib.parse import urlsplit

    parts = urlsplit(broker_url)
    broker = Broker(parts.hostname or "127.0.0.1", parts.port or 1883)
    meters = [f"M{i}" for i in range(1, 21)]
    add_meters(migrated, [{"id": m, "address": f"{i + 1:012d}"} for i, m in enumerate(meters)])
    cid = f"srv-kill-{topic_prefix}"
    first = run_consumer(migrated, broker_url, topic_prefix, "", cid)
    time.sleep(1.5)  # connected and subscribed (persistent session from now on)
    import threading

    total = len(meters) * 4 * 400
    sender = threading.Thread(target=publish_all, args=(broker, topic_prefix, meters, 400))
    sender.start()
    assert wait_for(lambda: count(migrated) > 2000, 30)
    os.kill(first.pid, signal.SIGKILL)  # in the middle of the stream
    first.wait()
    sender.join(120)
    stored_at_kill = count(migrated)
    assert stored_at_kill < total, "the consumer finished before the kill: test proves nothing"
    second = run_consumer(migrated, broker_url, topic_prefix, "", cid)
    try:  # generous: a loaded 2-core machine drains 30,000 redelivered readings slowly
        assert wait_for(lambda: count(migrated) == total, 180), (count(migrated), total)
    finally:
        second.kill()
        second.wait()


def test_two_consumers_share_the_stream_exactly_once(
    migrated: str, mqtt_broker: Broker, topic_prefix: str
) -> None:
    meters = [f"M{i}" for i in range(1, 11)]
    add_meters(migrated, [{"id": m, "address": f"{i + 1:012d}"} for i, m in enumerate(meters)])
    group = f"g-{topic_prefix}"
    a = run_consumer(migrated, mqtt_broker.url, topic_prefix, group, f"a-{topic_prefix}")
    b = run_consumer(migrated, mqtt_broker.url, topic_prefix, group, f"b-{topic_prefix}")
    try:
        time.sleep(2)
        total = publish_all(mqtt_broker, topic_prefix, meters, 100)
        assert wait_for(lambda: count(migrated) == total, 60), (count(migrated), total)
        # both did part of the work: every message went to exactly one of them
        with psycopg.connect(migrated) as conn:
            dup = conn.execute("SELECT count(*) FROM reading_conflicts").fetchone()
        assert dup == (0,)
    finally:
        for p in (a, b):
            p.kill()
            p.wait()


def _set_read_only(url: str, on: bool) -> None:
    """The database refuses writes (as a full disk or a failed-over read-only replica does);
    sessions already open are ended so that the consumer's pool sees the change."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")  # this session may write
        conn.execute(
            f'ALTER DATABASE "{name}" SET default_transaction_read_only = {"on" if on else "off"}'
        )
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
            "datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_a_database_that_refuses_writes_holds_the_stream_and_loses_nothing(
    consumer: Consumer,
    migrated: str,
    mqtt_broker: Broker,
    topic_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}])
    receipts: list[wire.Receipt] = []
    pub = publisher(mqtt_broker)
    pub.on_message = lambda c, u, m: receipts.append(wire.decode_receipt(m.payload))
    pub.subscribe(wire.topic("gw-1", wire.Channel.RECEIPT, topic_prefix), qos=1)
    time.sleep(0.2)
    topic = wire.topic("gw-1", wire.Channel.READINGS, topic_prefix)
    _set_read_only(migrated, True)
    try:
        pub.publish(topic, batch("gw-1", ["M1"], 96), qos=1).wait_for_publish(5)
        assert wait_for(lambda: "read-only transaction" in caplog.text, 20), caplog.text
        assert "storing 1 messages failed; retrying" in caplog.text
        assert count(migrated) == 0 and receipts == []  # nothing stored, so no receipt
    finally:
        _set_read_only(migrated, False)
    assert wait_for(lambda: count(migrated) == 96, 30)  # kept unacknowledged, then stored
    assert wait_for(lambda: len(receipts) == 1, 10)
    assert receipts[0].batches == ("gw-1-0",)
    assert count(migrated, "SELECT count(*) FROM reading_conflicts") == 0
    assert count(migrated, "SELECT count(*) FROM dead_letters") == 0
    pub.loop_stop()


def test_batches_committed_out_of_order_are_acknowledged_in_arrival_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With several writers a later batch can commit first; its messages wait until every
    earlier batch is committed, so the broker never sees a message acknowledged while an
    earlier one may still be lost."""
    from server.ingest.consumer import _Job

    c = Consumer(
        MqttConfig("mqtt://127.0.0.1:9"),
        None,
        tz="Asia/Shanghai",  # type: ignore[arg-type]
        writers=3,
    )
    acked: list[int] = []
    monkeypatch.setattr(c._client, "ack", lambda mid, qos: acked.append(mid))  # noqa: SLF001

    def job(seq: int, mids: list[int]) -> _Job:
        msgs = []
        for mid in mids:
            m = mqtt.MQTTMessage(mid=mid, topic=b"x")
            m.qos = 1
            msgs.append(m)
        return _Job(seq, msgs, inserted=len(mids))

    c._finish(job(1, [3, 4]))  # noqa: SLF001
    c._finish(job(2, [5]))  # noqa: SLF001
    assert acked == [] and c.stored_messages == 0  # batch 0 is not committed yet
    c._finish(job(0, [1, 2]))  # noqa: SLF001
    assert acked == [1, 2, 3, 4, 5] and c.stored_messages == 5 and c.stored_readings == 5
    with pytest.raises(ValueError, match="writers must be at least 1"):
        Consumer(MqttConfig("mqtt://127.0.0.1:9"), None, tz="UTC", writers=0)  # type: ignore[arg-type]


def test_a_server_started_during_a_broker_outage_keeps_mqtt_5(
    migrated: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker that is down says nothing about MQTT 5: the consumer waits for it and then
    connects with MQTT 5 (it used to fall back to 3.1.1 for good 5 s after starting, losing
    the shared subscription and the session expiry)."""
    import server.ingest.consumer as consumer_module
    from tests.conftest import PrivateBroker

    monkeypatch.setattr(consumer_module, "CONNACK_WAIT_S", 1.0, raising=False)
    broker = PrivateBroker(str(tmp_path))
    pool = open_pool(migrated)
    c = Consumer(
        MqttConfig(broker.url, root="mltest-outage", share_group="g", client_id="srv-outage"),
        pool,
        tz="Asia/Shanghai",
    )
    c.start()
    try:
        time.sleep(6.0)  # longer than any wait for a CONNACK, with nothing listening
        assert not c.connected.is_set() and c.protocol == mqtt.MQTTv5
        broker.start()
        assert c.connected.wait(40)
        assert c.protocol == mqtt.MQTTv5
    finally:
        c.stop()
        pool.close()
        broker.stop()


def test_a_message_our_code_fails_on_is_kept_and_the_decoder_goes_on(
    migrated: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A defect in decoding (not a bad message: an exception the wire layer does not
    promise) must neither stop the decoder thread nor lose the message: it is kept as a
    dead letter with the error, and the next message is stored as usual."""
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}])
    real = wire.decode_readings_rows
    calls = {"n": 0}

    def flaky(payload: bytes) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyError("a bug")
        return real(payload)

    monkeypatch.setattr(wire, "decode_readings_rows", flaky)
    pool = open_pool(migrated)
    try:
        c = Consumer(MqttConfig("mqtt://127.0.0.1:9"), pool, tz="Asia/Shanghai")
        msgs = []
        for start in (0, 10):
            m = mqtt.MQTTMessage(
                mid=start + 1, topic=wire.topic("gw-1", wire.Channel.READINGS).encode()
            )
            m.payload = batch("gw-1", ["M1"], 10, start=start)
            msgs.append(m)
        receipts = c._store(msgs)  # noqa: SLF001 - the handling without transport
    finally:
        pool.close()
    assert receipts == {"gw-1": ["gw-1-10"]}
    assert count(migrated) == 10
    assert (
        count(
            migrated,
            "SELECT count(*) FROM dead_letters WHERE reason LIKE 'could not be handled: KeyError%'",
        )
        == 1
    )
    assert "could not handle a message" in caplog.text


def test_each_consumer_counts_on_its_own_registry() -> None:
    """The ingest metrics live on a registry per consumer (the app's, or its own): two
    consumers in one process neither collide nor see each other's counts."""
    from prometheus_client import CollectorRegistry

    from server.ingest.metrics import IngestMetrics

    registry = CollectorRegistry()
    cfg = MqttConfig("mqtt://127.0.0.1:9")
    a = Consumer(cfg, None, tz="UTC", metrics=IngestMetrics(registry))  # type: ignore[arg-type]
    b = Consumer(cfg, None, tz="UTC")  # type: ignore[arg-type]
    m = mqtt.MQTTMessage(mid=1, topic=wire.topic("gw-1", wire.Channel.STATUS).encode())
    m.payload = wire.encode_status(wire.GatewayStatus("gw-1", True, NOW))
    job = a._prepare(0, [m])  # noqa: SLF001 - the decoding without transport
    assert [st.gateway for _, _, st in job.statuses] == ["gw-1"]
    labels = {"channel": "status"}
    assert a.metrics.registry is registry
    assert registry.get_sample_value("meterlink_ingest_messages_total", labels) == 1
    assert b.metrics.registry.get_sample_value("meterlink_ingest_messages_total", labels) is None


def test_the_apps_metrics_endpoint_serves_its_services_registry(
    migrated: str, mqtt_broker: Broker, tmp_path: Path
) -> None:
    """``/metrics`` serves the app's own registry: what its services count there, and the
    process metrics the default registry used to carry."""
    from fastapi.testclient import TestClient

    from server.api.app import create_app
    from server.context import AppContext
    from server.ingest.metrics import IngestMetrics

    from .conftest import settings_for

    class Counting:
        def __init__(self, ctx: AppContext) -> None:
            IngestMetrics(ctx.metrics).messages.labels("status").inc(2)

        def start(self) -> None:
            pass

        def stop(self) -> None:
            pass

    app = create_app(settings_for(migrated, mqtt_broker.url, tmp_path), services=[Counting])
    with TestClient(app) as client:
        body = client.get("/metrics").text
    assert 'meterlink_ingest_messages_total{channel="status"} 2.0' in body
    assert "process_cpu_seconds_total" in body


CRASHING_EDGE = """
import sys, time
from datetime import UTC, datetime
from edge.config import config_from_dict
from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import wire
cfg = config_from_dict({"gateway": {"id": "gw-crash"},
    "broker": {"url": sys.argv[2], "root": sys.argv[3]},
    "bus": [{"name": "b", "port": "socket://127.0.0.1:9", "meter": [{"id": "M1",
             "address": "000000000001"}]}]})
up = Uplink(cfg.broker, "gw-crash", Outbox(sys.argv[1]), on_command=lambda p: None,
            status=lambda: wire.GatewayStatus("gw-crash", True, datetime.now(UTC)),
            status_every_s=0.2)
up.start()
while True:
    time.sleep(0.05)
"""


def test_a_crashed_edge_is_marked_offline_by_its_last_will(
    consumer: Consumer, migrated: str, mqtt_broker: Broker, topic_prefix: str, tmp_path: Path
) -> None:
    """kill -9 an edge: the broker publishes its will (stamped when the edge connected, older
    than every status it sent since), and the server marks the gateway offline."""
    started = datetime.now(UTC)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CRASHING_EDGE,
            str(tmp_path / "o.sqlite"),
            mqtt_broker.url,
            topic_prefix,
        ],
        cwd=Path(__file__).resolve().parents[2],
    )
    sql = "SELECT count(*) FROM gateways WHERE id = 'gw-crash' AND online"
    try:
        assert wait_for(lambda: count(migrated, sql) == 1)
        time.sleep(1.0)  # several statuses, each later than the will's stamp, are stored
        with psycopg.connect(migrated) as conn:
            row = conn.execute("SELECT status_at FROM gateways").fetchone()
        assert row is not None and row[0] > started + timedelta(seconds=0.5)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert wait_for(lambda: count(migrated, sql) == 0)
    with psycopg.connect(migrated) as conn:
        reason = conn.execute("SELECT status->>'reason' FROM gateways").fetchone()
        dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    assert reason == ("last will",) and dead == (0,)
