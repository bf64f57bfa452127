"""MQTT topic names: the table of channels, and building and parsing the names.

``root`` defaults to ``meterlink`` (tests use a unique root per test)::

    {root}/v1/gw/{gateway}/readings    edge -> server  QoS 1  a ReadingsBatch
    {root}/v1/gw/{gateway}/status      edge -> server  QoS 1  a GatewayStatus, retained;
                                                               also the last will (online=false)
    {root}/v1/gw/{gateway}/cmd         server -> edge  QoS 1  a Command
    {root}/v1/gw/{gateway}/cmd/result  edge -> server  QoS 1  a CommandResult
    {root}/v1/gw/{gateway}/receipt     server -> edge  QoS 1  a Receipt: these batches are
                                                               committed, forget them

Servers share the readings with an MQTT shared subscription:
``$share/{group}/{root}/v1/gw/+/readings``. :data:`TOPICS` holds the same table as data.
Payloads are not this module's business (see the sibling modules).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from protocols.wire.codec import SCHEMA_VERSION, WireError, check_gateway_id

DEFAULT_ROOT: Final[str] = "meterlink"


class Channel(StrEnum):
    """The last part of a topic name: which message family travels on it."""

    READINGS = "readings"
    STATUS = "status"
    CMD = "cmd"
    CMD_RESULT = "cmd/result"
    RECEIPT = "receipt"


class Direction(StrEnum):
    EDGE_TO_SERVER = "edge -> server"
    SERVER_TO_EDGE = "server -> edge"


@dataclass(frozen=True)
class TopicSpec:
    """One row of the topic table."""

    channel: Channel
    direction: Direction
    qos: int
    retained: bool
    payload: str  # the message class carried, by name


TOPICS: Final[tuple[TopicSpec, ...]] = (
    TopicSpec(Channel.READINGS, Direction.EDGE_TO_SERVER, 1, False, "ReadingsBatch"),
    TopicSpec(Channel.STATUS, Direction.EDGE_TO_SERVER, 1, True, "GatewayStatus"),
    TopicSpec(Channel.CMD, Direction.SERVER_TO_EDGE, 1, False, "Command"),
    TopicSpec(Channel.CMD_RESULT, Direction.EDGE_TO_SERVER, 1, False, "CommandResult"),
    TopicSpec(Channel.RECEIPT, Direction.SERVER_TO_EDGE, 1, False, "Receipt"),
)


def topic(gateway: str, channel: Channel, root: str = DEFAULT_ROOT) -> str:
    """The topic of one channel of one gateway."""
    return f"{root}/v{SCHEMA_VERSION}/gw/{check_gateway_id(gateway)}/{channel.value}"


def subscription(channel: Channel, root: str = DEFAULT_ROOT, share_group: str | None = None) -> str:
    """The wildcard topic for one channel of every gateway, shared when a group is given."""
    base = f"{root}/v{SCHEMA_VERSION}/gw/+/{channel.value}"
    return f"$share/{share_group}/{base}" if share_group else base


@dataclass(frozen=True)
class ParsedTopic:
    gateway: str
    channel: Channel


def parse_topic(name: str, root: str = DEFAULT_ROOT) -> ParsedTopic:
    """The gateway and channel of a topic name, or a :class:`WireError`."""
    prefix = f"{root}/v{SCHEMA_VERSION}/gw/"
    if not name.startswith(prefix):
        raise WireError(f"topic {name!r} is not under {prefix!r}")
    gateway, sep, rest = name[len(prefix) :].partition("/")
    if not sep:
        raise WireError(f"topic {name!r} names no channel after the gateway")
    check_gateway_id(gateway)
    for channel in Channel:
        if rest == channel.value:
            return ParsedTopic(gateway, channel)
    raise WireError(f"topic {name!r} has unknown channel {rest!r}")
