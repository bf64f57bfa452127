"""What the edge believes of receipts, and the size of what it sends (real Mosquitto).

A receipt deletes readings only for a batch this gateway sent and that awaits one; batch ids
carry 64 random bits, so nobody who did not see a batch can name it; a batch the wire would
refuse for its size is split before it is sent.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from edge.config import config_from_dict
from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import wire
from protocols.model import Reading
from tests.conftest import Broker

GW = "gw-rcpt"
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=5)
BATCH_ID = re.compile(r"[0-9]+-[0-9]+-[0-9a-f]{16}")


class Server:
    """Stands in for the server: records each batch (id, size, readings) and, when told to,
    sends the receipt for it."""

    def __init__(self, broker: Broker, root: str, *, receipts: bool) -> None:
        self.root, self.receipts = root, receipts
        self.batches: list[tuple[str, int, int]] = []  # (batch id, payload bytes, readings)
        self.lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.c.on_message = self._on_message
        self.c.connect(broker.host, broker.port)
        self.c.subscribe(wire.topic(GW, wire.Channel.READINGS, root), qos=1)
        self.c.loop_start()
        time.sleep(0.2)

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        batch = wire.decode_readings(msg.payload)
        with self.lock:
            self.batches.append((batch.batch_id, len(msg.payload), len(batch.readings)))
        if self.receipts:
            self.receipt([batch.batch_id])

    def receipt(self, ids: list[str], gateway: str = GW) -> None:
        payload = wire.encode_receipt(wire.Receipt(gateway, tuple(ids), datetime.now(UTC)))
        self.c.publish(wire.topic(GW, wire.Channel.RECEIPT, self.root), payload, qos=1)

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def uplink(broker: Broker, root: str, outbox: Outbox, **broker_over: Any) -> Uplink:
    cfg = config_from_dict(
        {
            "gateway": {"id": GW},
            "broker": {"url": broker.url, "root": root, "batch_ms": 20, **broker_over},
            "bus": [
                {
                    "name": "b",
                    "port": "socket://127.0.0.1:9",
                    "meter": [{"id": "M1", "address": "000000000001"}],
                }
            ],
        }
    )
    return Uplink(
        cfg.broker,
        GW,
        outbox,
        on_command=lambda p: None,
        status=lambda: wire.GatewayStatus(GW, True, datetime.now(UTC)),
    )


def readings(n: int, meter: str = "M1") -> list[Reading]:
    return [
        Reading(meter, "energy_import_total", T0 + timedelta(minutes=15 * i), float(i))
        for i in range(n)
    ]


def wait(cond: Any, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_forged_and_guessed_receipts_delete_nothing_and_the_real_one_does(
    tmp_path: Path, mqtt_broker: Broker, topic_prefix: str
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add(readings(30))
    server = Server(mqtt_broker, topic_prefix, receipts=False)
    up = uplink(mqtt_broker, topic_prefix, outbox, batch_max=10)
    up.start()
    try:
        assert wait(lambda: len(server.batches) >= 3)
        sent = [b[0] for b in server.batches]
        assert all(BATCH_ID.fullmatch(b) for b in sent), sent
        # what a client that did not see the batches can send: the old predictable ids,
        # their first-last part, a receipt in another gateway's name
        server.receipt([f"{GW}-1-10", f"{GW}-11-20", "1-10", "11-20", "21-30"])
        server.receipt([b.rsplit("-", 1)[0] + "-0000000000000000" for b in sent])
        server.receipt(sent, gateway="gw-other")
        assert wait(lambda: up.ignored_receipts >= 5 + 3 + 3)
        assert outbox.depth() == 30, "a forged receipt deleted readings"
        server.receipt(sent[:1])  # the server's word for one batch
        assert wait(lambda: outbox.depth() == 20)
        server.receipt(sent[:1])  # a repeat deletes nothing more
        assert wait(lambda: up.ignored_receipts >= 12)
        assert outbox.depth() == 20
    finally:
        up.stop()
        server.close()
        outbox.close()


def test_a_resent_batch_gets_a_new_id(
    tmp_path: Path, mqtt_broker: Broker, topic_prefix: str
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add(readings(5))
    server = Server(mqtt_broker, topic_prefix, receipts=False)
    up = uplink(mqtt_broker, topic_prefix, outbox, receipt_timeout_s=5)
    up.start()
    try:
        assert wait(lambda: len(server.batches) >= 2, timeout=40), "no resend after the timeout"
        first, again = server.batches[0][0], server.batches[1][0]
        assert first != again and first.split("-")[:2] == again.split("-")[:2]
        server.receipt([first])  # late for the first send: ignored, the resend awaits its own
        server.receipt([again])
        assert wait(lambda: outbox.depth() == 0)
    finally:
        up.stop()
        server.close()
        outbox.close()


@pytest.mark.slow
def test_a_batch_over_the_wire_limit_is_split_and_all_of_it_arrives(
    tmp_path: Path, mqtt_broker: Broker, topic_prefix: str
) -> None:
    """20,000 readings of a meter with a 64-character id encode to about 5 MB: one batch
    would be refused by the server (and by a broker's packet limit)."""
    outbox = Outbox(tmp_path / "outbox.sqlite")
    n = 20_000
    outbox.add(readings(n, meter="M" * 64))
    one = len(wire.batch_of(GW, "1-20000-0123456789abcdef", readings(n, "M" * 64), T0))
    assert one > wire.MAX_PAYLOAD_BYTES  # the premise: this would not fit in one message
    server = Server(mqtt_broker, topic_prefix, receipts=True)
    up = uplink(mqtt_broker, topic_prefix, outbox, batch_max=20_000)
    up.start()
    try:
        assert wait(lambda: outbox.depth() == 0, timeout=120)
        with server.lock:
            sizes = [b[1] for b in server.batches]
            count = sum(b[2] for b in server.batches)
        assert max(sizes) <= wire.MAX_PAYLOAD_BYTES
        assert count >= n and len(sizes) >= 2
        assert outbox.dropped == 0
    finally:
        up.stop()
        server.close()
        outbox.close()


def test_batches_are_split_to_fit_and_a_reading_that_never_fits_is_dropped_counted(
    tmp_path: Path, mqtt_broker: Broker, topic_prefix: str
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add(readings(6))
    server = Server(mqtt_broker, topic_prefix, receipts=True)
    up = uplink(mqtt_broker, topic_prefix, outbox, batch_max=6)
    one = len(wire.batch_of(GW, "1-1-0123456789abcdef", readings(1), T0))
    up.max_payload_bytes = one + 60  # room for one reading a message, not two
    up.start()
    try:
        assert wait(lambda: outbox.depth() == 0)
        with server.lock:
            assert [b[2] for b in server.batches] == [1] * 6
            assert max(b[1] for b in server.batches) <= up.max_payload_bytes
        assert outbox.dropped == 0
        up.max_payload_bytes = 100  # no reading fits any more: it can never be sent
        outbox.add(readings(2))
        assert wait(lambda: outbox.depth() == 0)
        assert outbox.dropped == 2
        with server.lock:
            assert len(server.batches) == 6
    finally:
        up.stop()
        server.close()
        outbox.close()
