"""MQTT topics and payloads shared by the edge agent and the server (schema version 1).

Topics (``root`` defaults to ``meterlink``; tests use a unique root per test)::

    {root}/v1/gw/{gateway}/readings    edge -> server  QoS 1  a ReadingsBatch
    {root}/v1/gw/{gateway}/status      edge -> server  QoS 1  a GatewayStatus, retained;
                                                               also the last will (online=false)
    {root}/v1/gw/{gateway}/cmd         server -> edge  QoS 1  a Command
    {root}/v1/gw/{gateway}/cmd/result  edge -> server  QoS 1  a CommandResult
    {root}/v1/gw/{gateway}/receipt     server -> edge  QoS 1  a Receipt: these batches are
                                                               committed, forget them

Every payload is a UTF-8 JSON object with ``"schema": 1``. Decoding never trusts the peer:
every problem raises :class:`WireError` whose message says which field of which item is
wrong, so the server can dead-letter the message with that reason. Pure functions only; no
I/O.

The rooms: ``codec`` (envelope, schema version, errors, time and field checks),
``topics`` (the topic table, building and parsing names), and one module per message
family: ``readings``, ``status``, ``commands``, ``receipts``. Import from the package
(``from protocols import wire; wire.X``); the names below are its public surface.
"""

from __future__ import annotations

from protocols.wire.codec import (
    ID_RULE,
    MAX_PAYLOAD_BYTES,
    SCHEMA_VERSION,
    UnknownSchemaError,
    WireError,
    check_gateway_id,
    check_id,
    check_tree,
    format_ts,
    is_id,
    parse_ts,
    text_fault,
)
from protocols.wire.commands import (
    BACKFILL_COMMANDS,
    MAX_COMMAND_ITEMS,
    BackfillItem,
    Command,
    CommandName,
    CommandResult,
    decode_command,
    decode_result,
    duplicate_result,
    encode_command,
    encode_result,
    is_duplicate_answer,
)
from protocols.wire.readings import (
    MAX_BATCH_READINGS,
    ReadingsBatch,
    batch_of,
    decode_readings,
    encode_readings,
    reading_from_dict,
    reading_to_dict,
)
from protocols.wire.receipts import (
    MAX_RECEIPT_BATCHES,
    Receipt,
    decode_receipt,
    encode_receipt,
)
from protocols.wire.rows import ReadingRow, ReadingsRows, decode_readings_rows
from protocols.wire.security import MacRow, Refused
from protocols.wire.status import (
    METER_STATES,
    BusHealth,
    GatewayStatus,
    MeterHealth,
    decode_status,
    encode_status,
    last_will,
)
from protocols.wire.topics import (
    DEFAULT_ROOT,
    TOPICS,
    Channel,
    Direction,
    ParsedTopic,
    TopicSpec,
    parse_topic,
    subscription,
    topic,
)

__all__ = [
    # codec
    "MAX_PAYLOAD_BYTES",
    "SCHEMA_VERSION",
    "UnknownSchemaError",
    "WireError",
    "check_gateway_id",
    "check_id",
    "check_tree",
    "is_id",
    "text_fault",
    "ID_RULE",
    "format_ts",
    "parse_ts",
    # topics
    "DEFAULT_ROOT",
    "TOPICS",
    "Channel",
    "Direction",
    "ParsedTopic",
    "TopicSpec",
    "parse_topic",
    "subscription",
    "topic",
    # readings
    "MAX_BATCH_READINGS",
    "MacRow",
    "ReadingRow",
    "Refused",
    "ReadingsBatch",
    "ReadingsRows",
    "batch_of",
    "decode_readings",
    "decode_readings_rows",
    "encode_readings",
    "reading_from_dict",
    "reading_to_dict",
    # status
    "METER_STATES",
    "BusHealth",
    "GatewayStatus",
    "MeterHealth",
    "decode_status",
    "encode_status",
    "last_will",
    # commands
    "BACKFILL_COMMANDS",
    "MAX_COMMAND_ITEMS",
    "BackfillItem",
    "Command",
    "CommandName",
    "CommandResult",
    "decode_command",
    "decode_result",
    "duplicate_result",
    "encode_command",
    "encode_result",
    "is_duplicate_answer",
    # receipts
    "MAX_RECEIPT_BATCHES",
    "Receipt",
    "decode_receipt",
    "encode_receipt",
]
