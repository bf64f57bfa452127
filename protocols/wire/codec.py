"""The envelope every wire payload shares, and the checks every decoder uses.

A payload is one UTF-8 JSON object of at most :data:`MAX_PAYLOAD_BYTES` carrying
``"schema": 1``. This module owns that envelope (:func:`dump`, :func:`load`), the error
tree (:class:`WireError`, :class:`UnknownSchemaError`), the time format (UTC with a ``Z``)
and the field checks. Every check takes ``where``, the field's path in the payload
(``readings[3].ts``, ``buses[0].timeouts``), and puts it at the front of its message, so the
server can dead-letter a message with a reason that says which field of which item is
wrong. It does not know any message family: those live in the sibling modules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

SCHEMA_VERSION: Final[int] = 1
#: Longest payload either side accepts (a batch of a few thousand readings fits easily).
MAX_PAYLOAD_BYTES: Final[int] = 4 * 1024 * 1024

_GATEWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class WireError(ValueError):
    """A payload or topic that does not follow the schema; the message says what and where."""


class UnknownSchemaError(WireError):
    """The payload names a schema version this code does not speak."""


# --------------------------------------------------------------------------- envelope


def dump(obj: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; NaN and infinities are refused (JSON has no such numbers)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def load(payload: bytes | bytearray | str) -> dict[str, Any]:
    """The JSON object of a payload of this schema version, or a :class:`WireError`."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"malformed JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise WireError(f"payload must be a JSON object, got {kind_of(obj)}")
    schema = obj.get("schema")
    if schema != SCHEMA_VERSION:
        raise UnknownSchemaError(
            f"schema version {schema!r} is not supported (this side speaks {SCHEMA_VERSION})"
        )
    return obj


# --------------------------------------------------------------------------- identifiers


def check_gateway_id(gateway: str) -> str:
    """A gateway id is 1-64 characters of letters, digits, ``_ . -`` (safe in a topic)."""
    if not isinstance(gateway, str) or not _GATEWAY_ID.match(gateway):
        raise WireError(
            f"gateway id {gateway!r} is not valid: use 1-64 letters, digits, '_', '.', '-',"
            " starting with a letter or digit"
        )
    return gateway


# --------------------------------------------------------------------------- time


def format_ts(ts: datetime) -> str:
    """UTC, second or sub-second precision, with a ``Z``."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise WireError(f"time {ts.isoformat()} has no time zone")
    ts = ts.astimezone(UTC)
    text = ts.isoformat(timespec="milliseconds" if ts.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_ts(value: object, where: str) -> datetime:
    """An ISO 8601 time with a zone, as an aware UTC datetime."""
    if not isinstance(value, str):
        raise WireError(f"{where}: expected an ISO 8601 UTC time string, got {kind_of(value)}")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise WireError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise WireError(f"{where}: {value!r} has no time zone (send UTC with 'Z')")
    return ts.astimezone(UTC)


# --------------------------------------------------------------------------- fields


def kind_of(value: object) -> str:
    """The JSON-ish type name of a value, for error messages."""
    return "null" if value is None else type(value).__name__


def enum_value(cls: type[Any], value: object, where: str) -> Any:
    """The member of enum ``cls`` whose value is ``value``."""
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise WireError(f"{where}: {value!r} is not one of {allowed}") from None


def typed_field(obj: Mapping[str, Any], name: str, typ: type[Any]) -> Any:
    """The top-level field ``name``, which must be an instance of ``typ``."""
    value = obj.get(name)
    if not isinstance(value, typ):
        raise WireError(f"{name}: expected {typ.__name__}, got {kind_of(value)}")
    return value
