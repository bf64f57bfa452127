"""The agent against a real broker: readings arrive, commands are answered, an outage of a
virtual day is delivered afterwards, and kill -9 while publishing loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from edge.agent import Agent
from edge.config import config_from_dict
from edge.outbox import Outbox
from protocols import wire
from simulators.harness import RunningFleet, edge_config_dict
from tests.conftest import Broker, PrivateBroker

from .conftest import START, LinkedClock


class Listener:
    """Collects what a gateway publishes under ``root`` and, as the server does once a batch
    is committed, answers each readings batch with a receipt (unless ``receipts`` is off)."""

    def __init__(self, host: str, port: int, root: str, *, receipts: bool = True) -> None:
        self.root, self.receipts = root, receipts
        self.readings: dict[tuple[str, str, datetime], float] = {}
        self.batches = 0
        self.sent_at: list[datetime] = []
        self.results: list[wire.CommandResult] = []
        self.status: list[wire.GatewayStatus] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"listener-{root}", clean_session=False
        )
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.subscribe(f"{root}/#", qos=1)
        self.client.loop_start()
        time.sleep(0.2)

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            if msg.topic.endswith("/readings"):
                batch = wire.decode_readings(msg.payload)
                self.batches += 1
                self.sent_at.append(batch.sent_at)
                for r in batch.readings:
                    self.readings[(r.meter, r.quantity, r.ts)] = r.value
                if self.receipts:
                    client.publish(
                        wire.topic(batch.gateway, wire.Channel.RECEIPT, self.root),
                        wire.encode_receipt(
                            wire.Receipt(batch.gateway, (batch.batch_id,), datetime.now(UTC))
                        ),
                        qos=1,
                    )
            elif msg.topic.endswith("/cmd/result"):
                self.results.append(wire.decode_result(msg.payload))
            elif msg.topic.endswith("/status"):
                self.status.append(wire.decode_status(msg.payload))

    def wait(self, cond: Any, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if cond(self):
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def agent_config(run: RunningFleet, tmp_path: Path, url: str, root: str, **broker: Any) -> Any:
    data = edge_config_dict(
        run.fleet, run.urls, "gw-test", broker_url=url, data_dir=str(tmp_path / "edge")
    )
    data["broker"]["root"] = root
    data["broker"]["batch_ms"] = 50
    data["broker"].update(broker)
    for bus in data["bus"]:
        bus["timeout_ms"] = 300
        bus["gap_ms"] = 0
    return config_from_dict(data)


def send_command(broker_host: str, port: int, root: str, payload: bytes) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.connect(broker_host, port)
    c.loop_start()
    c.publish(wire.topic("gw-test", wire.Channel.CMD, root), payload, qos=1).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()


def test_readings_and_commands_over_the_broker(
    running: RunningFleet, tmp_path: Path, mqtt_broker: Broker, topic_prefix: str
) -> None:
    listener = Listener(mqtt_broker.host, mqtt_broker.port, topic_prefix)
    agent = Agent(
        agent_config(running, tmp_path, mqtt_broker.url, topic_prefix),
        clock=LinkedClock(START, running.sim.clock),
    )
    agent.start(plans=False)
    try:
        assert agent.uplink.connected.wait(10)
        assert listener.wait(lambda s: any(st.online for st in s.status))
        cmd = wire.Command("c-1", wire.CommandName.READ_NOW, START, {"meter": "C1"})
        send_command(mqtt_broker.host, mqtt_broker.port, topic_prefix, wire.encode_command(cmd))
        assert listener.wait(lambda s: any(r.id == "c-1" for r in s.results))
        result = next(r for r in listener.results if r.id == "c-1")
        assert result.ok, result.error
        expected = running.sim.expected("C1")["energy_import_total"]
        assert listener.wait(
            lambda s: any(k[0] == "C1" and k[1] == "energy_import_total" for k in s.readings)
        )
        got = [
            v
            for k, v in listener.readings.items()
            if k[0] == "C1" and k[1] == "energy_import_total"
        ]
        assert got[0] == pytest.approx(expected, abs=0.005)
        # malformed and unknown commands get clear error results and change nothing
        send_command(mqtt_broker.host, mqtt_broker.port, topic_prefix, b"{not json")
        send_command(
            mqtt_broker.host,
            mqtt_broker.port,
            topic_prefix,
            json.dumps(
                {"schema": 1, "id": "c-2", "command": "explode", "issued_at": START.isoformat()}
            ).encode(),
        )
        send_command(
            mqtt_broker.host, mqtt_broker.port, topic_prefix, wire.encode_command(cmd)
        )  # the same id again: not run twice
        assert listener.wait(lambda s: len(s.results) >= 4)
        by_id = {r.id: r for r in listener.results}
        assert by_id["unknown"].ok is False and "malformed" in (by_id["unknown"].error or "")
        assert by_id["c-2"].ok is False and "command" in (by_id["c-2"].error or "")
        dup = [r for r in listener.results if r.id == "c-1"]
        assert len(dup) == 2 and dup[1].result.get("duplicate") is True
        assert listener.wait(lambda s: agent.outbox.depth() == 0)
    finally:
        agent.stop()
        listener.close()
    assert listener.wait(lambda s: not s.status[-1].online, 10)  # clean stop: offline
    assert listener.status[-1].reason == "shutdown"


def test_a_day_of_broker_outage_is_delivered_afterwards(
    running: RunningFleet, tmp_path: Path, private_broker: PrivateBroker, topic_prefix: str
) -> None:
    listener = Listener("127.0.0.1", private_broker.port, topic_prefix)
    clock = LinkedClock(START, running.sim.clock)
    # receipts due within 10 s: after the outage the agent may reconnect and publish before
    # the new listener has subscribed (the broker kept nothing), a race a loaded CI machine
    # makes likely; what no receipt answered is then sent again well within the wait below
    config = agent_config(running, tmp_path, private_broker.url, topic_prefix, receipt_timeout_s=10)
    agent = Agent(config, clock=clock)
    agent.start(plans=False)
    try:
        assert agent.uplink.connected.wait(10)
        private_broker.stop()  # the outage begins
        agent.runtime.run_plans_until(START + timedelta(hours=24))
        committed = agent.outbox.depth() + agent.outbox.counter("acked")
        assert committed > 96 * 7 * 5  # a day of interval readings for every meter
        assert agent.outbox.depth() > 0
        private_broker.start()  # the outage ends (the broker kept nothing: subscribe anew)
        listener.close()
        listener = Listener("127.0.0.1", private_broker.port, topic_prefix)
        t0 = time.monotonic()
        assert listener.wait(lambda s: agent.outbox.depth() == 0, timeout=120)
        replay_s = time.monotonic() - t0
        assert agent.outbox.dropped == 0
        # every reading committed during the outage is delivered (repeats merge by key)
        assert listener.wait(lambda s: len(s.readings) >= committed - 200, 30)
        print(f"replayed {committed} readings in {replay_s:.1f} s")
    finally:
        agent.stop()
        listener.close()


PUBLISHER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from edge.config import config_from_dict
from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import wire
cfg = config_from_dict({"gateway": {"id": "gw-kill"},
    "broker": {"url": sys.argv[2], "root": sys.argv[3], "batch_max": 50, "batch_ms": 10},
    "bus": [{"name": "b", "port": "socket://127.0.0.1:9", "meter": [{"id": "M1",
             "address": "000000000001"}]}]})
box = Outbox(sys.argv[1])
up = Uplink(cfg.broker, "gw-kill", box, on_command=lambda p: None,
            status=lambda: wire.GatewayStatus("gw-kill", True, datetime.now(UTC)))
up.start()
while True:
    time.sleep(0.05)
    print(box.depth(), flush=True)
"""


def test_kill_9_while_publishing_loses_nothing(
    tmp_path: Path, mqtt_broker: Broker, topic_prefix: str
) -> None:
    from .test_outbox import readings

    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    total = 3000
    for k in range(0, total, 100):
        box.add(readings(100, start=k))
    box.close()
    listener = Listener(mqtt_broker.host, mqtt_broker.port, topic_prefix)
    repo = Path(__file__).resolve().parents[2]
    try:
        for _ in range(10):
            proc = subprocess.Popen(
                [sys.executable, "-c", PUBLISHER, str(path), mqtt_broker.url, topic_prefix],
                stdout=subprocess.PIPE,
                text=True,
                cwd=repo,
            )
            assert proc.stdout is not None
            depth = int(proc.stdout.readline() or total)
            # kill while it is mid-stream (or at once when it is done)
            while depth > 0 and depth > total // 2 - 200 * _:
                line = proc.stdout.readline()
                if not line:
                    break
                depth = int(line)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
            box = Outbox(path)
            left = box.depth()
            box.close()
            if left == 0:
                break
        assert left == 0
        assert listener.wait(lambda s: len(s.readings) == total, 30), len(listener.readings)
    finally:
        listener.close()


RECEIPT_PUBLISHER = """
import sys, time
from datetime import UTC, datetime
from edge.config import config_from_dict
from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import wire
cfg = config_from_dict({"gateway": {"id": "gw-rcpt"},
    "broker": {"url": sys.argv[2], "root": sys.argv[3], "batch_max": 100, "batch_ms": 10,
               "receipt_timeout_s": 5},
    "bus": [{"name": "b", "port": "socket://127.0.0.1:9", "meter": [{"id": "M1",
             "address": "000000000001"}]}]})
box = Outbox(sys.argv[1])
up = Uplink(cfg.broker, "gw-rcpt", box, on_command=lambda p: None,
            status=lambda: wire.GatewayStatus("gw-rcpt", True, datetime.now(UTC)))
up.start()
while True:
    time.sleep(0.1)
    print(box.depth(), up.published_batches, up.resent_batches, flush=True)
"""


class Progress:
    """What a publisher subprocess prints (depth, published batches, resent batches), read as
    it comes: :meth:`state` returns a line printed after it was called, never one that waited
    in the pipe (after a wait of 40 s the next line in the pipe is 40 s old)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.stdout = proc.stdout
        self.cond = threading.Condition()
        self.lines = 0
        self.last = (0, 0, 0)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.stdout:  # until the process is killed
            depth, published, resent = (int(x) for x in line.split())
            with self.cond:
                self.last = (depth, published, resent)
                self.lines += 1
                self.cond.notify_all()

    def state(self) -> tuple[int, int, int]:
        with self.cond:
            seen = self.lines
            assert self.cond.wait_for(lambda: self.lines > seen, 10), "the publisher is silent"
            return self.last

    def close(self) -> None:
        """After the process is gone: the reader has met the end of the pipe."""
        self.reader.join(10)
        self.stdout.close()


def test_broker_ack_is_not_enough_readings_wait_for_the_servers_receipt(
    tmp_path: Path, mqtt_broker: Broker, topic_prefix: str
) -> None:
    """The broker acknowledges every batch but nobody stores them (no subscriber: the
    broker drops them, as a broker killed before delivering would): the gateway keeps
    them, sends them again when no receipt comes, and forgets them only on receipts."""
    from .test_outbox import readings

    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    total = 500
    box.add(readings(total))
    box.close()
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", RECEIPT_PUBLISHER, str(path), mqtt_broker.url, topic_prefix],
        stdout=subprocess.PIPE,
        text=True,
        cwd=repo,
    )
    progress = Progress(proc)
    state = progress.state
    listener = None
    try:
        deadline = time.monotonic() + 20
        while (st := state())[1] < total // 100 and time.monotonic() < deadline:
            pass
        assert st[1] >= total // 100, "the batches were not published"
        time.sleep(1)
        assert state()[0] == total, "PUBACKed batches must stay until a receipt"
        # a silent server: receipts off; the batches are sent again after the timeout
        quiet = Listener(mqtt_broker.host, mqtt_broker.port, topic_prefix, receipts=False)
        deadline = time.monotonic() + 20
        while (st := state())[2] < total // 100 and time.monotonic() < deadline:
            pass
        # delivered again (a batch resent before the listener's subscription was in place
        # comes once more, after the doubled timeout; each batch of a round is resent after
        # its own timeout, the back-off doubles once per round: see test_delivery_ledger)
        assert quiet.wait(lambda s: len(s.readings) == total, 40), len(quiet.readings)
        quiet.close()
        assert st[2] >= total // 100 and state()[0] == total, st  # and still kept
        # the server is back: receipts come, the outbox empties (the timeout has doubled
        # to 10 s, so allow for it)
        listener = Listener(mqtt_broker.host, mqtt_broker.port, topic_prefix)
        deadline = time.monotonic() + 90
        while (st := state())[0] > 0 and time.monotonic() < deadline:
            pass
        assert st[0] == 0, st
        assert len(listener.readings) == total
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        progress.close()
        if listener is not None:
            listener.close()


def _bare_uplink(tmp_path: Path, url: str) -> Any:
    from edge.uplink import Uplink

    cfg = config_from_dict(
        {
            "gateway": {"id": "gw-proto"},
            "broker": {"url": url, "root": "mltest-proto"},
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
        "gw-proto",
        Outbox(tmp_path / "o.sqlite"),
        on_command=lambda p: None,
        status=lambda: wire.GatewayStatus("gw-proto", True, datetime.now(UTC)),
    )


def test_batches_and_the_offline_status_are_stamped_by_the_uplinks_clock(
    tmp_path: Path, mqtt_broker: Broker, topic_prefix: str
) -> None:
    """A simulated week stamps what it sends with the simulated time, not the host's."""
    from edge.clock import ManualClock
    from edge.uplink import Uplink

    from .test_outbox import readings

    clock = ManualClock(START)
    cfg = config_from_dict(
        {
            "gateway": {"id": "gw-clock"},
            "broker": {"url": mqtt_broker.url, "root": topic_prefix, "batch_ms": 10},
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
    box.add(readings(5))
    listener = Listener(mqtt_broker.host, mqtt_broker.port, topic_prefix)
    up = Uplink(
        cfg.broker,
        "gw-clock",
        box,
        on_command=lambda p: None,
        status=lambda: wire.GatewayStatus("gw-clock", True, clock.now()),
        clock=clock,
    )
    up.start()
    try:
        assert up.connected.wait(10)
        assert listener.wait(lambda s: box.depth() == 0)
        assert listener.sent_at and set(listener.sent_at) == {START}
        clock.advance(7 * 24 * 3600)
    finally:
        up.stop()
        box.close()
    try:
        assert listener.wait(lambda s: bool(s.status) and not s.status[-1].online, 10)
        assert listener.status[-1].ts == START + timedelta(days=7)
    finally:
        listener.close()


def test_a_broker_down_at_start_is_waited_for_not_taken_for_an_mqtt_3_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway started during a broker outage: the broker says nothing because it is not
    there, not because it does not speak MQTT 5. Once it is back, the gateway connects with
    MQTT 5 (it used to fall back to 3.1.1 for good 5 s after starting)."""
    import edge.uplink

    monkeypatch.setattr(edge.uplink, "CONNACK_WAIT_S", 1.0)
    broker = PrivateBroker(str(tmp_path))
    up = _bare_uplink(tmp_path, broker.url)
    up.start()
    try:
        time.sleep(3.0)  # three times the wait, with nothing listening
        assert not up.connected.is_set()
        broker.start()
        assert up.connected.wait(40)
        assert up.protocol == mqtt.MQTTv5
    finally:
        up.stop()
        broker.stop()


def test_a_broker_that_never_answers_an_mqtt_5_connect_gets_3_1_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback itself still works: a broker that takes the connection and sends no
    CONNACK (as amqtt does with MQTT 5) is tried with MQTT 3.1.1."""
    import socket

    import edge.uplink

    monkeypatch.setattr(edge.uplink, "CONNACK_WAIT_S", 1.0)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    silent.settimeout(0.1)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                held.append(silent.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    up = _bare_uplink(tmp_path, f"mqtt://127.0.0.1:{silent.getsockname()[1]}")
    up.start()
    try:
        deadline = time.monotonic() + 10
        while up.protocol == mqtt.MQTTv5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert up.protocol == mqtt.MQTTv311
        assert held, "the uplink never connected to the silent broker"
    finally:
        up.stop()
        done.set()
        acceptor.join(5)  # nothing is accepted after this: every accepted socket is closed
        silent.close()
        for s in held:
            s.close()


def test_a_fallback_after_stop_leaves_the_stopped_client_alone(tmp_path: Path) -> None:
    """stop() and the MQTT 5 -> 3.1.1 fallback (on the watchdog's or paho's thread) once
    overlapped: stop joined the thread of a replacement client not yet started ("cannot join
    thread before it is started"). Once stopping, a fallback makes no new client."""
    up = _bare_uplink(tmp_path, "mqtt://127.0.0.1:9")
    before = up._client
    up._stop.set()
    up._fallback_311()
    assert up._client is before
    assert up.protocol == mqtt.MQTTv5
