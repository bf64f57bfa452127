"""The MQTT uplink: the only paho-mqtt user in the edge agent.

Readings leave the outbox in batches (QoS 1) and are deleted from it only when the server's
receipt for the batch arrives on the gateway's ``receipt`` topic (``delivery = "receipt"``,
the default): a broker's PUBACK only says the broker has the batch, and a broker killed before
delivering it loses what it acknowledged. A batch without a receipt after
``receipt_timeout_s`` is sent again (the timeout doubles once per round of late batches, up
to an hour, while no receipt at all comes, so a server that is down is not flooded); at most
``edge.delivery_ledger.MAX_UNCONFIRMED`` batches wait for receipts at once. With
``delivery = "puback"`` the PUBACK deletes (for a durable broker). Which batch is where, and
which readings may be deleted, is kept by one object,
:class:`edge.delivery_ledger.DeliveryLedger`; the callbacks here only report to it.
The status message is retained; the last will marks the gateway offline.
Commands arrive on the gateway's ``cmd`` topic and are handed to a handler thread.

Replay policy after an outage: each round publishes one batch of the OLDEST unsent readings
(the backlog, in order) and, while a backlog exists, one batch of the NEWEST (live data), so
live readings reach the server within a round or two however long the backlog is. In-flight
batches are bounded (``MAX_INFLIGHT``); a disconnect forgets them and they are sent again
(the server merges repeats idempotently).

MQTT 5 is used where the broker speaks it; with ``protocol = "auto"`` a broker that refuses
MQTT 5 is retried with 3.1.1. When to fall back is decided by
:class:`protocols.mqtt_session.SessionPolicy` (shared with the server's consumer); this module
only reports paho's events to it and carries out what it says.
"""

from __future__ import annotations

import logging
import queue
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from protocols import mqtt_session, wire
from protocols.model import Reading
from protocols.mqtt_session import Action, SessionPolicy

from .clock import Clock, SystemClock
from .config import BrokerConfig
from .delivery_ledger import MAX_INFLIGHT, Delivery, DeliveryLedger
from .outbox import Outbox

log = logging.getLogger(__name__)

CONNACK_WAIT_S = mqtt_session.CONNACK_WAIT_S  # read when an Uplink is made (tests shorten it)
RECEIPT_LOG_EVERY_S = 60.0  # ignored receipts: a summary at info at most this often


def new_batch_id(ids: list[int]) -> str:
    """A batch's id: its first and last outbox ids and 64 random bits. Only the server
    (which receives the batch) can name it in a receipt: another client cannot guess the
    id of a batch it did not see, so it cannot make this gateway forget readings. At most
    19 + 1 + 19 + 1 + 16 = 56 characters, within the wire's id rule."""
    return f"{ids[0]}-{ids[-1]}-{secrets.token_hex(8)}"


class Uplink:
    def __init__(
        self,
        broker: BrokerConfig,
        gateway: str,
        outbox: Outbox,
        *,
        on_command: Callable[[bytes], None],
        status: Callable[[], wire.GatewayStatus],
        status_every_s: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        self.broker, self.gateway, self.outbox = broker, gateway, outbox
        self.clock: Clock = clock or SystemClock()  # stamps the will, statuses and batches
        self.on_command, self.status = on_command, status
        self.status_every_s = status_every_s
        self.topic_readings = wire.topic(gateway, wire.Channel.READINGS, broker.root)
        self.topic_status = wire.topic(gateway, wire.Channel.STATUS, broker.root)
        self.topic_cmd = wire.topic(gateway, wire.Channel.CMD, broker.root)
        self.topic_result = wire.topic(gateway, wire.Channel.CMD_RESULT, broker.root)
        self.topic_receipt = wire.topic(gateway, wire.Channel.RECEIPT, broker.root)
        self.receipts = broker.delivery == "receipt"
        # what is on its way and what may be deleted: every call under self._lock
        self._ledger = DeliveryLedger(
            Delivery(broker.delivery), receipt_timeout_s=broker.receipt_timeout_s
        )
        self.connected = threading.Event()
        self._session = SessionPolicy(broker.protocol, connack_wait_s=CONNACK_WAIT_S)
        self._session_lock = threading.Lock()  # paho's thread, the watchdog, the fallback
        # replacing the client (fallback) and stopping it (stop) never overlap
        self._client_lock = threading.Lock()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._commands: queue.Queue[bytes | None] = queue.Queue(maxsize=1000)
        self.published_batches = 0
        self.acked_readings = 0
        self._unmatched_receipts = 0  # receipt ids the ledger never saw: bad or not ours
        self._receipt_log_at = -RECEIPT_LOG_EVERY_S
        self.max_payload_bytes = wire.MAX_PAYLOAD_BYTES
        self._client = self._make_client()
        self._threads: list[threading.Thread] = []

    @property
    def resent_batches(self) -> int:
        """Batches sent again for want of a receipt in time."""
        return self._ledger.resent_batches

    @property
    def protocol(self) -> int:
        """The MQTT version in use (paho's ``MQTTv5`` or ``MQTTv311``)."""
        return int(self._session.version)

    # ------------------------------------------------------------------ client

    def _make_client(self) -> mqtt.Client:
        b = self.broker
        kwargs: dict[str, object] = {
            "callback_api_version": CallbackAPIVersion.VERSION2,
            "client_id": b.client_id,
            "protocol": self.protocol,
        }
        if self.protocol != mqtt.MQTTv5:
            kwargs["clean_session"] = False
        c = mqtt.Client(**kwargs)  # type: ignore[arg-type]
        if b.username:
            c.username_pw_set(b.username, b.password)
        if b.tls or b.ca_file:
            c.tls_set(
                ca_certs=str(b.ca_file) if b.ca_file else None,
                certfile=str(b.cert_file) if b.cert_file else None,
                keyfile=str(b.key_file) if b.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self._set_will(c)
        c.on_pre_connect = self._on_pre_connect
        c.max_inflight_messages_set(MAX_INFLIGHT)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(1, 30)
        c.on_connect = self._on_connect
        c.on_socket_open = self._on_socket_open
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        return c

    def _set_will(self, client: mqtt.Client) -> None:
        """Stamp a fresh last will: the online statuses sent on the coming connection carry
        the stamp as ``connected_since``, so the server knows the will (if the broker
        publishes it) ends the connection they came on and no later one."""
        self._will_ts = self.clock.now()
        client.will_set(
            self.topic_status, wire.last_will(self.gateway, self._will_ts), qos=1, retain=True
        )

    def _on_pre_connect(self, client: mqtt.Client, userdata: object) -> None:
        self._set_will(client)  # before every connection attempt, the first and reconnects

    def _connect(self) -> None:
        props = None
        if self.protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 7 * 24 * 3600
        self._client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=self.broker.keepalive_s,
            clean_start=False if self.protocol == mqtt.MQTTv5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        self._client.loop_start()

    def start(self) -> None:
        self._connect()
        if self._session.watching:
            threading.Thread(target=self._watchdog, name="uplink-v5-check", daemon=True).start()
        for target, name in (
            (self._publisher, "uplink-publish"),
            (self._command_loop, "uplink-commands"),
            (self._status_loop, "uplink-status"),
        ):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, reason: str = "shutdown") -> None:
        self._stop.set()
        self._commands.put(None)
        for t in self._threads:
            t.join(10)
        with self._client_lock:
            self._say_offline_and_disconnect(reason)

    def _say_offline_and_disconnect(self, reason: str) -> None:
        if self.connected.is_set():
            st = self._online_status()
            offline = wire.GatewayStatus(
                self.gateway,
                False,
                self.clock.now(),
                st.version,
                reason,
                st.buses,
                st.meters,
                st.outbox_depth,
                st.outbox_oldest_age_s,
                st.outbox_dropped,
                st.connected_since,
            )
            info = self._client.publish(
                self.topic_status, wire.encode_status(offline), qos=1, retain=True
            )
            try:
                info.wait_for_publish(5)
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        self._client.loop_stop()

    # ------------------------------------------------------------------ callbacks

    def _on_socket_open(self, client: mqtt.Client, userdata: object, sock: object) -> None:
        with self._session_lock:
            self._session.socket_opened(time.monotonic())

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        with self._session_lock:
            action = self._session.connack(accepted=not reason.is_failure, reason=str(reason))
        if reason.is_failure:
            log.error("broker %s refused the connection: %s", self.broker.url, reason)
        if action is Action.FALL_BACK:
            threading.Thread(target=self._fallback_311, daemon=True).start()
        if action is not Action.SESSION_UP:
            return
        log.info(
            "connected to %s (MQTT %s)",
            self.broker.url,
            "5" if self.protocol == mqtt.MQTTv5 else "3.1.1",
        )
        client.subscribe(self.topic_cmd, qos=1)
        if self.receipts:
            client.subscribe(self.topic_receipt, qos=1)
        client.publish(
            self.topic_status, wire.encode_status(self._online_status()), qos=1, retain=True
        )
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
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        self.connected.clear()
        with self._session_lock:
            self._session.disconnected()
        with self._lock:
            self._ledger.disconnected()
        if not self._stop.is_set():
            log.warning(
                "disconnected from %s: %s; unacknowledged batches will be resent",
                self.broker.url,
                reason,
            )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        with self._lock:
            done = self._ledger.puback(mid, not reason.is_failure, time.monotonic())
        self._forget(done)

    def _forget(self, ids: list[int]) -> None:
        if ids:
            self.outbox.ack(ids)
            self.acked_readings += len(ids)

    @property
    def ignored_receipts(self) -> int:
        """Batch ids in receipts that named no batch of ours awaiting one (forged, for
        another gateway, or late for a batch already forgotten or sent again)."""
        with self._lock:
            return self._ledger.ignored_receipts + self._unmatched_receipts

    def _on_receipt(self, payload: bytes) -> None:
        try:
            receipt = wire.decode_receipt(payload)
        except wire.WireError as exc:
            self._receipt_ignored(1, f"a bad receipt: {exc}")
            return
        if receipt.gateway != self.gateway:
            count = max(1, len(receipt.batches))
            self._receipt_ignored(count, f"a receipt for gateway {receipt.gateway!r}")
            return
        with self._lock:
            before = self._ledger.ignored_receipts
            done = self._ledger.receipt(receipt.batches)
            unknown = self._ledger.ignored_receipts - before
        self._forget(done)
        if unknown:
            self._receipt_ignored(0, f"{unknown} batch id(s) not awaiting a receipt")

    def _receipt_ignored(self, count: int, what: str) -> None:
        """Count ``count`` ids the ledger did not see (the ledger counts its own) and log:
        each time at debug, a summary at info at most once a minute."""
        with self._lock:
            self._unmatched_receipts += count
        log.debug("ignored %s", what)
        now = time.monotonic()
        if now - self._receipt_log_at >= RECEIPT_LOG_EVERY_S:
            self._receipt_log_at = now
            log.info(
                "ignored %s (%d ignored receipt ids in all; see meterlink_uplink_receipts_"
                "ignored_total)",
                what,
                self.ignored_receipts,
            )

    def _expire_unconfirmed(self) -> None:
        """Batches without a receipt in time are sent again (the server merges repeats)."""
        with self._lock:
            late, timeout = self._ledger.expire(time.monotonic())
        if late:
            log.warning(
                "%d batches had no receipt from the server in %.0f s; sending them again",
                len(late),
                timeout,
            )

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.topic_receipt:
            self._on_receipt(bytes(msg.payload))
            return
        if msg.topic != self.topic_cmd:
            # only our own cmd topic carries commands: a message on any other (a broker
            # handing over a retained status, say) is not a malformed command to answer
            log.info("ignored a message on %s: not this gateway's command topic", msg.topic)
            return
        try:
            self._commands.put_nowait(bytes(msg.payload))
        except queue.Full:
            log.error("command queue full: command dropped unanswered")

    # ------------------------------------------------------------------ loops

    def _publish_batch(self, ids: list[int], readings: list[Reading]) -> None:
        batch_id = new_batch_id(ids)
        payload = wire.batch_of(self.gateway, batch_id, readings, self.clock.now())
        if len(payload) > self.max_payload_bytes:
            # the server refuses a message over the wire's limit (and a broker may drop the
            # connection): send it as two halves, each split again if still too big
            if len(ids) == 1:
                log.error(
                    "reading %d alone encodes to %d bytes, over the wire's limit of %d: it "
                    "cannot be sent and is dropped",
                    ids[0],
                    len(payload),
                    self.max_payload_bytes,
                )
                self.outbox.discard(ids)
                return
            half = len(ids) // 2
            self._publish_batch(ids[:half], readings[:half])
            self._publish_batch(ids[half:], readings[half:])
            return
        # never call paho while holding our lock: paho calls on_publish under its own
        # mutex, and on_publish takes our lock (a lock-order deadlock otherwise)
        with self._lock:
            self._ledger.sending(batch_id, ids)
        info = self._client.publish(self.topic_readings, payload, qos=1)
        with self._lock:
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self._ledger.send_failed(batch_id)
                return
            done = self._ledger.published(batch_id, info.mid, time.monotonic())
        self._forget(done)
        self.published_batches += 1

    def _publisher(self) -> None:
        size = self.broker.batch_max
        while not self._stop.is_set():
            if not self.connected.wait(0.5):
                continue
            if self.receipts:
                self._expire_unconfirmed()
            with self._lock:
                room = self._ledger.room()
                cursor = self._ledger.cursor
            if room <= 0:
                time.sleep(0.002)
                continue
            oldest = self.outbox.take(size, after_id=cursor)
            if not oldest.ids:
                time.sleep(self.broker.batch_ms / 1000 or 0.05)
                continue
            with self._lock:
                self._ledger.advance(oldest.ids[-1])
                pairs = [
                    (i, r)
                    for i, r in zip(oldest.ids, oldest.readings, strict=True)
                    if not self._ledger.holds(i)
                ]
            if pairs:
                self._publish_batch([p[0] for p in pairs], [p[1] for p in pairs])
            if len(oldest.ids) == size and room > 1:  # a backlog: also send the newest
                newest = self.outbox.take_newest(size)
                with self._lock:
                    fresh = [
                        (i, r)
                        for i, r in zip(newest.ids, newest.readings, strict=True)
                        if i > self._ledger.cursor + size and not self._ledger.holds(i)
                    ]
                if fresh:
                    self._publish_batch([p[0] for p in fresh], [p[1] for p in fresh])
            elif len(oldest.ids) < size:
                time.sleep(self.broker.batch_ms / 1000)  # let a batch fill up

    def _command_loop(self) -> None:
        while True:
            payload = self._commands.get()
            if payload is None:
                return
            try:
                self.on_command(payload)
            except Exception:
                log.exception("command handler failed")

    def _status_loop(self) -> None:
        while not self._stop.wait(self.status_every_s):
            if self.connected.is_set():
                self._client.publish(
                    self.topic_status, wire.encode_status(self._online_status()), qos=1, retain=True
                )

    def _online_status(self) -> wire.GatewayStatus:
        """The gateway's status, naming the connection it is sent on (its will's stamp)."""
        return replace(self.status(), connected_since=self._will_ts)

    def publish_result(self, payload: bytes) -> None:
        self._client.publish(self.topic_result, payload, qos=1)
