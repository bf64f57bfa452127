"""Readings on the wire: one batch per message, edge -> server.

A reading inside a batch::

    {"meter": "M0001", "quantity": "energy_import_total", "ts": "2026-11-22T16:00:00Z",
     "value": 1234.56, "unit": "kWh", "kind": "interval", "source": "scheduled",
     "quality": []}

A value an ESAM meter answered through SECURITY plaintext + MAC (DL/T 698.45) also carries
``"mac"`` (hex, as the meter returned it) and ``"rn"`` (hex, the random number the reader
sent; only with a mac), each 1-:data:`~protocols.model.MAX_SECURITY_BYTES` bytes; both are
optional and absent otherwise. Only the utility's security module can verify the pair.

Two decoders accept exactly the same payloads: :func:`decode_readings` builds
:class:`~protocols.model.Reading` objects (the reference), :func:`decode_readings_rows`
builds plain rows for the server's bulk path. A bad reading rejects its whole batch with
the reading's index in the message, except a reading whose only fault is its ``mac`` or
``rn``: it is set aside (``refused``, with the reason) and the batch's other readings stand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
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
    kind_of,
    load,
    parse_ts,
    typed_field,
)
from protocols.wire.security import (
    Refused,
    has_security,
    refused_item,
    security_of,
    without_security,
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
    #: readings set aside for a malformed ``mac`` / ``rn`` (see the module's docstring)
    refused: tuple[Refused, ...] = ()


def reading_to_dict(r: Reading) -> dict[str, Any]:
    out = {
        "meter": r.meter,
        "quantity": r.quantity,
        "ts": format_ts(r.ts),
        "value": r.value,
        "unit": r.unit if r.unit is not None else QUANTITY_BY_NAME[r.quantity].unit,
        "kind": r.kind.value,
        "source": r.source.value,
        "quality": sorted(q.value for q in r.quality),
    }
    if r.mac is not None:
        out["mac"] = r.mac.hex().upper()
        if r.rn is not None:
            out["rn"] = r.rn.hex().upper()
    return out


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
    mac, rn = security_of(obj, where)
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
            mac=mac,
            rn=rn,
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
    readings: list[Reading] = []
    refused: list[Refused] = []
    for i, item in enumerate(raw):
        secured = has_security(item)
        r = reading_from_dict(without_security(item) if secured else item, f"readings[{i}]")
        if secured:  # other faults rejected the batch above; a bad mac / rn sets r aside
            try:
                mac, rn = security_of(item, f"readings[{i}]")
            except WireError as exc:
                refused.append(refused_item(item, str(exc)))
                continue
            r = replace(r, mac=mac, rn=rn)
        readings.append(r)
    return ReadingsBatch(gateway, batch_id, sent_at, tuple(readings), tuple(refused))


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


def batch_of(gateway: str, batch_id: str, readings: Sequence[Reading], sent_at: datetime) -> bytes:
    """Shorthand used by the edge uplink and by tests: encode one batch."""
    return encode_readings(ReadingsBatch(gateway, batch_id, sent_at, tuple(readings)))
