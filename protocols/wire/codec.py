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
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

SCHEMA_VERSION: Final[int] = 1
#: Longest payload either side accepts (a batch of a few thousand readings fits easily).
MAX_PAYLOAD_BYTES: Final[int] = 4 * 1024 * 1024

#: The grammar of every identifier on the wire (gateway, meter, batch and command ids): safe
#: in a topic, a URL path, a file name and a database key.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
ID_RULE: Final[str] = "1-64 letters, digits, '_', '.', '-', starting with a letter or digit"


class WireError(ValueError):
    """A payload or topic that does not follow the schema; the message says what and where."""


class UnknownSchemaError(WireError):
    """The payload names a schema version this code does not speak."""


# --------------------------------------------------------------------------- envelope


def dump(obj: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; NaN and infinities are refused (JSON has no such numbers), and so is
    text with no UTF-8 form (a lone surrogate)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise WireError("text is not valid Unicode (a lone surrogate)") from None


def load(payload: bytes | bytearray | str) -> dict[str, Any]:
    """The JSON object of a payload of this schema version, or a :class:`WireError`."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise WireError("malformed JSON: nested too deeply") from None
    if not isinstance(obj, dict):
        raise WireError(f"payload must be a JSON object, got {kind_of(obj)}")
    schema = obj.get("schema")
    if schema != SCHEMA_VERSION:
        raise UnknownSchemaError(
            f"schema version {schema!r} is not supported (this side speaks {SCHEMA_VERSION})"
        )
    return obj


# --------------------------------------------------------------------------- identifiers


def is_id(value: object) -> bool:
    """Whether ``value`` follows the identifier grammar (:data:`ID_RULE`)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def check_id(value: object, where: str) -> str:
    """An identifier (gateway, meter, batch, command): :data:`ID_RULE`."""
    if not is_id(value):
        raise WireError(f"{where}: {show(value)} is not a valid id: use {ID_RULE}")
    return value  # type: ignore[return-value]  # is_id checked the type


def check_gateway_id(gateway: str) -> str:
    """A gateway id is 1-64 characters of letters, digits, ``_ . -`` (safe in a topic)."""
    if not is_id(gateway):
        raise WireError(f"gateway id {show(gateway)} is not valid: use {ID_RULE}")
    return gateway


# --------------------------------------------------------------------------- text


def text_fault(value: str) -> str | None:
    """Why PostgreSQL could not store ``value`` as text (a NUL character, or a lone
    surrogate that has no UTF-8 form), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode (a lone surrogate)"
    return None


def check_tree(value: object, where: str, *, max_depth: int = 32) -> None:
    """Every string (keys included) and number in a decoded JSON value can be stored (no NUL,
    no lone surrogate, no NaN or infinity: Python's JSON reader takes them, PostgreSQL's
    jsonb does not); for free-form parts of a payload (command arguments and results) that
    are kept as they came."""
    stack: list[tuple[object, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > max_depth:
            raise WireError(f"{path}: nested deeper than {max_depth} levels")
        if isinstance(item, str):
            fault = text_fault(item)
            if fault:
                raise WireError(f"{path}: text {fault}")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise WireError(f"{path}: {item} is not a JSON number")
        elif isinstance(item, dict):
            for k, v in item.items():
                fault = text_fault(k)
                if fault:
                    raise WireError(f"{path}: a key {fault}")
                stack.append((v, f"{path}.{k}", depth + 1))
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))


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


#: The largest count a status may carry: the largest integer every JSON reader keeps exact.
MAX_COUNT: Final[int] = 2**53 - 1


def show(value: object) -> str:
    """A value as the peer sent it (JSON), shortened, for error messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
        if text_fault(text):  # a lone surrogate: say it escaped, so the reason can be stored
            text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_fields(
    obj: Mapping[str, Any], where: str, required: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> None:
    """``obj`` has every required field and, when ``allowed`` is given, no other field."""
    missing = [k for k in required if k not in obj]
    if missing:
        raise WireError(f"{where}: missing field(s) {', '.join(missing)}")
    if allowed:
        unknown = sorted(str(k) for k in obj if k not in allowed)
        if unknown:  # the names come from the peer: shown escaped and shortened, five at most
            names = ", ".join(show(k) for k in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise WireError(f"{where}: unknown field(s) {names}{more}")


def an_object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WireError(f"{where}: expected an object, got {show(value)}")
    return value


def a_list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise WireError(f"{where}: expected a list, got {show(value)}")
    return value


def a_bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise WireError(f"{where}: expected true or false, got {show(value)}")
    return value


def a_string(value: object, where: str, *, max_len: int, non_empty: bool = False) -> str:
    """Free text of at most ``max_len`` characters that PostgreSQL can store."""
    if not isinstance(value, str) or (non_empty and not value) or len(value) > max_len:
        what = "a non-empty string" if non_empty else "a string"
        raise WireError(
            f"{where}: expected {what} of at most {max_len} characters, got {show(value)}"
        )
    fault = text_fault(value)
    if fault:
        raise WireError(f"{where}: text {fault}")
    return value


def a_string_or_null(value: object, where: str, *, max_len: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(
            f"{where}: expected null or a string of at most {max_len} characters, got {show(value)}"
        )
    return a_string(value, where, max_len=max_len)


def a_count(value: object, where: str) -> int:
    """A non-negative integer (a counter or a size); ``true`` is not a number here."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WireError(f"{where}: expected a non-negative integer, got {show(value)}")
    if value > MAX_COUNT:
        raise WireError(f"{where}: {show(value)} is out of range (at most {MAX_COUNT})")
    return value


def seconds_or_null(value: object, where: str) -> float | None:
    """A non-negative, finite number of seconds, or null."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise WireError(f"{where}: expected null or a non-negative number, got {show(value)}")
    try:
        seconds = float(value)
    except OverflowError:  # an integer too large for a float
        raise WireError(f"{where}: {show(value)} is out of range") from None
    if not math.isfinite(seconds):
        raise WireError(f"{where}: {show(value)} is not finite")
    return seconds
