"""A long broker outage at a gateway: 256 meters on 8 buses read on the default plans through
72 hours of virtual time with the broker down, then the broker comes back.

Run: ``python -m tests.benchmarks.bench_outage [--hours 72] [--buses 8] [--per-bus 32]``

The simulated meters and the whole edge agent (bus workers, plans, outbox with its journal,
uplink) run in this process; the uplink has no broker for the whole outage (a private
Mosquitto on a free loopback port is started only afterwards). Then a stand-in for the
server answers every batch with a receipt, as the server does once it has committed it.
Reported: readings committed during the outage, the outbox's size on disk, readings
dropped (must be 0: the budget is not reached), the replay time and rate, and whether every
reading the edge committed arrived (from the outbox journal).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge.agent import Agent
from edge.config import config_from_dict
from protocols import wire
from simulators.clock import VirtualClock
from simulators.harness import edge_config_dict, running_fleet
from tests.benchmarks.fleets import gateway_fleet
from tests.conftest import free_port
from tests.edge.conftest import LinkedClock

START = datetime(2026, 11, 1, 16, 1, tzinfo=UTC)  # 00:01 local


class Server:
    """Collects every reading published and answers each batch with a receipt."""

    def __init__(self, port: int, gateway: str) -> None:
        self.keys: set[tuple[str, str, str, str]] = set()
        self.lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-server")
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.subscribe(wire.topic(gateway, wire.Channel.READINGS), qos=1)
        self.c.loop_start()
        self.gateway = gateway

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        obj = json.loads(msg.payload)
        with self.lock:
            for r in obj["readings"]:
                self.keys.add((r["meter"], r["quantity"], r["ts"], r["kind"]))
        client.publish(
            wire.topic(self.gateway, wire.Channel.RECEIPT),
            wire.encode_receipt(wire.Receipt(self.gateway, (obj["batch_id"],), datetime.now(UTC))),
            qos=1,
        )

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=72.0)
    ap.add_argument("--buses", type=int, default=8)
    ap.add_argument("--per-bus", type=int, default=32)
    args = ap.parse_args()
    fleet = gateway_fleet(args.buses, args.per_bus, START, speed=0.0)
    port = free_port()
    sim_clock = VirtualClock(START, 0.0)
    with tempfile.TemporaryDirectory() as tmp, running_fleet(fleet, clock=sim_clock) as run:
        cfg = edge_config_dict(
            fleet, run.urls, "gw-outage", data_dir=tmp, broker_url=f"mqtt://127.0.0.1:{port}"
        )
        cfg["outbox"] = {"journal": True, "budget_mb": 1024}
        cfg["broker"]["batch_ms"] = 20
        for bus in cfg["bus"]:
            bus["gap_ms"] = 0
            bus["timeout_ms"] = 500
        agent = Agent(config_from_dict(cfg), clock=LinkedClock(START, sim_clock))
        agent.start(plans=False)
        t0 = time.perf_counter()
        agent.runtime.run_plans_until(START + timedelta(hours=args.hours))
        t_read = time.perf_counter() - t0
        depth, size = agent.outbox.depth(), agent.outbox.size_bytes()
        meters = args.buses * args.per_bus
        print(
            f"{meters} meters, {args.hours:g} h of virtual time with the broker down "
            f"(read in {t_read:.0f} s): {depth:,} readings in the outbox, "
            f"{size / 1024**2:.1f} MB on disk, {agent.outbox.dropped} dropped"
        )
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
            "max_queued_messages 0\npersistence false\n"
        )
        broker = subprocess.Popen(
            [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.3)
            server = Server(port, "gw-outage")
            t1 = time.perf_counter()
            agent.uplink.connected.wait(120)
            t_connect = time.perf_counter() - t1  # the uplink's reconnect back-off (≤ 30 s)
            while agent.outbox.depth() > 0 and time.perf_counter() - t1 < 1800:
                time.sleep(0.05)
            t_replay = time.perf_counter() - t1
            # kind in the key: the interval sample at 00:00 and the register frozen at 00:00
            # are two readings of the same quantity at the same time
            committed = {
                (r.meter, r.quantity, wire.format_ts(r.ts), r.kind.value)
                for r in agent.outbox.journaled()
            }
            time.sleep(0.5)
            with server.lock:
                missing = committed - server.keys
            print(
                f"broker back: reconnected in {t_connect:.1f} s, outbox emptied by receipts "
                f"in {t_replay:.1f} s ({depth / t_replay:,.0f} readings/s; "
                f"{depth / max(t_replay - t_connect, 1e-3):,.0f} /s once connected); "
                f"{len(committed):,} distinct "
                f"readings committed, {len(committed) - len(missing):,} arrived, "
                f"{len(missing)} missing"
            )
            server.close()
        finally:
            agent.stop()
            broker.terminate()
            broker.wait(10)


if __name__ == "__main__":
    main()
