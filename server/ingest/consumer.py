"""The MQTT consumer: paho-mqtt 2.x with manual acknowledgement.

A message is acknowledged (PUBACK) only after the transaction holding its readings has
committed, and then the gateway gets a receipt naming its committed batches (only a receipt
lets a gateway delete readings from its outbox: a broker's PUBACK is not durable if the
broker crashes before delivering), so a crash at any point loses nothing: the broker
redelivers what was not acknowledged to the persistent session (``clean_session=False`` /
``clean_start=False``, stable client id), and the idempotent merge makes the repeat a
no-op. Several server processes share the readings through a shared subscription
(``$share/<group>/...``).

Bad input never stops the consumer and never vanishes: anything that cannot be stored as
it came goes to ``dead_letters`` with the reason, in the same transaction. The wire decoders
refuse what the database could not store; should a batch still fail for a reason in its
data (:func:`server.ingest.failures.is_data_error`), its messages are stored one by one and
only the guilty one is dead-lettered, while a database that is down or refusing is retried
with back-off, the messages unacknowledged. No worker thread can die (each runs under a
guard that logs, counts and restarts it), and a stall is visible: :meth:`Consumer.health`
(``/health/ready``) reports when a received message has waited longer than ``stall_s``
without being acknowledged, and ``meterlink_ingest_oldest_unacked_seconds`` says how long.

Gateway statuses and command results arrive here too and are recorded by
:mod:`server.gateways`; pending commands leave through this consumer's connection
(:func:`server.gateways.dispatch.send_pending`).
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from psycopg_pool import ConnectionPool

from protocols import mqtt_session, wire
from protocols.mqtt_session import Action, SessionPolicy

from ..clock import Clock, SystemClock
from ..db.queries.ingest import add_dead_letter
from ..gateways.dispatch import send_pending
from ..gateways.results import ArrivedResult, record_results
from ..gateways.status import record_status
from .failures import describe, is_data_error, is_outage
from .metrics import IngestMetrics
from .store import Batch, row_json, screen, store

log = logging.getLogger(__name__)
CONNACK_WAIT_S = mqtt_session.CONNACK_WAIT_S  # read when a Consumer is made (tests shorten it)


class MqttConfig:
    def __init__(
        self,
        url: str,
        *,
        root: str = "meterlink",
        share_group: str | None = None,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        protocol: str = "auto",
    ) -> None:
        self.protocol = protocol  # "auto" | "5" | "3.1.1"

        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.tls = parts.scheme == "mqtts"
        self.port = parts.port or (8883 if self.tls else 1883)
        self.root, self.share_group = root, share_group
        self.client_id = client_id or f"meterlink-server-{socket.gethostname()}"
        self.username, self.password = username, password
        self.ca, self.cert, self.key = ca, cert, key


@dataclass
class _Job:
    """One batch of messages on its way through the pipeline."""

    seq: int
    msgs: list[mqtt.MQTTMessage]
    batch: Batch = field(default_factory=Batch)
    statuses: list[tuple[str, bytes, wire.GatewayStatus]] = field(default_factory=list)
    results: list[ArrivedResult] = field(default_factory=list)
    receipts: dict[str, list[str]] = field(default_factory=dict)
    inserted: int = 0
    #: after a failure for a data reason: the messages stored (or dead-lettered) one by one
    settled: set[int] | None = None


class Consumer:
    health_name = "ingest"  # the key of its problem in /health/ready

    def __init__(
        self,
        mqtt_cfg: MqttConfig,
        pool: ConnectionPool,
        *,
        tz: str,
        batch_max: int = 5000,
        batch_ms: int = 200,
        future_tolerance_s: int = 900,
        retention_days: int = 1095,
        clock: Clock | None = None,
        on_stored: Callable[[Batch], None] | None = None,
        writers: int = 2,
        metrics: IngestMetrics | None = None,
        stall_s: float = 120.0,
    ) -> None:
        self.cfg, self.pool, self.tz = mqtt_cfg, pool, tz
        self.batch_max, self.batch_ms = batch_max, batch_ms
        self.future_s, self.retention_days = future_tolerance_s, retention_days
        self.clock: Clock = clock or SystemClock()
        self.on_stored = on_stored
        self.metrics = metrics if metrics is not None else IngestMetrics()
        self._queue: queue.Queue[mqtt.MQTTMessage] = queue.Queue(maxsize=100_000)
        self._stop = threading.Event()
        self.connected = threading.Event()  # set when the subscriptions are granted
        self._subscription_mid: int | None = None
        # when to fall back to MQTT 3.1.1: the policy shared with the edge's uplink
        self._session = SessionPolicy(mqtt_cfg.protocol, connack_wait_s=CONNACK_WAIT_S)
        self._session_lock = threading.Lock()  # paho's thread, the watchdog, the fallback
        # replacing the client (fallback) and stopping it (stop) never overlap
        self._client_lock = threading.Lock()
        self._client = self._make_client()
        self._threads: list[threading.Thread] = []
        if writers < 1:
            raise ValueError(f"writers must be at least 1, got {writers}")
        self.writers = writers
        self._ready: queue.Queue[_Job] = queue.Queue(maxsize=writers)
        self._ack_lock = threading.Lock()
        self._done: dict[int, _Job] = {}
        self._next_ack = 0
        self.stored_messages = 0  # acknowledged messages
        self.stored_readings = 0  # readings newly stored by acknowledged messages
        self.stall_s = stall_s
        # arrival times (monotonic) of the messages not yet acknowledged, oldest first:
        # acknowledgements go in arrival order, so they leave from the left
        self._arrivals: deque[float] = deque()
        self._in_hand: dict[str, Any] = {}  # what a worker held when its guard restarted it
        self.metrics.oldest_unacked.set_function(self.oldest_unacked_s)

    # ------------------------------------------------------------------ MQTT

    @property
    def protocol(self) -> int:
        """The MQTT version in use (paho's ``MQTTv5`` or ``MQTTv311``)."""
        return int(self._session.version)

    def _make_client(self) -> mqtt.Client:
        kwargs: dict[str, Any] = {
            "callback_api_version": CallbackAPIVersion.VERSION2,
            "client_id": self.cfg.client_id,
            "protocol": self.protocol,
            "manual_ack": True,
        }
        if self.protocol != mqtt.MQTTv5:
            kwargs["clean_session"] = False
        c = mqtt.Client(**kwargs)
        if self.cfg.username:
            c.username_pw_set(self.cfg.username, self.cfg.password)
        if self.cfg.tls or self.cfg.ca:
            c.tls_set(ca_certs=self.cfg.ca, certfile=self.cfg.cert, keyfile=self.cfg.key)
        c.max_inflight_messages_set(1000)
        c.on_connect = self._on_connect
        c.on_socket_open = self._on_socket_open
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.reconnect_delay_set(1, 30)
        return c

    def _topics(self) -> list[str]:
        group = self.cfg.share_group
        return [
            wire.subscription(ch, self.cfg.root, group)
            for ch in (wire.Channel.READINGS, wire.Channel.STATUS, wire.Channel.CMD_RESULT)
        ]

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        with self._session_lock:
            self._session.socket_opened(time.monotonic())

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        with self._session_lock:
            action = self._session.connack(accepted=not reason.is_failure, reason=str(reason))
        if reason.is_failure:
            log.error("broker refused the consumer: %s", reason)
        if action is Action.FALL_BACK:
            threading.Thread(target=self._fallback_311, daemon=True).start()
        if action is not Action.SESSION_UP:
            return
        _rc, mid = client.subscribe([(t, 1) for t in self._topics()])
        self._subscription_mid = mid
        log.info(
            "ingest consumer connected to %s:%d as %s (MQTT %s)",
            self.cfg.host,
            self.cfg.port,
            self.cfg.client_id,
            "5" if self.protocol == mqtt.MQTTv5 else "3.1.1",
        )

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[Any], properties: Any
    ) -> None:
        """``connected`` is set once the broker has granted the subscriptions (SUBACK), not at
        CONNACK: a message published between the two would find no subscriber on a first
        connection, and whoever waits on ``connected`` means "messages reach me now"."""
        if mid != self._subscription_mid:
            return
        refused = [str(r) for r in reasons if getattr(r, "is_failure", False)]
        if refused:
            log.error("the broker refused the consumer's subscriptions: %s", ", ".join(refused))
            return
        self.connected.set()

    def _watchdog(self) -> None:
        """Ticks the session policy while a missing CONNACK may still mean "no MQTT 5"."""
        while not self._stop.wait(0.25):
            with self._session_lock:
                if not self._session.watching:
                    return
                action = self._session.tick(time.monotonic())
            if action is Action.FALL_BACK:
                log.warning(
                    "no answer to an MQTT 5 connect in %g s; trying MQTT 3.1.1",
                    self._session.connack_wait_s,
                )
                self._fallback_311()
                return

    def _fallback_311(self) -> None:
        with self._client_lock:
            if self._stop.is_set():
                return  # stopping: no new client
            log.info("broker does not speak MQTT 5; using 3.1.1")
            old = self._client
            old.loop_stop()
            sock = old.socket()  # the discarded client's connection: closed now, not left to GC
            if sock is not None:
                sock.close()
            with self._session_lock:
                self._session.client_replaced()
            self._client = self._make_client()
            self._connect()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        self.connected.clear()
        with self._session_lock:
            self._session.disconnected()
        if not self._stop.is_set():
            log.warning("ingest consumer disconnected: %s", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._arrivals.append(time.monotonic())
        self._queue.put(msg)

    def _connect(self) -> None:
        props = None
        if self.protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 24 * 3600
        self._client.connect_async(
            self.cfg.host,
            self.cfg.port,
            keepalive=30,
            clean_start=False if self.protocol == mqtt.MQTTv5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        self._client.loop_start()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._connect()
        if self._session.watching:
            threading.Thread(target=self._watchdog, name="ingest-v5-check", daemon=True).start()
        targets = [(self._decoder, "ingest-decoder"), (self._commander, "ingest-cmd")]
        targets += [(self._writer, f"ingest-writer-{i}") for i in range(self.writers)]
        for target, name in targets:
            t = threading.Thread(target=self._guarded, args=(target, name), name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def _guarded(self, target: Callable[[str], None], name: str) -> None:
        """Run a worker until the consumer stops; a worker that raises is logged, counted and
        started again (it finds what it held in ``_in_hand``), so no thread dies."""
        while not self._stop.is_set():
            try:
                target(name)
                return
            except Exception:
                log.exception("ingest worker %s failed; restarting it", name)
                self.metrics.restarts.labels(name).inc()
                self._stop.wait(1)

    def oldest_unacked_s(self) -> float:
        """How long the oldest received message not yet acknowledged has waited (0: none)."""
        try:
            return max(time.monotonic() - self._arrivals[0], 0.0)
        except IndexError:
            return 0.0

    def health(self) -> str | None:
        """Why ingestion is not healthy, or None (``/health/ready`` reports it)."""
        dead = [t.name for t in self._threads if not t.is_alive()]
        if dead and not self._stop.is_set():
            return f"ingest worker(s) not running: {', '.join(dead)}"
        age = self.oldest_unacked_s()
        if age > self.stall_s:
            return (
                f"ingestion stalled: a message received {age:.0f} s ago is not stored yet "
                f"(limit {self.stall_s:g} s, METERLINK_INGEST_STALL_S)"
            )
        return None

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)
        with self._client_lock:
            self._client.disconnect()
            self._client.loop_stop()

    # ------------------------------------------------------------------ storing
    #
    # A pipeline of three stages, so that decoding in Python and merging in PostgreSQL
    # overlap (each alone would leave a core idle while the other works):
    #   paho's network thread -> _queue -> decoder (collects and decodes a batch of messages)
    #   -> _ready -> writers (one transaction each, ``writers`` of them in parallel)
    #   -> _finish: PUBACKs and receipts strictly in the order the batches were collected, so
    #   a message is acknowledged only after it and every message before it are committed.

    def _collect(self) -> list[mqtt.MQTTMessage]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        msgs = [first]
        count = 0
        deadline = time.monotonic() + self.batch_ms / 1000
        while count < self.batch_max:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                msgs.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
            count += 1 if not msgs[-1].topic.endswith("/readings") else 100
        return msgs

    def _decoder(self, name: str) -> None:
        seq: int = self._in_hand.pop("decoder-seq", 0)
        while not self._stop.is_set():
            msgs = self._in_hand.pop(name, None) or self._collect()
            if not msgs:
                continue
            self._in_hand[name] = msgs  # if decoding raised, the restarted decoder redoes it
            self._in_hand["decoder-seq"] = seq
            job = self._prepare(seq, msgs)
            del self._in_hand[name]
            seq += 1
            self._in_hand["decoder-seq"] = seq
            while not self._stop.is_set():
                try:
                    self._ready.put(job, timeout=0.2)
                    break
                except queue.Full:
                    continue

    def _writer(self, name: str) -> None:
        while not self._stop.is_set():
            job = self._in_hand.pop(name, None)
            if job is None:
                try:
                    job = self._ready.get(timeout=0.2)
                except queue.Empty:
                    continue
            self._in_hand[name] = job  # if anything below raises, the restarted writer resumes
            if not self._commit(job):
                return  # stopping: the messages stay unacknowledged, the broker keeps them
            self._finish(job)
            del self._in_hand[name]

    def _commit(self, job: _Job) -> bool:
        """Store ``job`` until it is stored or the consumer stops (False). A failure for a
        reason in the data stores the messages one by one and dead-letters the guilty one;
        any other failure (the database is down or refusing) is retried with back-off."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                if job.settled is None:
                    self._write(job)
                else:
                    self._write_one_by_one(job)
                return True
            except Exception as exc:
                if job.settled is None and is_data_error(exc):
                    log.warning(
                        "a batch of %d messages could not be stored (%s); storing them one by one",
                        len(job.msgs),
                        describe(exc),
                    )
                    job.settled = set()
                    continue
                log.warning(
                    "storing %d messages failed; retrying in %g s (%s)",
                    len(job.msgs),
                    delay,
                    describe(exc),
                    exc_info=not is_outage(exc),
                )
                self.metrics.retries.inc()
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
        return False

    def _write_one_by_one(self, job: _Job) -> None:
        """Store each message of ``job`` in its own transaction; one that fails for a data
        reason is dead-lettered whole with the database's reason. Progress is kept in
        ``job.settled``, so a retry after a transient failure repeats nothing."""
        assert job.settled is not None
        job.receipts.clear()
        for i, m in enumerate(job.msgs):
            one = self._prepare(job.seq, [m], count=False)
            if i not in job.settled:
                try:
                    self._write(one)
                    job.inserted += one.inserted
                except Exception as exc:
                    if not is_data_error(exc):
                        raise
                    self._dead_letter_whole(m, exc)
                job.settled.add(i)
            for gw, ids in one.receipts.items():  # stored or dead-lettered: settled either way
                job.receipts.setdefault(gw, []).extend(ids)

    def _dead_letter_whole(self, m: mqtt.MQTTMessage, exc: BaseException) -> None:
        reason = f"could not be stored: {describe(exc)}"
        log.warning("dead-lettering a message on %s: %s", m.topic, reason)
        gateway = None
        try:
            gateway = wire.parse_topic(m.topic, self.cfg.root).gateway
        except wire.WireError:
            pass
        with self.pool.connection() as conn, conn.transaction():
            add_dead_letter(
                conn, topic=m.topic, gateway_id=gateway, reason=reason, payload=bytes(m.payload)
            )
        self.metrics.dead.labels(type(exc).__name__).inc()

    def _finish(self, job: _Job) -> None:
        """Acknowledge committed batches in the order they were collected."""
        with self._ack_lock:
            self._done[job.seq] = job
            while self._next_ack in self._done:
                ready = self._done.pop(self._next_ack)
                self._next_ack += 1
                for m in ready.msgs:
                    self._client.ack(m.mid, m.qos)
                    try:
                        self._arrivals.popleft()
                    except IndexError:  # pragma: no cover - every message was counted in
                        pass
                self.stored_messages += len(ready.msgs)
                self.stored_readings += ready.inserted
                self._send_receipts(ready.receipts)

    def _send_receipts(self, receipts: dict[str, list[str]]) -> None:
        """Tell each gateway which of its batches are committed (QoS 1; a receipt lost on the
        way only makes the gateway send the batch again, which the merge ignores)."""
        now = self.clock.now()
        for gw, ids in receipts.items():
            try:  # one gateway's receipt that cannot be sent never holds back another's
                topic = wire.topic(gw, wire.Channel.RECEIPT, self.cfg.root)
                for i in range(0, len(ids), wire.MAX_RECEIPT_BATCHES):
                    chunk = tuple(ids[i : i + wire.MAX_RECEIPT_BATCHES])
                    self._client.publish(
                        topic, wire.encode_receipt(wire.Receipt(gw, chunk, now)), qos=1
                    )
            except Exception:  # the batches are stored; without its receipt the gateway
                # sends them again, which the merge ignores
                log.exception("sending the receipt of gateway %r failed", gw)

    def _store(self, msgs: list[mqtt.MQTTMessage]) -> dict[str, list[str]]:
        """Decode and store ``msgs`` at once, without the pipeline or acknowledgements (for
        tests of the handling); returns the receipts it would send."""
        job = self._prepare(0, msgs)
        self._write(job)
        return job.receipts

    def _prepare(self, seq: int, msgs: list[mqtt.MQTTMessage], *, count: bool = True) -> _Job:
        """Decode one batch of messages: readings to stage, bad input to dead letters,
        statuses and command results, and per gateway the ids of its readings batches (for
        the receipts once committed)."""
        job = _Job(seq, msgs)
        batch = job.batch
        now = self.clock.now()
        for m in msgs:
            payload = bytes(m.payload)
            try:
                topic = wire.parse_topic(m.topic, self.cfg.root)
            except wire.WireError as exc:
                batch.add_dead(m.topic, None, f"bad topic: {exc}", payload)
                continue
            if count:
                self.metrics.messages.labels(topic.channel.value).inc()
            try:
                if topic.channel is wire.Channel.READINGS:
                    rows = wire.decode_readings_rows(payload)
                    if rows.gateway != topic.gateway:
                        raise wire.WireError(
                            f"payload gateway {rows.gateway!r} does not match "
                            f"the topic's {topic.gateway!r}"
                        )
                    good, bad = screen(rows.rows, now, self.future_s, self.retention_days)
                    batch.add_rows(rows.gateway, rows.batch_id, good, rows.macs)
                    for row, why in bad:
                        batch.add_dead(m.topic, topic.gateway, why, row_json(row))
                    for item, why in rows.refused:  # a malformed mac / rn: that reading only
                        batch.add_dead(m.topic, topic.gateway, why, item)
                        if count:
                            self.metrics.dead.labels("BadMac").inc()
                    if count:
                        self.metrics.readings.inc(len(good))
                    if rows.batch_id:
                        job.receipts.setdefault(rows.gateway, []).append(rows.batch_id)
                elif topic.channel is wire.Channel.STATUS:
                    st = wire.decode_status(payload)
                    if st.gateway != topic.gateway:
                        raise wire.WireError(
                            f"payload gateway {st.gateway!r} does not match "
                            f"the topic's {topic.gateway!r}"
                        )
                    if st.ts > now + timedelta(seconds=self.future_s):
                        raise wire.WireError(
                            f"ts: status time {st.ts.isoformat()} is more than {self.future_s} s "
                            f"in the future (received {now.isoformat()})"
                        )
                    job.statuses.append((m.topic, payload, st))
                elif topic.channel is wire.Channel.CMD_RESULT:
                    res = wire.decode_result(payload)
                    job.results.append(ArrivedResult(m.topic, topic.gateway, res, payload))
                else:
                    raise wire.WireError(f"the server does not take {topic.channel.value}")
            except wire.WireError as exc:
                reason = str(exc)
                if isinstance(exc, wire.UnknownSchemaError):
                    reason = f"unknown schema: {exc}"
                batch.add_dead(m.topic, topic.gateway, reason, payload)
                if count:
                    self.metrics.dead.labels(type(exc).__name__).inc()
            except Exception as exc:  # a defect of ours: keep the message, keep the decoder
                log.exception("could not handle a message on %s", m.topic)
                batch.add_dead(m.topic, topic.gateway, f"could not be handled: {exc!r}", payload)
                if count:
                    self.metrics.dead.labels(type(exc).__name__).inc()
        return job

    def _write(self, job: _Job) -> None:
        """Store one decoded batch: readings and dead letters in one transaction, then the
        statuses and command results."""
        started = time.monotonic()
        with self.pool.connection() as conn:
            result = store(conn, job.batch, tz=self.tz)
            with conn.transaction():
                for topic, payload, st in job.statuses:
                    refused = record_status(conn, st)
                    if refused:
                        add_dead_letter(
                            conn,
                            topic=topic,
                            gateway_id=st.gateway,
                            reason=refused,
                            payload=payload,
                        )
                        self.metrics.dead.labels("StaleStatus").inc()
                record_results(conn, job.results)
        job.inserted = result.inserted
        self.metrics.commit_seconds.observe(time.monotonic() - started)
        self.metrics.inserted.inc(result.inserted)
        for reason, n in result.quarantined_by.items():
            self.metrics.quarantined.labels(reason).inc(n)
        if self.on_stored is not None and job.batch.groups:
            try:
                self.on_stored(job.batch)
            except Exception:
                log.exception("after-store hook failed")

    # ------------------------------------------------------------------ commands out

    def _commander(self, name: str) -> None:
        while not self._stop.wait(0.5):
            if not self.connected.is_set():
                continue
            try:
                send_pending(self.pool, self._publish_command, root=self.cfg.root)
            except Exception:
                log.exception("sending commands failed")

    def _publish_command(self, topic: str, payload: bytes) -> None:
        self._client.publish(topic, payload, qos=1)
