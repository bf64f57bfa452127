"""deploy/mosquitto on a real Mosquitto: each refusal shown — a wrong password, plain text
where TLS is required, a gateway publishing as another, a gateway listening to another's
commands — and the allowed paths working, with a CA made by deploy/mosquitto/make-ca.sh."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from protocols.wire import MAX_PAYLOAD_BYTES
from server.broker_guard import MAX_PACKET_BYTES
from tests.conftest import IN_CI, free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
PASSWORDS = {"gw-a": "pw-a-secret", "gw-b": "pw-b-secret", "meterlink-server": "srv-secret"}


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    for tool in ("mosquitto", "mosquitto_passwd", "openssl"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            reason = f"{tool} is not installed (.ci/run installs mosquitto and openssl)"
            pytest.fail(reason) if IN_CI else pytest.skip(reason)
    certs = tmp_path / "certs"
    subprocess.run(
        ["bash", str(DEPLOY / "make-ca.sh"), str(certs), "localhost"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    for gw, pw in PASSWORDS.items():
        subprocess.run(
            ["bash", str(DEPLOY / "add-gateway.sh"), str(certs), gw],
            check=True,
            capture_output=True,
            timeout=60,
            env={**os.environ, "GATEWAY_PASSWORD": pw},
        )
    shutil.copy(DEPLOY / "acl", certs / "acl")
    port = free_port()
    conf = (DEPLOY / "mosquitto.conf").read_text()
    conf = (
        conf.replace("/etc/mosquitto/meterlink", str(certs))
        .replace("listener 8883", f"listener {port} 127.0.0.1")
        .replace("persistence true", "persistence false")
        .replace("persistence_location /var/lib/mosquitto/", "")
    )
    conf += "\nuser root\n"  # the test's files live in a private temporary folder
    (tmp_path / "mosquitto.conf").write_text(conf)
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen(
        [binary, "-c", str(tmp_path / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "no broker")
    try:
        yield port, certs
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


class Peer:
    def __init__(
        self, port: int, certs: Path, user: str, password: str | None = None, tls: bool = True
    ) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.connack: list[object] = []
        self.connected = threading.Event()
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{user}", protocol=mqtt.MQTTv311
        )
        self.c.username_pw_set(user, PASSWORDS.get(user) if password is None else password)
        if tls:
            self.c.tls_set(ca_certs=str(certs / "ca.crt"), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.got.append((m.topic, m.payload))
        self.port = port

    def _on_connect(self, c: object, u: object, flags: object, rc: object, p: object) -> None:
        self.connack.append(rc)
        if not getattr(rc, "is_failure", True):
            self.connected.set()

    def connect(self) -> bool:
        try:
            self.c.connect("localhost", self.port, keepalive=10)
        except (OSError, ssl.SSLError):
            return False
        self.c.loop_start()
        ok = self.connected.wait(5)
        return ok

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def test_refusals_and_allowed_paths(secure_broker: tuple[int, Path]) -> None:
    port, certs = secure_broker
    # a wrong password is refused
    wrong = Peer(port, certs, "gw-a", password="guess")
    assert not wrong.connect()
    assert wrong.connack and "not authori" in str(wrong.connack[0]).lower()
    wrong.close()
    # plain text where TLS is required: no MQTT session
    plain = Peer(port, certs, "gw-a", tls=False)
    assert not plain.connect()
    plain.close()
    server = Peer(port, certs, "meterlink-server")
    gw_a = Peer(port, certs, "gw-a")
    gw_b = Peer(port, certs, "gw-b")
    try:
        assert server.connect() and gw_a.connect() and gw_b.connect()
        server.c.subscribe("meterlink/v1/gw/+/readings", 1)
        gw_a.c.subscribe("meterlink/v1/gw/gw-a/cmd", 1)
        gw_a.c.subscribe("meterlink/v1/gw/gw-b/cmd", 1)  # someone else's commands
        time.sleep(0.5)
        gw_a.c.publish("meterlink/v1/gw/gw-a/readings", b"own", qos=1).wait_for_publish(5)
        server.c.publish("meterlink/v1/gw/gw-b/cmd", b"for-b", qos=1).wait_for_publish(5)
        server.c.publish("meterlink/v1/gw/gw-a/cmd", b"for-a", qos=1).wait_for_publish(5)
        time.sleep(1.0)
        assert ("meterlink/v1/gw/gw-a/readings", b"own") in server.got
        assert ("meterlink/v1/gw/gw-a/cmd", b"for-a") in gw_a.got
        assert not any(p == b"for-b" for _, p in gw_a.got)  # another's commands: not delivered
        # publishing as another gateway: refused by the broker (the 3.1.1 client is dropped)
        gw_a.c.publish("meterlink/v1/gw/gw-b/readings", b"forged", qos=1)
        time.sleep(1.0)
        assert not any(p == b"forged" for _, p in server.got)
    finally:
        for peer in (server, gw_a, gw_b):
            peer.close()


def test_client_certificate_is_signed_by_the_site_ca(secure_broker: tuple[int, Path]) -> None:
    _, certs = secure_broker
    out = subprocess.run(
        ["openssl", "verify", "-CAfile", str(certs / "ca.crt"), str(certs / "gw-a.crt")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and "OK" in out.stdout
    assert oct((certs / "gw-a.key").stat().st_mode & 0o777) == "0o600"


def test_a_packet_over_the_wire_limit_disconnects_its_sender(
    secure_broker: tuple[int, Path],
) -> None:
    """max_packet_size: the largest wire message passes, a larger packet is refused."""
    port, certs = secure_broker
    server, gw_a = Peer(port, certs, "meterlink-server"), Peer(port, certs, "gw-a")
    dropped = threading.Event()
    gw_a.c.on_disconnect = lambda *a: dropped.set()
    try:
        assert server.connect() and gw_a.connect()
        server.c.subscribe("meterlink/v1/gw/+/readings", 1)
        time.sleep(0.5)
        largest = b"x" * MAX_PAYLOAD_BYTES
        gw_a.c.publish("meterlink/v1/gw/gw-a/readings", largest, qos=1).wait_for_publish(30)
        deadline = time.monotonic() + 30
        while ("meterlink/v1/gw/gw-a/readings", largest) not in server.got:
            assert time.monotonic() < deadline, "the largest wire message did not pass"
            time.sleep(0.05)
        gw_a.c.publish("meterlink/v1/gw/gw-a/readings", b"y" * MAX_PACKET_BYTES, qos=1)
        assert dropped.wait(30), "an oversized packet was accepted"
        time.sleep(0.5)
        assert not any(p.startswith(b"y") for _, p in server.got)
    finally:
        server.close()
        gw_a.close()
