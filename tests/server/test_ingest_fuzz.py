"""Mutated messages of every type a gateway sends, on a real broker and database, between
valid batches of other gateways, across a restart of the server (issue 16).

Gateway ``gw-x`` sends readings, statuses and command results mutated by the wire fuzzer
(hostile strings with NUL, lone surrogates and 10,000 characters, absurd numbers, wrong
types, missing and extra fields, flipped and truncated bytes). Half of the stream arrives
while the consumer is stopped, so the broker delivers it from the persistent session on
restart — the case in which one poisonous message used to stall ingestion again after every
restart. Every valid batch of ``gw-a`` and ``gw-b`` must be stored and receipted, every
message acknowledged, every message the wire refuses dead-lettered with a reason, and the
consumer must end healthy.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg

from protocols import wire
from server.db.pool import open_pool
from server.ingest.consumer import Consumer, MqttConfig
from tests.conftest import Broker
from tests.fuzz.test_wire_fuzz import encode, mutate_bytes, mutate_tree

from .helpers import add_meters

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
T0 = NOW - timedelta(days=4)  # 4 * ROUNDS quarter hours end before now
GOOD = ("gw-a", "gw-b")
ROUNDS = 60  # three hostile messages (readings, status, result) and two valid ones per round


def _wait(fn: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.1)
    return False


def _batch(gw: str, batch_id: str, meter: str, start: int, n: int = 4) -> bytes:
    readings = [
        wire.reading_from_dict(
            {
                "meter": meter,
                "quantity": "energy_import_total",
                "ts": wire.format_ts(T0 + timedelta(minutes=15 * (start + i))),
                "value": 100.0 + start + i,
            }
        )
        for i in range(n)
    ]
    return wire.batch_of(gw, batch_id, readings, NOW)


def _bases() -> dict[wire.Channel, bytes]:
    status = wire.encode_status(
        wire.GatewayStatus(
            "gw-x",
            True,
            NOW,
            "1.0",
            buses=(wire.BusHealth("bus-1", True, 5),),
            meters=(wire.MeterHealth("M-gw-x", "ok", NOW),),
        )
    )
    result = wire.encode_result(
        wire.CommandResult("c-unknown", "backfill", True, NOW, None, {"read": 1})
    )
    return {
        wire.Channel.READINGS: _batch("gw-x", "x-1", "M-gw-x", 0),
        wire.Channel.STATUS: status,
        wire.Channel.CMD_RESULT: result,
    }


def _refused_by_wire(channel: wire.Channel, payload: bytes) -> bool:
    decode = {
        wire.Channel.READINGS: wire.decode_readings_rows,
        wire.Channel.STATUS: wire.decode_status,
        wire.Channel.CMD_RESULT: wire.decode_result,
    }[channel]
    try:
        decode(payload)
    except wire.WireError:
        return True
    return False


def _consumer(url: str, broker: Broker, root: str) -> Consumer:
    pool = open_pool(url)
    c = Consumer(
        MqttConfig(broker.url, root=root, share_group=None, client_id=f"srv-{root}"),
        pool,
        tz="Asia/Shanghai",
        batch_ms=50,
        retention_days=30,
    )
    c.start()
    assert c.connected.wait(10)
    return c


def test_mutated_messages_of_every_type_across_a_restart(
    migrated: str, mqtt_broker: Broker, topic_prefix: str
) -> None:
    root = topic_prefix
    for gw in (*GOOD, "gw-x"):
        add_meters(migrated, [{"id": f"M-{gw}", "address": "000000000001"}], gateway=gw)
    rng = random.Random("ingest-fuzz")
    bases = _bases()
    receipts: list[wire.Receipt] = []
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.on_message = lambda c, u, m: receipts.append(wire.decode_receipt(m.payload))
    pub.connect(mqtt_broker.host, mqtt_broker.port)
    pub.loop_start()
    for gw in GOOD:
        pub.subscribe(wire.topic(gw, wire.Channel.RECEIPT, root), qos=1)

    refused = 0

    def send_round(i: int) -> int:
        nonlocal refused
        for gw in GOOD:
            good = _batch(gw, f"{gw}-{i}", f"M-{gw}", 4 * i)
            pub.publish(wire.topic(gw, wire.Channel.READINGS, root), good, qos=1)
        for channel, base in bases.items():
            if rng.random() < 0.3:
                payload = mutate_bytes(rng, base)
            else:
                payload = encode(mutate_tree(rng, json.loads(base)))
            refused += _refused_by_wire(channel, payload)
            topic = wire.topic("gw-x", channel, root)
            pub.publish(topic, payload, qos=1).wait_for_publish(20)
        return len(GOOD) + len(bases)

    first = _consumer(migrated, mqtt_broker, root)
    second: Consumer | None = None
    try:
        sent = sum(send_round(i) for i in range(ROUNDS // 3))
        assert _wait(lambda: first.stored_messages >= sent), first.health()
        before_stop = first.stored_messages
        first.stop()
        # while the server is down the broker keeps the rest for its persistent session
        queued = sum(send_round(i) for i in range(ROUNDS // 3, 2 * ROUNDS // 3))
        second = _consumer(migrated, mqtt_broker, root)
        more = sum(send_round(i) for i in range(2 * ROUNDS // 3, ROUNDS))
        total = queued + more
        assert _wait(lambda: second is not None and second.stored_messages >= total), (
            f"{second.stored_messages} of {total} acknowledged after the restart: {second.health()}"
        )
        assert before_stop == sent
        assert second.health() is None and second.oldest_unacked_s() == 0.0
        assert all(t.is_alive() for t in second._threads)  # noqa: SLF001
        expected = {(gw, f"{gw}-{i}") for gw in GOOD for i in range(ROUNDS)}
        assert _wait(lambda: {(r.gateway, b) for r in receipts for b in r.batches} >= expected)
    finally:
        pub.loop_stop()
        pub.disconnect()
        for c in (first, second):
            if c is not None:
                c.stop()
                c.pool.close()

    with psycopg.connect(migrated) as conn:
        per_meter = dict(
            conn.execute("SELECT meter_id, count(*) FROM readings GROUP BY meter_id").fetchall()
        )
        reasons = [
            r
            for (r,) in conn.execute(
                "SELECT reason FROM dead_letters WHERE topic LIKE %s", (f"{root}/%",)
            )
        ]
    for gw in GOOD:  # every valid reading of the good gateways, each once
        assert per_meter.get(f"M-{gw}") == 4 * ROUNDS, per_meter
    # nothing under another meter than the three of the archive
    assert set(per_meter) <= {"M-gw-a", "M-gw-b", "M-gw-x"}, per_meter
    assert refused > ROUNDS, refused  # the fuzzer produced mostly bad messages
    assert len(reasons) >= refused and all(reasons), (len(reasons), refused)
