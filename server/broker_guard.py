"""The embedded broker's guard: amqtt plugins and a :class:`GuardedBroker` that carry out
:mod:`server.broker_acl` with the passwords of :mod:`server.broker_credentials`.

What amqtt 0.12 does on its own, and what is changed here:

- It touches the session named by the CONNECT's client id *before* it checks the password:
  a clean-session CONNECT deletes that session's subscriptions and queue, another replaces
  its stored credentials and will, and a connected owner is disconnected ("take-over") even
  when the newcomer's password is then refused. Here the credentials and the last will are
  checked first, a refusal is answered with CONNACK "not authorized" and the connection is
  closed, and no session is looked at.
- Sessions are keyed by client id alone, so one user could take over another's session by
  claiming its client id. Here the broker keys a session by ``<user>/<client id>``: a client
  reaches only the sessions of the user it proved to be.
- It reads a packet of any announced length (up to 256 MB) into memory. Here a packet
  announced longer than :data:`MAX_PACKET_BYTES` closes the connection (as Mosquitto's
  ``max_packet_size`` does).
- It hands a message to its subscribers walking the live subscription table while awaiting
  inside the walk: a client subscribing meanwhile broke the walk, and the message reached
  only the subscribers before it. Here the walk is over a copy.
- On every connect it sends the client the retained messages matching *any* client's
  subscription, unchecked: a gateway got the other gateways' retained statuses. Here a
  client gets retained messages only for its own subscriptions and only where the ACL lets
  it receive them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final

from amqtt.adapters import ReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.constants import QOS_1, QOS_2
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.utils import gen_client_id

from protocols.wire import MAX_PAYLOAD_BYTES

from . import broker_acl
from .broker_credentials import BrokerCredentials

log = logging.getLogger(__name__)

#: The largest MQTT packet the broker reads: the wire's largest payload and 4 KiB for the
#: topic name and headers (the same figure as ``max_packet_size`` in deploy/mosquitto).
MAX_PACKET_BYTES: Final[int] = MAX_PAYLOAD_BYTES + 4096


class PacketTooLarge(Exception):
    """A client announced a packet longer than the broker reads (the connection is closed)."""


class CappedReader(ReaderAdapter):  # type: ignore[misc]  # amqtt is untyped
    """amqtt reads a packet's fixed header a byte at a time, then its body field by field.
    This reader follows the fixed headers: a packet announced longer than ``cap`` bytes (its
    fixed header included) closes the connection before its body is read, as amqtt's reader
    stops on an exception it does not know."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cap: int
    ) -> None:
        self._reader, self._writer, self._cap = reader, writer, cap
        self._head = bytearray()  # the fixed header read so far (at a packet's start)
        self._left = 0  # bytes of the current packet's body not read yet

    async def read(self, n: int = -1) -> bytes:
        data = await (self._reader.read(n) if n == -1 else self._reader.readexactly(n))
        if self._left:
            self._left -= min(self._left, len(data))
            return data
        self._head += data
        if len(self._head) >= 2 and not self._head[-1] & 0x80:  # the length's last byte
            length = sum((b & 0x7F) << (7 * i) for i, b in enumerate(self._head[1:]))
            size = len(self._head) + length
            self._head.clear()
            if size > self._cap:
                peer = self._writer.get_extra_info("peername")
                log.warning(
                    "closed %s: it sent a packet of %d bytes (at most %d)", peer, size, self._cap
                )
                self._writer.close()
                raise PacketTooLarge(f"a packet of {size} bytes exceeds {self._cap}")
            self._left = length
        return data

    def feed_eof(self) -> None:
        self._reader.feed_eof()


class CredentialsPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """A user and its derived password, and a last will the user may publish."""

    @dataclass
    class Config:
        secret: str = ""
        root: str = "meterlink"

    async def authenticate(self, *, session: Any) -> bool:
        creds = BrokerCredentials(self.config.secret.encode())
        username = session.username
        if not creds.verify(username, session.password):
            log.info("refused a connection: bad user name or password for %r", username)
            return False
        will = session.will_topic if session.will_flag else None
        why = broker_acl.connect_refusal(username, will, self.config.root)
        if why is not None:
            log.info("refused a connection: %s", why)
            return False
        return True


class TopicAclPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """Publish, subscribe and delivery by :mod:`server.broker_acl`."""

    @dataclass
    class Config:
        root: str = "meterlink"

    async def topic_filtering(
        self, *, session: Any = None, topic: str | None = None, action: Any = None
    ) -> bool:
        if session is None or topic is None:
            return False
        user, root = session.username, self.config.root
        if action == Action.PUBLISH:
            ok = broker_acl.may_publish(user, topic, root)
        elif action == Action.SUBSCRIBE:
            ok = broker_acl.may_subscribe(user, topic, root)
        elif action == Action.RECEIVE:
            ok = broker_acl.may_receive(user, topic, root)
        else:
            ok = False
        if not ok and action != Action.RECEIVE:
            log.info("refused %s of %r to user %r", action, topic, user)
        return ok


def broker_config(port: int, credentials: BrokerCredentials, root: str) -> dict[str, Any]:
    """amqtt's configuration: loopback, our two plugins and nothing else (no anonymous)."""
    return {
        "listeners": {
            "default": {"type": "tcp", "bind": f"127.0.0.1:{port}", "max_connections": 1000}
        },
        "plugins": {
            f"{__name__}.CredentialsPlugin": {"secret": credentials.secret.decode(), "root": root},
            f"{__name__}.TopicAclPlugin": {"root": root},
        },
    }


def scoped_client_id(username: str, client_id: str) -> str:
    """The key of a user's session: another user cannot name it."""
    return f"{username}/{client_id}"


class GuardedBroker(Broker):  # type: ignore[misc]
    """amqtt's broker with the credentials checked before any session is touched, sessions
    scoped by user, and packets capped (see the module)."""

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        await self._client_connected(
            listener_name,
            CappedReader(reader, writer, MAX_PACKET_BYTES),
            StreamWriterAdapter(writer),
        )

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[Any, Any]:
        try:
            handler, session = await BrokerProtocolHandler.init_from_connect(
                reader, writer, self.plugins_manager
            )
        except (MQTTError, AMQTTError, NoDataError):
            raise
        except PacketTooLarge as exc:
            raise AMQTTError(str(exc)) from exc
        if not await self._authenticate(session, None):
            await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
            await writer.close()
            raise MQTTError(f"connection from {remote_address}:{remote_port} not authorized")
        session.client_id = scoped_client_id(session.username, session.client_id or gen_client_id())
        # from here on as amqtt 0.12.1's Broker._initialize_client_session, with the id scoped
        if session.clean_session:
            await self._delete_session(session.client_id)
            session.parent = 0
        elif session.client_id in self._sessions:
            existing, _ = self._sessions[session.client_id]
            existing.will_flag = session.will_flag
            existing.will_message = session.will_message
            existing.will_topic = session.will_topic
            existing.will_qos = session.will_qos
            existing.keep_alive = session.keep_alive
            existing.username = session.username
            existing.password = session.password
            session = existing
            session.parent = 1
        else:
            session.parent = 0
        delay = self.config.get("timeout-disconnect-delay", 0)
        if session.keep_alive > 0 and isinstance(delay, int):
            session.keep_alive += delay
        return handler, session

    async def _run_broadcast(self, running_tasks: Any) -> None:
        """One message to its subscribers, as amqtt 0.12.1's ``Broker._run_broadcast`` but
        over a copy of the subscriptions. amqtt walks the live table and awaits inside the
        walk (the ACL check, a message kept for an offline session): a client subscribing
        meanwhile (the demo's three edges connect while the server sends them commands)
        changed the table under it, the walk died with "dictionary changed size during
        iteration", an error was logged and the rest of the subscribers never got the
        message."""
        broadcast = await self._broadcast_queue.get()
        for k_filter, subscriptions in list(self._subscriptions.items()):
            if not self._matches(broadcast["topic"], k_filter):
                continue
            for target_session, sub_qos in list(subscriptions):
                qos = broadcast.get("qos", sub_qos)
                if not await self._topic_filtering(
                    target_session, topic=broadcast["topic"], action=Action.RECEIVE
                ):
                    continue
                state = target_session.transitions.state
                if (
                    state != "connected"
                    and not target_session.clean_session
                    and qos in (QOS_1, QOS_2)
                    and not target_session.is_anonymous
                ):
                    await self._retain_broadcast_message(broadcast, qos, target_session)
                    continue
                if state != "connected":
                    continue
                handler = self._get_handler(target_session)
                if handler:
                    running_tasks.append(
                        asyncio.ensure_future(
                            handler.mqtt_publish(
                                broadcast["topic"], broadcast["data"], qos, retain=False
                            )
                        )
                    )

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Any
    ) -> None:
        topic_filter, qos = subscription
        holders = self._subscriptions.get(topic_filter, [])
        if not any(s.client_id == session.client_id for s, _ in holders):
            return  # another client's subscription (amqtt asks for all of them on connect)
        handler = self._get_handler(session)
        if handler is None:
            return
        sends = []
        for topic_name, retained in list(self._retained_messages.items()):
            if not self._matches(topic_name, topic_filter):
                continue
            if not await self._topic_filtering(session, topic_name, Action.RECEIVE):
                continue
            sends.append(
                asyncio.ensure_future(
                    handler.mqtt_publish(
                        retained.topic, retained.data, min(qos, retained.qos or qos), retain=True
                    )
                )
            )
        if sends:
            await asyncio.wait(sends)
