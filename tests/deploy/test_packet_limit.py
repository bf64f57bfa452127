"""Every broker meterlink ships a configuration for caps a packet at the same figure: the
wire's largest message (4 MiB) and 4 KiB for the topic and headers."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest

from protocols.wire import MAX_PAYLOAD_BYTES
from server.broker_guard import MAX_PACKET_BYTES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_figure_is_the_wire_limit_and_headroom() -> None:
    assert MAX_PACKET_BYTES == MAX_PAYLOAD_BYTES + 4096 == 4_198_400


@pytest.mark.parametrize(
    "path", ["mosquitto/mosquitto.conf", "scripts/mosquitto-load.sh"], ids=["site", "load"]
)
def test_mosquitto_configs_set_max_packet_size(path: str) -> None:
    text = (DEPLOY / path).read_text()
    assert re.findall(r"^max_packet_size (\d+)$", text, re.M) == [str(MAX_PACKET_BYTES)]


def test_emqx_sets_max_packet_size() -> None:
    text = (DEPLOY / "emqx" / "emqx.conf").read_text()
    (value,) = re.findall(r"^\s*max_packet_size = (\d+)KB$", text, re.M)
    assert int(value) * 1024 == MAX_PACKET_BYTES


def test_the_load_broker_refuses_an_oversized_packet(tmp_path: Path) -> None:
    """The benchmarks' broker (deploy/scripts/mosquitto-load.sh) in a private folder."""
    script = DEPLOY / "scripts" / "mosquitto-load.sh"
    env = {**os.environ, "METERLINK_LOAD_MQTT_HOME": str(tmp_path)}
    out = subprocess.run(
        ["bash", str(script), "start"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    url = out.stdout.strip().splitlines()[-1].split("=", 1)[1]
    port = urlsplit(url).port
    assert port is not None
    got: list[bytes] = []
    dropped = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    try:
        sub.on_message = lambda c, u, m: got.append(bytes(m.payload[:1]))
        sub.connect("127.0.0.1", port)
        sub.subscribe("t/#", 1)
        sub.loop_start()
        pub.on_disconnect = lambda *a: dropped.set()
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        time.sleep(0.3)
        pub.publish("t/ok", b"o" * MAX_PAYLOAD_BYTES, qos=1).wait_for_publish(30)
        pub.publish("t/big", b"b" * MAX_PACKET_BYTES, qos=1)
        assert dropped.wait(30), "the load broker accepted an oversized packet"
        time.sleep(0.5)
        assert got == [b"o"]
    finally:
        for c in (sub, pub):
            c.loop_stop()
            c.disconnect()
        subprocess.run(["bash", str(script), "stop"], env=env, timeout=60, check=False)
