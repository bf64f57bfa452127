"""Backlog replay after an outage, with live reading going on: readings/s drained from the
outbox to the broker (acknowledged), and how long live readings wait meanwhile.

Run: ``python -m tests.benchmarks.bench_outbox_replay [--backlog 100000]``
Uses METERLINK_LOAD_MQTT_URL (a broker without queue limits) or mqtt://127.0.0.1:1883.
Target: >= 5,000 readings/s while live readings are not starved.

With ``--delivery receipt`` (the default, as in the field) a stand-in for the server answers
every batch with a receipt, and only receipts empty the outbox; ``--delivery puback`` lets
the broker's acknowledgement do it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from edge.config import config_from_dict
from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import wire
from protocols.model import Reading

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def receipter(url: str, root: str, gateway: str) -> mqtt.Client:
    """Answers each readings batch with a receipt, as the server does after committing."""
    host, port = url.split("//")[1].rsplit(":", 1)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"receipter-{root}")

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        batch_id = json.loads(msg.payload)["batch_id"]
        client.publish(
            wire.topic(gateway, wire.Channel.RECEIPT, root),
            wire.encode_receipt(wire.Receipt(gateway, (batch_id,), datetime.now(UTC))),
            qos=1,
        )

    c.on_message = on_message
    c.connect(host, int(port))
    c.subscribe(wire.topic(gateway, wire.Channel.READINGS, root), qos=1)
    c.loop_start()
    time.sleep(0.3)
    return c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backlog", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--delivery", choices=("receipt", "puback"), default="receipt")
    args = ap.parse_args()
    url = os.environ.get("METERLINK_LOAD_MQTT_URL", "mqtt://127.0.0.1:1883")
    with tempfile.TemporaryDirectory() as tmp:
        box = Outbox(Path(tmp) / "o.sqlite", 2 * 1024**3)
        for k in range(0, args.backlog, 5000):
            box.add(
                [
                    Reading(
                        f"M{i % 256:03d}",
                        "energy_import_total",
                        T0 + timedelta(minutes=15 * ((k + i) // 256)),
                        float(k + i),
                    )
                    for i in range(5000)
                ]
            )
        cfg = config_from_dict(
            {
                "gateway": {"id": "gw-bench"},
                "broker": {
                    "url": url,
                    "root": f"bench{os.getpid()}",
                    "batch_max": args.batch,
                    "batch_ms": 20,
                    "delivery": args.delivery,
                },
                "bus": [
                    {
                        "name": "b",
                        "port": "socket://127.0.0.1:9",
                        "meter": [{"id": "M1", "address": "000000000001"}],
                    }
                ],
            }
        )
        up = Uplink(
            cfg.broker,
            "gw-bench",
            box,
            on_command=lambda p: None,
            status=lambda: wire.GatewayStatus("gw-bench", True, datetime.now(UTC)),
        )
        stop = threading.Event()
        waits: list[float] = []
        live_first_id: list[int] = []

        def live() -> None:  # 256 meters read every 0.5 s while the backlog drains
            n = 0
            while not stop.is_set():
                added = time.perf_counter()
                box.add(
                    [
                        Reading(
                            f"L{i:03d}",
                            "energy_import_total",
                            T0 + timedelta(days=400, minutes=n),
                            float(n),
                        )
                        for i in range(256)
                    ]
                )
                newest = box.take_newest(1).ids
                live_first_id.append(newest[0] if newest else 0)
                rid = live_first_id[-1]
                while not stop.is_set() and box.take(1, after_id=rid - 1).ids[:1] == [rid]:
                    time.sleep(0.01)
                waits.append(time.perf_counter() - added)
                n += 1
                stop.wait(max(0.0, 0.5 - (time.perf_counter() - added)))

        server = (
            receipter(url, f"bench{os.getpid()}", "gw-bench")
            if args.delivery == "receipt"
            else None
        )
        t0 = time.perf_counter()
        up.start()
        up.connected.wait(10)
        feeder = threading.Thread(target=live, daemon=True)
        feeder.start()
        while box.depth() > 0 and time.perf_counter() - t0 < 600:
            time.sleep(0.02)
        elapsed = time.perf_counter() - t0
        stop.set()
        feeder.join(10)
        up.stop()
        if server is not None:
            server.loop_stop()
            server.disconnect()
        total = box.counter("acked")
        print(
            f"replayed {args.backlog:,} backlog readings (+ live ones, {total:,} acked in "
            f"all) in {elapsed:.1f} s: {total / elapsed:,.0f} readings/s "
            f"(target >= 5,000), batches of {args.batch}, delivery by {args.delivery}"
        )
        if waits:
            waits.sort()
            print(
                f"live readings during the replay: {len(waits)} rounds of 256; time to "
                f"acknowledgement median {waits[len(waits) // 2]:.2f} s, max {waits[-1]:.2f} s"
            )


if __name__ == "__main__":
    main()
