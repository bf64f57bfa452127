"""The edge agent's uplink over TLS with a per-gateway password against the site broker
configuration of deploy/mosquitto, and its Prometheus endpoint."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from edge.config import config_from_dict
from edge.metrics import EdgeMetrics
from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import wire
from protocols.model import Reading
from tests.conftest import free_port

from .test_mosquitto_security import PASSWORDS, Peer, secure_broker  # noqa: F401


def test_uplink_over_tls_with_gateway_credentials(
    secure_broker: tuple[int, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    port, certs = secure_broker
    server = Peer(port, certs, "meterlink-server")
    assert server.connect()
    server.c.subscribe("meterlink/v1/gw/+/readings", 1)
    time.sleep(0.3)
    cfg = config_from_dict(
        {
            "gateway": {"id": "gw-a"},
            "broker": {
                "url": f"mqtts://localhost:{port}",
                "username": "gw-a",
                "password_env": "GW_PW",
                "ca_file": str(certs / "ca.crt"),
                "batch_ms": 20,
            },
            "bus": [
                {
                    "name": "b",
                    "port": "socket://127.0.0.1:9",
                    "meter": [{"id": "M1", "address": "000000000001"}],
                }
            ],
        },
        env={"GW_PW": PASSWORDS["gw-a"]},
    )
    box = Outbox(tmp_path / "o.sqlite")
    box.add([Reading("M1", "energy_import_total", datetime(2026, 11, 1, tzinfo=UTC), 12.5)])
    up = Uplink(
        cfg.broker,
        "gw-a",
        box,
        on_command=lambda p: None,
        status=lambda: wire.GatewayStatus("gw-a", True, datetime.now(UTC)),
    )
    up.start()
    try:
        assert up.connected.wait(10), "TLS connection with the gateway's password failed"
        deadline = time.monotonic() + 10
        batches: list[wire.ReadingsBatch] = []
        while not batches and time.monotonic() < deadline:
            time.sleep(0.05)
            batches = [
                wire.decode_readings(p) for t, p in list(server.got) if t.endswith("/readings")
            ]
        assert batches and batches[0].readings[0].value == 12.5
        assert box.depth() == 1  # the broker has it; the server has not said it is stored
        # the server's receipt passes the site ACL (server writes, gateway reads its own)
        server.c.publish(
            wire.topic("gw-a", wire.Channel.RECEIPT),
            wire.encode_receipt(wire.Receipt("gw-a", (batches[0].batch_id,), datetime.now(UTC))),
            qos=1,
        )
        while box.depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert box.depth() == 0
    finally:
        up.stop()
        server.close()


def test_metrics_endpoint() -> None:
    m = EdgeMetrics()
    m.transactions.labels("rs485-1").inc(3)
    m.response_time.labels("rs485-1").observe(0.2)
    m.set_outbox(42, 7.5, 1)
    listen = f"127.0.0.1:{free_port()}"
    server = m.serve(listen)
    try:
        body = urllib.request.urlopen(f"http://{listen}/metrics", timeout=5).read().decode()
    finally:
        server.shutdown()  # type: ignore[attr-defined]
    assert 'meterlink_bus_transactions_total{bus="rs485-1"} 3.0' in body
    assert "meterlink_outbox_depth 42.0" in body
    assert "meterlink_bus_response_seconds_bucket" in body
