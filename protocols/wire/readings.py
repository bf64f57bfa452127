"""Readings on the wire: one batch per message, edge -> server.

A reading inside a batch::

    {"meter": "M0001", "quantity": "energy_import_total", "ts": "2026-11-22T16:00:00Z",
     "value": 1234.56, "unit": "kWh", "kind": "interval", "source": "scheduled",
     "quality": []}

Two decoders accept exactly the same payloads: :func:`decode_readings` builds
:class:`~protocols.model.Reading` objects (the reference), :func:`decode_readings_rows`
builds plain rows for the server's bulk path. A bad reading rejects its whole batch with
the reading's index in the message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from protocols.model import QUANTITY_BY_NAME, Quality, Reading, ReadingError, ReadingKind, Source
from protocols.wire.codec import (
    SCHEMA_VERSION,
    WireError,
    check_gateway_id,
    check_id,
    dump,
    enum_value,
    format_ts,
    is_id,
    kind_of,
    load,
    parse_ts,
    typed_field,
)

MAX_BATCH_READINGS: Final[int] = 20_000


@dataclass(frozen=True)
class ReadingsBatch:
    """Readings one gateway publishes in one message.

    ``batch_id`` is the gateway's name for this one send (any id of the wire's id rule;
    the edge uses ``<first outbox id>-<last outbox id>-<16 random hex digits>``). The
    server's receipt names it, and only a receipt lets the gateway forget the readings, so
    it must not be guessable by anyone who did not see the batch; a batch sent again gets a
    new id. Storage is idempotent: the same readings under another id are not stored twice.
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
        raise WireError(f"{where}: expected an object, got {kind_of(obj)}")
    missing = [k for k in ("meter", "quantity", "ts", "value") if k not in obj]
    if missing:
        raise WireError(f"{where}: missing field(s) {', '.join(missing)}")
    meter = check_id(obj["meter"], f"{where}.meter")
    quantity = obj["quantity"]
    if not isinstance(quantity, str) or quantity not in QUANTITY_BY_NAME:
        raise WireError(f"{where}.quantity: unknown quantity {quantity!r}")
    value = obj["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WireError(f"{where}.value: expected a number, got {kind_of(value)}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        raise WireError(f"{where}.value: integer out of range for a float") from None
    if not finite:
        raise WireError(f"{where}.value: {value!r} is not finite")
    kind = enum_value(ReadingKind, obj.get("kind", ReadingKind.INTERVAL.value), f"{where}.kind")
    source = enum_value(Source, obj.get("source", Source.SCHEDULED.value), f"{where}.source")
    raw_quality = obj.get("quality", [])
    if not isinstance(raw_quality, list):
        raise WireError(f"{where}.quality: expected a list, got {kind_of(raw_quality)}")
    quality = frozenset(enum_value(Quality, q, f"{where}.quality") for q in raw_quality)
    unit = obj.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise WireError(f"{where}.unit: expected a string or null, got {kind_of(unit)}")
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


def encode_readings(batch: ReadingsBatch) -> bytes:
    if len(batch.readings) > MAX_BATCH_READINGS:
        raise WireError(f"batch of {len(batch.readings)} readings exceeds {MAX_BATCH_READINGS}")
    return dump(
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
    gateway, batch_id, sent_at, raw = _batch_header(payload)
    readings = tuple(reading_from_dict(item, f"readings[{i}]") for i, item in enumerate(raw))
    return ReadingsBatch(gateway, batch_id, sent_at, readings)


def _batch_header(payload: bytes) -> tuple[str, str, datetime, list[Any]]:
    """A readings batch's gateway, batch id, sent time and raw readings list, checked (the
    part both decoders share)."""
    obj = load(payload)
    gateway = check_gateway_id(typed_field(obj, "gateway", str))
    batch_id = check_id(obj.get("batch_id"), "batch_id")
    sent_at = parse_ts(obj.get("sent_at"), "sent_at")
    raw = obj.get("readings")
    if not isinstance(raw, list):
        raise WireError(f"readings: expected a list, got {kind_of(raw)}")
    if len(raw) > MAX_BATCH_READINGS:
        raise WireError(f"readings: {len(raw)} items exceed the limit of {MAX_BATCH_READINGS}")
    return gateway, batch_id, sent_at, raw


#: One reading as a plain tuple for the server's bulk path (``COPY`` takes it as is):
#: ``(meter, quantity, ts UTC, value, kind, source, quality)`` with kind and source the
#: ReadingKind / Source values and quality the sorted Quality values. Deliberately not a
#: NamedTuple: measured on this machine, building tuple subclasses cut decoding from 429 k to
#: 335 k rows/s and psycopg's binary COPY takes exact tuples 12-30 % faster than subclasses;
#: together they cost 20-30 % of end-to-end ingestion (tests/benchmarks/bench_ingest).
ReadingRow = tuple[str, str, datetime, float, str, str, tuple[str, ...]]


@dataclass(frozen=True)
class ReadingsRows:
    """A decoded batch as rows (see :func:`decode_readings_rows`)."""

    gateway: str
    batch_id: str
    sent_at: datetime
    rows: list[ReadingRow]


_KIND_VALUES: Final[frozenset[str]] = frozenset(k.value for k in ReadingKind)
_SOURCE_VALUES: Final[frozenset[str]] = frozenset(s.value for s in Source)
_QUALITY_VALUES: Final[frozenset[str]] = frozenset(q.value for q in Quality)
_UNIT_OF: Final[dict[str, str | None]] = {q.name: q.unit for q in QUANTITY_BY_NAME.values()}


def decode_readings_rows(payload: bytes) -> ReadingsRows:
    """Decode a batch like :func:`decode_readings`, but into :class:`ReadingRow` tuples, for
    bulk storage.

    It accepts exactly what :func:`decode_readings` accepts and rejects the rest with the
    same :class:`WireError` message: each reading goes through a fast check of the common
    shape, and anything unusual is handed to :func:`reading_from_dict`, which either
    accepts it or raises the reference error. Timestamps repeat across a batch (one slot,
    many meters), so each distinct string is parsed once.
    """
    gateway, batch_id, sent_at, raw = _batch_header(payload)
    rows: list[ReadingRow] = []
    append = rows.append
    ts_cache: dict[str, datetime] = {}
    good_ids: set[str] = set()  # meter ids already checked (a batch names few meters, often)
    unit_of = _UNIT_OF
    for i, item in enumerate(raw):
        row = _fast_row(item, ts_cache, good_ids, unit_of) if type(item) is dict else None
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
    item: dict[str, Any],
    ts_cache: dict[str, datetime],
    good_ids: set[str],
    unit_of: dict[str, str | None],
) -> ReadingRow | None:
    """The row for a reading of the usual shape, or None to let the reference path decide."""
    meter = item.get("meter")
    quantity = item.get("quantity")
    value: Any = item.get("value")
    ts_text = item.get("ts")
    if type(meter) is not str:
        return None
    if meter not in good_ids:
        if not is_id(meter):
            return None
        good_ids.add(meter)
    if type(quantity) is not str or quantity not in unit_of or type(ts_text) is not str:
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


def batch_of(gateway: str, batch_id: str, readings: Sequence[Reading], sent_at: datetime) -> bytes:
    """Shorthand used by the edge uplink and by tests: encode one batch."""
    return encode_readings(ReadingsBatch(gateway, batch_id, sent_at, tuple(readings)))
