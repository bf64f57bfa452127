"""Hostile messages against a real broker and database: none of them stops, blocks or
corrupts the storing of the valid messages around them (issue 16).

Each class the attack on a running server found is sent between valid batches of other
gateways; the valid ones must all be stored and receipted, each bad one must be kept as a
dead letter with a reason that names what was wrong, and the consumer must end with nothing
unacknowledged and every worker alive. The same stream is sent once more with the wire's
text checks switched off, so the writer's own isolation (the second line of defence) is
tried with strings PostgreSQL cannot store.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
import pytest

from protocols import wire
from protocols.wire import codec
from server.db.pool import open_pool
from server.db.queries.ingest import DEAD_LETTER_PAYLOAD_MAX
from server.ingest.consumer import Consumer, MqttConfig
from tests.conftest import Broker

from .helpers import add_meters
from .test_ingest import _set_read_only

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
T0 = NOW - timedelta(days=2)
GOOD_GATEWAYS = ("gw-a", "gw-b")


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _wait(fn: object, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def _raw(obj: dict[str, object]) -> bytes:
    """JSON as a hostile peer may send it: ASCII escapes carry NUL and lone surrogates."""
    return json.dumps(obj).encode()


def _reading(meter: str, i: int) -> dict[str, object]:
    ts = (T0 + timedelta(minutes=15 * i)).isoformat().replace("+00:00", "Z")
    return {"meter": meter, "quantity": "energy_import_total", "ts": ts, "value": float(i)}


def _readings(gw: str, batch_id: str, meter: str, start: int, n: int = 4) -> bytes:
    return _raw(
        {
            "schema": 1,
            "gateway": gw,
            "batch_id": batch_id,
            "sent_at": NOW.isoformat().replace("+00:00", "Z"),
            "readings": [_reading(meter, start + i) for i in range(n)],
        }
    )


def _status(gw: str, **over: object) -> bytes:
    obj: dict[str, object] = {
        "schema": 1,
        "gateway": gw,
        "online": True,
        "ts": NOW.isoformat().replace("+00:00", "Z"),
        "version": "1.0",
    }
    obj.update(over)
    return _raw(obj)


def hostile_messages(root: str) -> list[tuple[str, str, bytes]]:
    """(what, topic, payload) for each class of bad message, all from gateway ``gw-x``."""
    readings = wire.topic("gw-x", wire.Channel.READINGS, root)
    status = wire.topic("gw-x", wire.Channel.STATUS, root)
    result = wire.topic("gw-x", wire.Channel.CMD_RESULT, root)
    return [
        ("NUL in a meter id", readings, _readings("gw-x", "b1", "M\x00", 0)),
        ("lone surrogate in a meter id", readings, _readings("gw-x", "b2", "M\ud800", 0)),
        ("NUL in a batch id", readings, _readings("gw-x", "b\x00", "MX", 0)),
        ("lone surrogate in a batch id", readings, _readings("gw-x", "b\udc80", "MX", 0)),
        ("10,000-character meter id", readings, _readings("gw-x", "b3", "M" * 10_000, 0)),
        ("NUL in a status version", status, _status("gw-x", version="v\x00")),
        ("lone surrogate in a status reason", status, _status("gw-x", reason="\ud800")),
        (
            "NUL in a status bus name",
            status,
            _status("gw-x", buses=[{"name": "b\x00", "ok": True}]),
        ),
        ("status from 2099", status, _status("gw-x", ts="2099-01-01T00:00:00Z")),
        (
            "NUL in a command result",
            result,
            _raw({"schema": 1, "id": "c\x00", "ok": True, "result": {"k\x00": "v\x00"}}),
        ),
        ("oversized payload", readings, b"{" + b" " * (wire.MAX_PAYLOAD_BYTES - 1) + b"}"),
    ]


@pytest.fixture
def consumer(migrated: str, mqtt_broker: Broker, topic_prefix: str) -> Iterator[Consumer]:
    for gw in (*GOOD_GATEWAYS, "gw-x"):
        add_meters(migrated, [{"id": f"M-{gw}", "address": "000000000001"}], gateway=gw)
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


def _run_stream(consumer: Consumer, migrated: str, broker: Broker, root: str) -> list[str]:
    """Valid batches of the good gateways interleaved with every hostile message; returns
    the dead letters' reasons after everything is acknowledged."""
    receipts: list[wire.Receipt] = []
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.on_message = lambda c, u, m: receipts.append(wire.decode_receipt(m.payload))
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    try:
        for gw in GOOD_GATEWAYS:
            pub.subscribe(wire.topic(gw, wire.Channel.RECEIPT, root), qos=1)
        time.sleep(0.3)
        bad = hostile_messages(root)
        sent = 0
        for i, (_, topic, payload) in enumerate(bad):
            for gw in GOOD_GATEWAYS:  # a valid batch before and after every bad message
                good = wire.topic(gw, wire.Channel.READINGS, root)
                pub.publish(good, _readings(gw, f"{gw}-{i}", f"M-{gw}", i * 4), qos=1)
                sent += 1
            pub.publish(topic, payload, qos=1).wait_for_publish(10)
            sent += 1
        total = sent
        assert _wait(lambda: consumer.stored_messages >= total, 60), (
            f"only {consumer.stored_messages} of {total} messages acknowledged: {consumer.health()}"
        )
        good_readings = len(GOOD_GATEWAYS) * len(bad) * 4
        assert _count(migrated, "SELECT count(*) FROM readings") == good_readings
        expected = {(gw, f"{gw}-{i}") for gw in GOOD_GATEWAYS for i in range(len(bad))}
        assert _wait(lambda: {(r.gateway, b) for r in receipts for b in r.batches} >= expected)
        assert consumer.health() is None
        assert consumer.oldest_unacked_s() == 0.0
        assert all(t.is_alive() for t in consumer._threads)  # noqa: SLF001
        with psycopg.connect(migrated) as conn:
            rows = conn.execute(
                "SELECT reason, octet_length(payload), payload_size FROM dead_letters "
                "WHERE gateway_id = 'gw-x' OR gateway_id IS NULL ORDER BY id"
            ).fetchall()
        assert all(kept <= DEAD_LETTER_PAYLOAD_MAX and kept <= size for _, kept, size in rows)
        return [r[0] for r in rows]
    finally:
        pub.loop_stop()
        pub.disconnect()


def test_hostile_messages_are_refused_at_the_wire_and_stop_nothing(
    consumer: Consumer, migrated: str, mqtt_broker: Broker, topic_prefix: str
) -> None:
    reasons = _run_stream(consumer, migrated, mqtt_broker, topic_prefix)
    assert len(reasons) == len(hostile_messages(topic_prefix)), reasons
    text = "\n".join(reasons)
    for expected in (
        'readings[0].meter: "M\\u0000" is not a valid id',
        'readings[0].meter: "M\\ud800" is not a valid id',
        'batch_id: "b\\u0000" is not a valid id',
        'batch_id: "b\\udc80" is not a valid id',
        "version: text contains a NUL character",
        "reason: text is not valid Unicode (a lone surrogate)",
        "buses[0].name: text contains a NUL character",
        "status time 2099-01-01T00:00:00+00:00 is more than 900 s in the future",
        "exceeds 4194304",
    ):
        assert expected in text, f"{expected!r} not among the reasons:\n{text}"


def test_the_writer_isolates_what_the_wire_let_through(
    consumer: Consumer,
    migrated: str,
    mqtt_broker: Broker,
    topic_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the wire's checks switched off, strings PostgreSQL cannot store reach the
    writer: each such message alone is dead-lettered with the database's reason, and the
    valid messages in the same batches are stored and receipted."""
    monkeypatch.setattr(codec, "_ID", re.compile(r".{1,64}", re.S))
    monkeypatch.setattr(codec, "text_fault", lambda value: None)
    reasons = _run_stream(consumer, migrated, mqtt_broker, topic_prefix)
    stored = [r for r in reasons if r.startswith("could not be stored: ")]
    assert stored, reasons
    assert any("NUL" in r or "0x00" in r for r in stored), stored
    assert any("surrogate" in r for r in stored), stored


def test_a_stale_status_is_dead_lettered_and_a_repeat_is_not(
    consumer: Consumer, migrated: str, mqtt_broker: Broker, topic_prefix: str
) -> None:
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect(mqtt_broker.host, mqtt_broker.port)
    pub.loop_start()
    topic = wire.topic("gw-a", wire.Channel.STATUS, topic_prefix)
    older = (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    try:
        for payload in (_status("gw-a"), _status("gw-a"), _status("gw-a", ts=older)):
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        assert _wait(lambda: consumer.stored_messages >= 3)
    finally:
        pub.loop_stop()
        pub.disconnect()
    with psycopg.connect(migrated) as conn:
        reasons = [r for (r,) in conn.execute("SELECT reason FROM dead_letters")]
        (status_at,) = conn.execute("SELECT status_at FROM gateways WHERE id = 'gw-a'").fetchone()
    assert status_at == NOW
    assert len(reasons) == 1 and reasons[0].startswith("stale status: its time "), reasons


def test_a_stall_is_visible_in_readiness(
    consumer: Consumer, migrated: str, mqtt_broker: Broker, topic_prefix: str
) -> None:
    """While the database refuses writes the message waits unacknowledged; past the stall
    limit health() says so (``/health/ready`` answers 503 with it), and once the database is
    back the message is stored and health is clear again."""
    consumer.stall_s = 1.0
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect(mqtt_broker.host, mqtt_broker.port)
    pub.loop_start()
    _set_read_only(migrated, True)
    try:
        topic = wire.topic("gw-a", wire.Channel.READINGS, topic_prefix)
        pub.publish(topic, _readings("gw-a", "s1", "M-gw-a", 0), qos=1).wait_for_publish(5)
        assert _wait(lambda: (consumer.health() or "").startswith("ingestion stalled"), 20)
        assert consumer.oldest_unacked_s() > 1.0
    finally:
        _set_read_only(migrated, False)
        pub.loop_stop()
        pub.disconnect()
    assert _wait(lambda: consumer.stored_messages == 1, 40)
    assert consumer.health() is None
    assert _count(migrated, "SELECT count(*) FROM readings") == 4


def test_a_worker_that_raises_is_restarted_and_resumes_its_batch(
    consumer: Consumer,
    migrated: str,
    mqtt_broker: Broker,
    topic_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A defect that escapes a worker (here: the first acknowledgement raises) is logged,
    counted and the worker restarted with what it held: the batch is stored once and
    acknowledged, later ones follow."""
    original = consumer._finish  # noqa: SLF001
    failures = [1]

    def flaky(job: object) -> None:
        if failures:
            failures.pop()
            raise RuntimeError("injected defect")
        original(job)  # type: ignore[arg-type]

    monkeypatch.setattr(consumer, "_finish", flaky)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect(mqtt_broker.host, mqtt_broker.port)
    pub.loop_start()
    try:
        topic = wire.topic("gw-a", wire.Channel.READINGS, topic_prefix)
        for i in range(3):
            payload = _readings("gw-a", f"r{i}", "M-gw-a", 4 * i)
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        assert _wait(lambda: consumer.stored_messages == 3, 30), consumer.health()
    finally:
        pub.loop_stop()
        pub.disconnect()
    restarts = sum(
        s.value
        for metric in consumer.metrics.restarts.collect()
        for s in metric.samples
        if s.name.endswith("_total")
    )
    assert restarts == 1
    assert _count(migrated, "SELECT count(*) FROM readings") == 12
    assert _count(migrated, "SELECT count(*) FROM dead_letters") == 0
    assert consumer.health() is None


def test_one_gateways_receipt_that_cannot_be_sent_holds_back_no_other() -> None:
    """Found by CI under load: with the wire's checks off, a batch id that cannot be encoded
    made the receipt step raise for every gateway after it in the same acknowledgement."""
    published: list[str] = []

    class Client:
        def publish(self, topic: str, payload: bytes, qos: int) -> None:
            published.append(topic)

    c = Consumer(MqttConfig("mqtt://127.0.0.1:9", root="r"), pool=None, tz="Asia/Shanghai")  # type: ignore[arg-type]
    c._client = Client()  # type: ignore[assignment]  # noqa: SLF001
    c._send_receipts({"gw-x": ["b\udc80"], "gw-a": ["gw-a-1"]})  # noqa: SLF001
    assert published == [wire.topic("gw-a", wire.Channel.RECEIPT, "r")]
