"""MQTT topics and payloads shared by the edge agent and the server (schema version 1).

Topics (``root`` defaults to ``meterlink``; tests use a unique root per test)::

    {root}/v1/gw/{gateway}/readings      edge -> server  QoS 1  a ReadingsBatch
    {root}/v1/gw/{gateway}/status        edge -> server  QoS 1  retained GatewayStatus;
                                                                 also the last will (online=false)
    {root}/v1/gw/{gateway}/cmd           server -> edge  QoS 1  a Command
    {root}/v1/gw/{gateway}/cmd/result    edge -> server  QoS 1  a CommandResult

Servers share the readings with an MQTT shared subscription:
``$share/{group}/{root}/v1/gw/+/readings``.

Every payload is a UTF-8 JSON object with ``"schema": 1``. A reading inside a batch::

    {"meter": "M0001", "quantity": "energy_import_total", "ts": "2026-11-22T16:00:00Z",
     "value": 1234.56, "unit": "kWh", "kind": "interval", "source": "scheduled",
     "quality": []}

Decoding never trusts the peer: every problem raises :class:`WireError` whose message says
which field of which item is wrong, so the server can dead-letter the message with that
reason. Pure functions only; no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Final

from protocols.model import QUANTITY_BY_NAME, Quality, Reading, ReadingError, ReadingKind, Source

SCHEMA_VERSION: Final[int] = 1
DEFAULT_ROOT: Final[str] = "meterlink"
#: Longest payload either side accepts (a batch of a few thousand readings fits easily).
MAX_PAYLOAD_BYTES: Final[int] = 4 * 1024 * 1024
MAX_BATCH_READINGS: Final[int] = 20_000

_GATEWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class WireError(ValueError):
    """A payload or topic that does not follow the schema; the message says what and where."""


class UnknownSchemaError(WireError):
    """The payload names a schema version this code does not speak."""


# --------------------------------------------------------------------------- topics


class Channel(StrEnum):
    READINGS = "readings"
    STATUS = "status"
    CMD = "cmd"
    CMD_RESULT = "cmd/result"
    RECEIPT = "receipt"


def check_gateway_id(gateway: str) -> str:
    """A gateway id is 1-64 characters of letters, digits, ``_ . -`` (safe in a topic)."""
    if not isinstance(gateway, str) or not _GATEWAY_ID.match(gateway):
        raise WireError(
            f"gateway id {gateway!r} is not valid: use 1-64 letters, digits, '_', '.', '-',"
            " starting with a letter or digit"
        )
    return gateway


def topic(gateway: str, channel: Channel, root: str = DEFAULT_ROOT) -> str:
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


# --------------------------------------------------------------------------- time helpers


def format_ts(ts: datetime) -> str:
    """UTC, second or sub-second precision, with a ``Z``."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise WireError(f"time {ts.isoformat()} has no time zone")
    ts = ts.astimezone(UTC)
    text = ts.isoformat(timespec="milliseconds" if ts.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_ts(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise WireError(f"{where}: expected an ISO 8601 UTC time string, got {_kind(value)}")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise WireError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise WireError(f"{where}: {value!r} has no time zone (send UTC with 'Z')")
    return ts.astimezone(UTC)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


# --------------------------------------------------------------------------- readings


@dataclass(frozen=True)
class ReadingsBatch:
    """Readings one gateway publishes in one message.

    ``batch_id`` is unique per gateway (the outbox sequence of the first reading), so a
    server can tell a redelivery from new data in its logs; storage is idempotent anyway.
    """

    gateway: str
    batch_id: str
    sent_at: datetime
    readings: tuple[Reading, ...]


def reading_to_dict(r: Reading) -> dict[str, Any]:
    return {
        "meter": r.meter,
        "quantity": r.quantity,
        "ts": format_ts(r.ts),
        "value": r.value,
        "unit": r.unit if r.unit is not None else QUANTITY_BY_NAME[r.quantity].unit,
        "kind": r.kind.value,
        "source": r.source.value,
        "quality": sorted(q.value for q in r.quality),
    }


def reading_from_dict(obj: object, where: str = "reading") -> Reading:
    if not isinstance(obj, Mapping):
        raise WireError(f"{where}: expected an object, got {_kind(obj)}")
    missing = [k for k in ("meter", "quantity", "ts", "value") if k not in obj]
    if missing:
        raise WireError(f"{where}: missing field(s) {', '.join(missing)}")
    meter = obj["meter"]
    if not isinstance(meter, str) or not meter or len(meter) > 64:
        raise WireError(f"{where}.meter: expected a non-empty string of at most 64 characters")
    quantity = obj["quantity"]
    if not isinstance(quantity, str) or quantity not in QUANTITY_BY_NAME:
        raise WireError(f"{where}.quantity: unknown quantity {quantity!r}")
    value = obj["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WireError(f"{where}.value: expected a number, got {_kind(value)}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        raise WireError(f"{where}.value: integer out of range for a float") from None
    if not finite:
        raise WireError(f"{where}.value: {value!r} is not finite")
    kind = _enum(ReadingKind, obj.get("kind", ReadingKind.INTERVAL.value), f"{where}.kind")
    source = _enum(Source, obj.get("source", Source.SCHEDULED.value), f"{where}.source")
    raw_quality = obj.get("quality", [])
    if not isinstance(raw_quality, list):
        raise WireError(f"{where}.quality: expected a list, got {_kind(raw_quality)}")
    quality = frozenset(_enum(Quality, q, f"{where}.quality") for q in raw_quality)
    unit = obj.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise WireError(f"{where}.unit: expected a string or null, got {_kind(unit)}")
    try:
        return Reading(
            meter=meter,
            quantity=quantity,
            ts=parse_ts(obj["ts"], f"{where}.ts"),
            value=float(value),
            unit=unit,
            kind=kind,
            source=source,
            quality=quality,
        )
    except ReadingError as exc:
        raise WireError(f"{where}: {exc}") from exc


def _enum(cls: type[Any], value: object, where: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise WireError(f"{where}: {value!r} is not one of {allowed}") from None


def encode_readings(batch: ReadingsBatch) -> bytes:
    if len(batch.readings) > MAX_BATCH_READINGS:
        raise WireError(f"batch of {len(batch.readings)} readings exceeds {MAX_BATCH_READINGS}")
    return _dump(
        {
            "schema": SCHEMA_VERSION,
            "gateway": check_gateway_id(batch.gateway),
            "batch_id": batch.batch_id,
            "sent_at": format_ts(batch.sent_at),
            "readings": [reading_to_dict(r) for r in batch.readings],
        }
    )


def decode_readings(payload: bytes) -> ReadingsBatch:
    """Decode a whole batch; any bad reading rejects the batch with its index in the error.

    The server dead-letters a rejected batch whole (with this reason), so nothing is stored
    half and nothing vanishes.
    """
    obj = _load(payload)
    gateway = check_gateway_id(_field(obj, "gateway", str))
    batch_id = _field(obj, "batch_id", str)
    sent_at = parse_ts(obj.get("sent_at"), "sent_at")
    raw = obj.get("readings")
    if not isinstance(raw, list):
        raise WireError(f"readings: expected a list, got {_kind(raw)}")
    if len(raw) > MAX_BATCH_READINGS:
        raise WireError(f"readings: {len(raw)} items exceed the limit of {MAX_BATCH_READINGS}")
    readings = tuple(reading_from_dict(item, f"readings[{i}]") for i, item in enumerate(raw))
    return ReadingsBatch(gateway, batch_id, sent_at, readings)


#: One reading as a plain tuple, for the server's bulk path:
#: (meter, quantity, ts UTC, value, kind, source, quality flags sorted).
ReadingRow = tuple[str, str, datetime, float, str, str, tuple[str, ...]]


@dataclass(frozen=True)
class ReadingsRows:
    """A decoded batch as plain tuples (see :func:`decode_readings_rows`)."""

    gateway: str
    batch_id: str
    sent_at: datetime
    rows: list[ReadingRow]


_KIND_VALUES: Final[frozenset[str]] = frozenset(k.value for k in ReadingKind)
_SOURCE_VALUES: Final[frozenset[str]] = frozenset(s.value for s in Source)
_QUALITY_VALUES: Final[frozenset[str]] = frozenset(q.value for q in Quality)
_UNIT_OF: Final[dict[str, str | None]] = {q.name: q.unit for q in QUANTITY_BY_NAME.values()}


def decode_readings_rows(payload: bytes) -> ReadingsRows:
    """Decode a batch like :func:`decode_readings`, but into tuples, for bulk storage.

    It accepts exactly what :func:`decode_readings` accepts and rejects the rest with the
    same :class:`WireError` message: each reading goes through a fast check of the common
    shape, and anything unusual is handed to :func:`reading_from_dict`, which either
    accepts it or raises the reference error. Timestamps repeat across a batch (one slot,
    many meters), so each distinct string is parsed once.
    """
    obj = _load(payload)
    gateway = check_gateway_id(_field(obj, "gateway", str))
    batch_id = _field(obj, "batch_id", str)
    sent_at = parse_ts(obj.get("sent_at"), "sent_at")
    raw = obj.get("readings")
    if not isinstance(raw, list):
        raise WireError(f"readings: expected a list, got {_kind(raw)}")
    if len(raw) > MAX_BATCH_READINGS:
        raise WireError(f"readings: {len(raw)} items exceed the limit of {MAX_BATCH_READINGS}")
    rows: list[ReadingRow] = []
    append = rows.append
    ts_cache: dict[str, datetime] = {}
    unit_of = _UNIT_OF
    for i, item in enumerate(raw):
        row = _fast_row(item, ts_cache, unit_of) if type(item) is dict else None
        if row is None:
            r = reading_from_dict(item, f"readings[{i}]")  # raises the reference error
            row = (
                r.meter,
                r.quantity,
                r.ts,
                r.value,
                r.kind.value,
                r.source.value,
                tuple(sorted(q.value for q in r.quality)),
            )
        append(row)
    return ReadingsRows(gateway, batch_id, sent_at, rows)


def _fast_row(
    item: dict[str, Any], ts_cache: dict[str, datetime], unit_of: dict[str, str | None]
) -> ReadingRow | None:
    """The row for a reading of the usual shape, or None to let the reference path decide."""
    meter = item.get("meter")
    quantity = item.get("quantity")
    value: Any = item.get("value")
    ts_text = item.get("ts")
    if (
        type(meter) is not str
        or not 0 < len(meter) <= 64
        or type(quantity) is not str
        or quantity not in unit_of
        or type(ts_text) is not str
    ):
        return None
    vt = type(value)
    if vt is float:
        if not math.isfinite(value):
            return None
    elif vt is not int or not -(2**53) <= value <= 2**53:
        return None
    kind = item.get("kind", "interval")
    source = item.get("source", "scheduled")
    if type(kind) is not str or kind not in _KIND_VALUES:
        return None
    if type(source) is not str or source not in _SOURCE_VALUES:
        return None
    unit = item.get("unit")
    if unit is not None and unit != unit_of[quantity]:
        return None
    quality = item.get("quality", [])
    if type(quality) is not list:
        return None
    if quality:
        if any(type(q) is not str or q not in _QUALITY_VALUES for q in quality):
            return None
        flags = tuple(sorted(set(quality)))
    else:
        flags = ()
    ts = ts_cache.get(ts_text)
    if ts is None:
        try:
            ts = datetime.fromisoformat(ts_text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if ts.tzinfo is None or ts.utcoffset() is None:
            return None
        ts = ts.astimezone(UTC)
        ts_cache[ts_text] = ts
    return (meter, quantity, ts, float(value), kind, source, flags)


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class BusHealth:
    name: str
    ok: bool
    transactions: int = 0
    timeouts: int = 0
    checksum_errors: int = 0
    meters_ok: int = 0
    meters_failing: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class MeterHealth:
    """Per-meter state so the server can say *why* a meter was not read."""

    meter: str
    state: str  # "ok" | "failing" | "dead"
    last_ok: datetime | None = None
    last_error: str | None = None  # "timeout" | "checksum" | "wrong_address" | "error_reply: ..."
    consecutive_failures: int = 0


METER_STATES: Final[frozenset[str]] = frozenset({"ok", "failing", "dead"})


@dataclass(frozen=True)
class GatewayStatus:
    gateway: str
    online: bool
    ts: datetime
    version: str = ""
    reason: str | None = None  # for offline: "last will", "shutdown"
    buses: tuple[BusHealth, ...] = ()
    meters: tuple[MeterHealth, ...] = ()
    outbox_depth: int = 0
    outbox_oldest_age_s: float | None = None
    outbox_dropped: int = 0


def encode_status(status: GatewayStatus) -> bytes:
    return _dump(
        {
            "schema": SCHEMA_VERSION,
            "gateway": check_gateway_id(status.gateway),
            "online": status.online,
            "ts": format_ts(status.ts),
            "version": status.version,
            "reason": status.reason,
            "buses": [vars(b) for b in status.buses],
            "meters": [
                {
                    "meter": m.meter,
                    "state": m.state,
                    "last_ok": format_ts(m.last_ok) if m.last_ok else None,
                    "last_error": m.last_error,
                    "consecutive_failures": m.consecutive_failures,
                }
                for m in status.meters
            ],
            "outbox": {
                "depth": status.outbox_depth,
                "oldest_age_s": status.outbox_oldest_age_s,
                "dropped": status.outbox_dropped,
            },
        }
    )


def decode_status(payload: bytes) -> GatewayStatus:
    obj = _load(payload)
    gateway = check_gateway_id(_field(obj, "gateway", str))
    online = _field(obj, "online", bool)
    buses_raw = obj.get("buses", [])
    meters_raw = obj.get("meters", [])
    outbox = obj.get("outbox", {})
    if not isinstance(buses_raw, list) or not isinstance(meters_raw, list):
        raise WireError("buses and meters must be lists")
    if not isinstance(outbox, Mapping):
        raise WireError(f"outbox: expected an object, got {_kind(outbox)}")
    try:
        buses = tuple(BusHealth(**b) for b in buses_raw)
    except TypeError as exc:
        raise WireError(f"buses: {exc}") from None
    meters = []
    for i, m in enumerate(meters_raw):
        where = f"meters[{i}]"
        if not isinstance(m, Mapping):
            raise WireError(f"{where}: expected an object")
        state = m.get("state")
        if state not in METER_STATES:
            raise WireError(f"{where}.state: {state!r} is not one of ok, failing, dead")
        last_ok = m.get("last_ok")
        meters.append(
            MeterHealth(
                meter=str(m.get("meter", "")),
                state=str(state),
                last_ok=parse_ts(last_ok, f"{where}.last_ok") if last_ok else None,
                last_error=m.get("last_error"),
                consecutive_failures=int(m.get("consecutive_failures", 0)),
            )
        )
    age = outbox.get("oldest_age_s")
    return GatewayStatus(
        gateway=gateway,
        online=online,
        ts=parse_ts(obj.get("ts"), "ts"),
        version=str(obj.get("version", "")),
        reason=obj.get("reason"),
        buses=buses,
        meters=tuple(meters),
        outbox_depth=int(outbox.get("depth", 0)),
        outbox_oldest_age_s=float(age) if age is not None else None,
        outbox_dropped=int(outbox.get("dropped", 0)),
    )


def last_will(gateway: str, ts: datetime) -> bytes:
    """The retained offline status the broker publishes when the gateway vanishes."""
    return encode_status(GatewayStatus(gateway=gateway, online=False, ts=ts, reason="last will"))


# --------------------------------------------------------------------------- commands


class CommandName(StrEnum):
    READ_NOW = "read_now"  # 召测: args {"meter": id, "quantities": [..] (optional)}
    BACKFILL = "backfill"  # 补抄: args {"items": [{"meter": id, "date": "YYYY-MM-DD"}, ...]}
    TIME_SYNC = "time_sync"  # args {"bus": name (optional: all buses)}
    REDISCOVER = "rediscover"  # args {"bus": name}
    RELOAD_CONFIG = "reload_config"  # args {}


@dataclass(frozen=True)
class BackfillItem:
    meter: str
    date: date


@dataclass(frozen=True)
class Command:
    id: str
    name: CommandName
    issued_at: datetime
    args: Mapping[str, Any] = field(default_factory=dict)

    def backfill_items(self) -> tuple[BackfillItem, ...]:
        """The meter-days of a backfill command, validated."""
        if self.name is not CommandName.BACKFILL:
            raise WireError(f"command {self.name.value} has no backfill items")
        return _backfill_items(self.args)


def _backfill_items(args: Mapping[str, Any]) -> tuple[BackfillItem, ...]:
    items = args.get("items")
    if not isinstance(items, list) or not items:
        raise WireError("args.items: expected a non-empty list of {meter, date}")
    out = []
    for i, it in enumerate(items):
        where = f"args.items[{i}]"
        if not isinstance(it, Mapping) or not isinstance(it.get("meter"), str):
            raise WireError(f"{where}: expected an object with a string meter")
        try:
            day = date.fromisoformat(str(it.get("date")))
        except ValueError:
            raise WireError(f"{where}.date: {it.get('date')!r} is not YYYY-MM-DD") from None
        out.append(BackfillItem(it["meter"], day))
    return tuple(out)


def _check_args(name: CommandName, args: Mapping[str, Any]) -> None:
    if name is CommandName.READ_NOW:
        if not isinstance(args.get("meter"), str) or not args["meter"]:
            raise WireError("args.meter: read_now needs the meter's archive id")
        qs = args.get("quantities")
        if qs is not None and (
            not isinstance(qs, list) or any(q not in QUANTITY_BY_NAME for q in qs)
        ):
            raise WireError(f"args.quantities: {qs!r} is not a list of known quantities")
    elif name is CommandName.BACKFILL:
        _backfill_items(args)
    elif name is CommandName.REDISCOVER:
        if not isinstance(args.get("bus"), str):
            raise WireError("args.bus: rediscover needs a bus name")
    elif name is CommandName.TIME_SYNC:
        bus = args.get("bus")
        if bus is not None and not isinstance(bus, str):
            raise WireError("args.bus: expected a bus name or nothing")


def encode_command(cmd: Command) -> bytes:
    _check_args(cmd.name, cmd.args)
    return _dump(
        {
            "schema": SCHEMA_VERSION,
            "id": cmd.id,
            "command": cmd.name.value,
            "issued_at": format_ts(cmd.issued_at),
            "args": dict(cmd.args),
        }
    )


def decode_command(payload: bytes) -> Command:
    obj = _load(payload)
    cmd_id = _field(obj, "id", str)
    if not cmd_id or len(cmd_id) > 128:
        raise WireError("id: expected a non-empty string of at most 128 characters")
    name = _enum(CommandName, obj.get("command"), "command")
    args = obj.get("args", {})
    if not isinstance(args, Mapping):
        raise WireError(f"args: expected an object, got {_kind(args)}")
    _check_args(name, args)
    return Command(cmd_id, name, parse_ts(obj.get("issued_at"), "issued_at"), dict(args))


@dataclass(frozen=True)
class CommandResult:
    id: str
    command: str
    ok: bool
    finished_at: datetime
    error: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)


def encode_result(res: CommandResult) -> bytes:
    return _dump(
        {
            "schema": SCHEMA_VERSION,
            "id": res.id,
            "command": res.command,
            "ok": res.ok,
            "error": res.error,
            "finished_at": format_ts(res.finished_at),
            "result": dict(res.result),
        }
    )


def decode_result(payload: bytes) -> CommandResult:
    obj = _load(payload)
    result = obj.get("result", {})
    if not isinstance(result, Mapping):
        raise WireError(f"result: expected an object, got {_kind(result)}")
    error = obj.get("error")
    return CommandResult(
        id=_field(obj, "id", str),
        command=str(obj.get("command", "")),
        ok=_field(obj, "ok", bool),
        finished_at=parse_ts(obj.get("finished_at"), "finished_at"),
        error=str(error) if error is not None else None,
        result=dict(result),
    )


# --------------------------------------------------------------------------- receipts


@dataclass(frozen=True, slots=True)
class Receipt:
    """The server's word that the named batches of a gateway are committed to its database
    (stored, quarantined or dead-lettered): only then may the gateway forget them. A broker's
    PUBACK is not that word: a broker that crashes before delivering loses what it acked."""

    gateway: str
    batches: tuple[str, ...]
    ts: datetime


MAX_RECEIPT_BATCHES = 1000


def encode_receipt(receipt: Receipt) -> bytes:
    return _dump(
        {
            "schema": SCHEMA_VERSION,
            "gateway": check_gateway_id(receipt.gateway),
            "batches": list(receipt.batches),
            "ts": format_ts(receipt.ts),
        }
    )


def decode_receipt(payload: bytes) -> Receipt:
    obj = _load(payload)
    batches = obj.get("batches")
    if not isinstance(batches, list) or not all(isinstance(b, str) and b for b in batches):
        raise WireError("batches: expected a list of batch ids (non-empty strings)")
    if len(batches) > MAX_RECEIPT_BATCHES:
        raise WireError(f"batches: {len(batches)} ids exceed {MAX_RECEIPT_BATCHES}")
    return Receipt(
        gateway=check_gateway_id(_field(obj, "gateway", str)),
        batches=tuple(batches),
        ts=parse_ts(obj.get("ts"), "ts"),
    )


# --------------------------------------------------------------------------- json


def _dump(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _load(payload: bytes | bytearray | str) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"malformed JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise WireError(f"payload must be a JSON object, got {_kind(obj)}")
    schema = obj.get("schema")
    if schema != SCHEMA_VERSION:
        raise UnknownSchemaError(
            f"schema version {schema!r} is not supported (this side speaks {SCHEMA_VERSION})"
        )
    return obj


def _field(obj: Mapping[str, Any], name: str, typ: type[Any]) -> Any:
    value = obj.get(name)
    if not isinstance(value, typ):
        raise WireError(f"{name}: expected {typ.__name__}, got {_kind(value)}")
    return value


def batch_of(gateway: str, batch_id: str, readings: Sequence[Reading], sent_at: datetime) -> bytes:
    """Shorthand used by the edge uplink and by tests: encode one batch."""
    return encode_readings(ReadingsBatch(gateway, batch_id, sent_at, tuple(readings)))
