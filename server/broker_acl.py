"""Who may do what on the embedded broker: the rule of ``deploy/mosquitto/acl`` as data.

Users are the server (:data:`SERVER_USER`) and one per gateway, named by its gateway id::

    user                publish                       subscribe / receive
    meterlink-server    gw/<any>/cmd, gw/<any>/receipt gw/<any or +>/readings, status,
                                                       cmd/result (also as $share/<g>/...)
    <gateway id> G      gw/G/readings, gw/G/status,    gw/G/cmd, gw/G/receipt
                        gw/G/cmd/result

(topic names under ``{root}/v1/``). So only the server writes receipts and commands, and a
gateway reaches only its own topics: it cannot publish for another gateway, nor read another
gateway's commands or receipts, nor use wildcards. A gateway's last will is a publish like
any other and must pass the same rule (the broker sends it without asking again).

Pure functions of strings: no broker, no I/O (the amqtt glue is :mod:`server.broker_guard`).
"""

from __future__ import annotations

from typing import Final

from protocols.wire import Channel, is_id
from protocols.wire.codec import SCHEMA_VERSION
from protocols.wire.topics import DEFAULT_ROOT

#: The server's user on the broker (the same name ``deploy/mosquitto/acl`` gives it).
SERVER_USER: Final[str] = "meterlink-server"

GATEWAY_PUBLISHES: Final = frozenset({Channel.READINGS, Channel.STATUS, Channel.CMD_RESULT})
GATEWAY_RECEIVES: Final = frozenset({Channel.CMD, Channel.RECEIPT})
SERVER_PUBLISHES: Final = GATEWAY_RECEIVES
SERVER_RECEIVES: Final = GATEWAY_PUBLISHES


def is_user(username: str | None) -> bool:
    """A name the broker knows: the server's, or a gateway id (a gateway may not take the
    server's name)."""
    return username == SERVER_USER or is_id(username)


def _split(topic: str, root: str) -> tuple[str, Channel] | None:
    """``(gateway part, channel)`` of a name or filter under ``{root}/v1/gw/``, else None."""
    prefix = f"{root}/v{SCHEMA_VERSION}/gw/"
    if not topic.startswith(prefix):
        return None
    gateway, sep, rest = topic[len(prefix) :].partition("/")
    if not sep:
        return None
    for channel in Channel:
        if rest == channel.value:
            return gateway, channel
    return None


def may_publish(username: str | None, topic: str, root: str = DEFAULT_ROOT) -> bool:
    """Whether ``username`` may publish to the topic name ``topic``."""
    parts = _split(topic, root)
    if parts is None or not is_user(username):
        return False
    gateway, channel = parts
    if not is_id(gateway) or gateway == SERVER_USER:
        return False
    if username == SERVER_USER:
        return channel in SERVER_PUBLISHES
    return gateway == username and channel in GATEWAY_PUBLISHES


def may_subscribe(username: str | None, topic_filter: str, root: str = DEFAULT_ROOT) -> bool:
    """Whether ``username`` may subscribe to ``topic_filter`` (``+`` allowed for the server in
    the gateway's place only, and a ``$share/<group>/`` prefix; ``#`` for nobody)."""
    if not is_user(username):
        return False
    if username == SERVER_USER and topic_filter.startswith("$share/"):
        group, sep, rest = topic_filter[len("$share/") :].partition("/")
        if not (sep and group and "+" not in group and "#" not in group):
            return False
        topic_filter = rest
    parts = _split(topic_filter, root)
    if parts is None:
        return False
    gateway, channel = parts
    if username == SERVER_USER:
        return (gateway == "+" or (is_id(gateway) and gateway != SERVER_USER)) and (
            channel in SERVER_RECEIVES
        )
    return gateway == username and channel in GATEWAY_RECEIVES


def may_receive(username: str | None, topic: str, root: str = DEFAULT_ROOT) -> bool:
    """Whether a message on ``topic`` may be delivered to ``username`` (the subscription rule
    for the topic's own name: a second check at delivery, as Mosquitto's ``read`` is)."""
    return "+" not in topic and "#" not in topic and may_subscribe(username, topic, root)


def connect_refusal(
    username: str | None, will_topic: str | None, root: str = DEFAULT_ROOT
) -> str | None:
    """Why a CONNECT from ``username`` (password already verified) is refused, or None: an
    unknown user, or a last will on a topic the user may not publish to."""
    if not is_user(username):
        return f"unknown user {username!r}"
    if will_topic is not None and not may_publish(username, will_topic, root):
        return f"user {username!r} may not publish its last will to {will_topic!r}"
    return None
