"""The embedded broker (amqtt) is as safe as a site's Mosquitto: no anonymous clients, a
derived password per user, the topic ACL, no take-over by client id, packets capped; and a
demo-style edge with its generated password delivers end to end.

Every test runs against a real embedded broker on a free loopback port, with paho clients.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from fastapi.testclient import TestClient

from edge.config import config_from_dict
from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import wire
from protocols.model import Reading
from server.api.app import create_app
from server.broker_acl import SERVER_USER
from server.broker_credentials import BrokerCredentials
from server.broker_guard import MAX_PACKET_BYTES
from server.cli import main as server_cli
from server.embedded import EmbeddedBroker

from .conftest import settings_for
from .helpers import add_meters

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def topic(gw: str, channel: wire.Channel) -> str:
    return wire.topic(gw, channel)


class Probe:
    """One paho client (MQTT 3.1.1, as amqtt speaks) that records what happens to it."""

    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        *,
        client_id: str = "",
        clean: bool = True,
        will: str | None = None,
    ) -> None:
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=clean,
        )
        if username is not None:
            self.c.username_pw_set(username, password)
        if will is not None:
            self.c.will_set(will, b"will", qos=1)
        self.messages: list[tuple[str, bytes]] = []
        self.granted: dict[int, list[int]] = {}
        self.connack: Any = None
        self.answered = threading.Event()
        self.dropped = threading.Event()
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda *a: self.dropped.set()
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.c.on_subscribe = self._on_subscribe
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        self.answered.wait(10)

    def _on_connect(self, c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connack = reason
        self.answered.set()

    def _on_subscribe(self, c: Any, u: Any, mid: int, codes: Any, props: Any) -> None:
        self.granted[mid] = [int(getattr(r, "value", r)) for r in codes]

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, topic_filter: str) -> int:
        """The SUBACK code (1: granted at QoS 1, 128: refused)."""
        _, mid = self.c.subscribe(topic_filter, qos=1)
        deadline = time.monotonic() + 10
        while mid not in self.granted and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.granted[mid][0]

    def publish(self, topic_name: str, payload: bytes) -> None:
        self.c.publish(topic_name, payload, qos=1).wait_for_publish(10)

    def got(self, topic_name: str, payload: bytes) -> bool:
        return (topic_name, payload) in self.messages

    def wait_for(self, topic_name: str, payload: bytes, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.got(topic_name, payload):
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def creds(tmp_path: Path) -> BrokerCredentials:
    return BrokerCredentials.load_or_create(tmp_path)


@pytest.fixture
def broker(creds: BrokerCredentials) -> Iterator[EmbeddedBroker]:
    b = EmbeddedBroker(creds)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def probes(broker: EmbeddedBroker, creds: BrokerCredentials) -> Iterator[Any]:
    made: list[Probe] = []

    def make(user: str | None, password: str | None = None, **kw: Any) -> Probe:
        if user is not None and password is None:
            password = creds.password(user)
        p = Probe(broker.port, user, password, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def test_the_secret_is_made_once_with_mode_600_and_passwords_differ_per_user(
    tmp_path: Path,
) -> None:
    first = BrokerCredentials.load_or_create(tmp_path)
    again = BrokerCredentials.load_or_create(tmp_path)
    assert first.password("gw-a") == again.password("gw-a")
    assert (tmp_path / "broker_secret").stat().st_mode & 0o777 == 0o600
    assert first.password("gw-a") != first.password("gw-b") != first.password(SERVER_USER)
    other = BrokerCredentials.load_or_create(tmp_path / "elsewhere")
    assert other.password("gw-a") != first.password("gw-a")
    assert first.verify("gw-a", first.password("gw-a"))
    assert not first.verify("gw-b", first.password("gw-a"))
    assert not first.verify(None, first.password("gw-a"))


def test_anonymous_wrong_password_and_unknown_users_are_refused(
    probes: Any, creds: BrokerCredentials
) -> None:
    anonymous = probes(None)
    assert anonymous.answered.is_set() and not anonymous.accepted
    wrong = probes("gw-a", "not-the-password")
    assert wrong.answered.is_set() and not wrong.accepted
    assert probes("gw-a").accepted  # its own password
    assert not probes("gw-b", creds.password("gw-a")).accepted  # another gateway's
    bad_name = "no user"  # not a gateway id, even with the password derived for it
    assert not probes(bad_name, creds.password(bad_name)).accepted


def test_a_gateway_publishes_only_its_own_topics_and_never_receipts_or_commands(
    probes: Any,
) -> None:
    server = probes(SERVER_USER, client_id="srv")
    for channel in ("readings", "status", "cmd/result"):
        assert server.subscribe(f"meterlink/v1/gw/+/{channel}") == 1
    b = probes("gw-b", client_id="b")
    assert b.subscribe(topic("gw-b", wire.Channel.RECEIPT)) == 1
    assert b.subscribe(topic("gw-b", wire.Channel.CMD)) == 1
    a = probes("gw-a", client_id="a")
    assert a.accepted
    forged = [
        topic("gw-b", wire.Channel.READINGS),
        topic("gw-b", wire.Channel.STATUS),
        topic("gw-b", wire.Channel.CMD_RESULT),
        topic("gw-b", wire.Channel.RECEIPT),
        topic("gw-b", wire.Channel.CMD),
        topic("gw-a", wire.Channel.RECEIPT),  # not even its own: receipts are the server's
        topic("gw-a", wire.Channel.CMD),
    ]
    for name in forged:
        a.publish(name, b"forged")
    a.publish(topic("gw-a", wire.Channel.READINGS), b"mine")  # after the forgeries
    assert server.wait_for(topic("gw-a", wire.Channel.READINGS), b"mine")
    time.sleep(0.3)
    assert not [m for m in server.messages + b.messages if m[1] == b"forged"]


def test_a_gateway_cannot_subscribe_to_another_gateways_topics_and_the_server_can(
    probes: Any,
) -> None:
    a = probes("gw-a")
    assert a.subscribe(topic("gw-b", wire.Channel.CMD)) == 128
    assert a.subscribe(topic("gw-b", wire.Channel.RECEIPT)) == 128
    assert a.subscribe("meterlink/v1/gw/+/cmd") == 128
    assert a.subscribe("meterlink/v1/gw/+/readings") == 128
    assert a.subscribe("#") == 128
    assert a.subscribe(topic("gw-a", wire.Channel.CMD)) == 1
    assert a.subscribe(topic("gw-a", wire.Channel.RECEIPT)) == 1
    server = probes(SERVER_USER)
    assert server.subscribe("#") == 128
    assert server.subscribe("meterlink/v1/gw/+/receipt") == 128  # it writes them, never reads
    server.publish(topic("gw-a", wire.Channel.RECEIPT), b"receipt")
    server.publish(topic("gw-a", wire.Channel.CMD), b"command")
    assert a.wait_for(topic("gw-a", wire.Channel.RECEIPT), b"receipt")
    assert a.wait_for(topic("gw-a", wire.Channel.CMD), b"command")


def test_a_gateway_never_gets_another_gateways_retained_status(probes: Any) -> None:
    """amqtt on its own sends a connecting client the retained messages of every client's
    subscriptions: each demo edge got the others' statuses (and took them for commands)."""
    server = probes(SERVER_USER)
    assert server.subscribe("meterlink/v1/gw/+/status") == 1
    b = probes("gw-b")
    b.c.publish(topic("gw-b", wire.Channel.STATUS), b"b-status", qos=1, retain=True)
    assert server.wait_for(topic("gw-b", wire.Channel.STATUS), b"b-status")
    a = probes("gw-a", client_id="a", clean=False)
    assert a.subscribe(topic("gw-a", wire.Channel.CMD)) == 1
    a.close()
    again = probes("gw-a", client_id="a", clean=False)  # a session with subscriptions
    late = probes(SERVER_USER)
    assert late.subscribe("meterlink/v1/gw/+/status") == 1  # retained: the server gets it
    assert late.wait_for(topic("gw-b", wire.Channel.STATUS), b"b-status")
    time.sleep(0.3)
    assert not a.messages and not again.messages


def test_a_last_will_on_another_gateways_receipt_topic_is_refused_at_connect(
    probes: Any,
) -> None:
    assert not probes("gw-a", will=topic("gw-b", wire.Channel.RECEIPT)).accepted
    assert probes("gw-a", will=topic("gw-a", wire.Channel.STATUS)).accepted


def test_no_client_can_take_over_or_wipe_a_session_by_claiming_its_client_id(
    probes: Any,
) -> None:
    """amqtt on its own deletes or takes over the session of a CONNECT's client id before it
    checks the password; and sessions are shared across users by client id."""
    server = probes(SERVER_USER, client_id="meterlink-server-host", clean=False)
    assert server.subscribe("meterlink/v1/gw/+/readings") == 1
    intruder = probes(SERVER_USER, "wrong", client_id="meterlink-server-host")
    assert not intruder.accepted
    squatter = probes("gw-a", client_id="meterlink-server-host")  # a real user, other's id
    assert squatter.accepted
    time.sleep(0.3)
    assert not server.dropped.is_set(), "the server's connection was taken over"
    squatter.publish(topic("gw-a", wire.Channel.READINGS), b"still subscribed")
    assert server.wait_for(topic("gw-a", wire.Channel.READINGS), b"still subscribed")


def test_a_message_over_the_wire_limit_is_refused_and_its_sender_disconnected(
    probes: Any,
) -> None:
    server = probes(SERVER_USER)
    assert server.subscribe("meterlink/v1/gw/+/readings") == 1
    a = probes("gw-a")
    largest = b"x" * wire.MAX_PAYLOAD_BYTES
    a.publish(topic("gw-a", wire.Channel.READINGS), largest)
    assert server.wait_for(topic("gw-a", wire.Channel.READINGS), largest, timeout=30)
    big = probes("gw-big")
    big.c.publish(topic("gw-big", wire.Channel.READINGS), b"y" * MAX_PACKET_BYTES, qos=1)
    assert big.dropped.wait(10), "the broker kept reading an oversized packet"
    time.sleep(0.3)
    assert not [m for m in server.messages if m[0] == topic("gw-big", wire.Channel.READINGS)]
    assert not server.dropped.is_set()


def test_a_demo_style_edge_with_its_generated_password_delivers_end_to_end(
    migrated: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server with no broker URL starts the embedded broker; ``meterlink-server
    broker-password`` gives the edge its password; readings arrive, the receipt empties
    the outbox."""
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}], gateway="gw-demo")
    data = tmp_path / "server"
    settings = settings_for(migrated, "mqtt://127.0.0.1:9", data).model_copy(
        update={"mqtt_url": None}
    )
    app = create_app(settings)
    with TestClient(app):
        monkeypatch.setenv("METERLINK_DATA_DIR", str(data))
        monkeypatch.delenv("METERLINK_MQTT_URL", raising=False)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert server_cli(["broker-password", "gw-demo"]) == 0
        out = tmp_path / "pw"
        out.write_text(buf.getvalue())
        cfg = config_from_dict(
            {
                "gateway": {"id": "gw-demo"},
                "broker": {
                    "url": app.state.mqtt_url,
                    "protocol": "3.1.1",
                    "username": "gw-demo",
                    "password_file": str(out),
                    "batch_ms": 50,
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
        outbox = Outbox(tmp_path / "edge" / "outbox.sqlite")
        t0 = NOW - timedelta(days=2)
        outbox.add(
            [
                Reading("M1", "energy_import_total", t0 + timedelta(minutes=15 * i), float(i))
                for i in range(40)
            ]
        )
        up = Uplink(
            cfg.broker,
            "gw-demo",
            outbox,
            on_command=lambda p: None,
            status=lambda: wire.GatewayStatus("gw-demo", True, datetime.now(UTC)),
        )
        up.start()
        try:
            assert up.connected.wait(20), "the edge could not connect with its password"
            deadline = time.monotonic() + 30
            while outbox.depth() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert outbox.depth() == 0, "no receipt emptied the outbox"
        finally:
            up.stop()
            outbox.close()
        with psycopg.connect(migrated) as conn:
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
        assert row is not None and row[0] == 40
