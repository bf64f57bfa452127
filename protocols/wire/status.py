"""Gateway status on the wire: edge -> server, retained, and the gateway's last will.

A status says whether the gateway is online, how each bus and each meter is doing (so the
server can say *why* a meter was not read) and how full the outbox is. The broker keeps the
last one (retained); when a gateway vanishes it publishes the gateway's last will, an
offline status (:func:`last_will`).

A will is set when the gateway's MQTT client is made and is stamped then, so it is older than
every status the gateway sends afterwards: time alone cannot tell whether it ends the
connection the stored status speaks of. ``connected_since`` (optional) names the connection:
an online status carries the time its client set the will, and the will carries its own
stamp, so a will belongs to the stored status's connection (or a later one) exactly when its
``connected_since`` is not older than the stored status's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from protocols.vocabulary import MeterState
from protocols.wire.codec import (
    SCHEMA_VERSION,
    WireError,
    a_bool,
    a_count,
    a_list,
    a_string,
    a_string_or_null,
    an_object,
    check_fields,
    check_gateway_id,
    check_id,
    dump,
    enum_value,
    format_ts,
    load,
    parse_ts,
    seconds_or_null,
    typed_field,
)


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
    state: str  # a MeterState (decoded statuses carry the member)
    last_ok: datetime | None = None
    last_error: str | None = None  # a ReadFailureKind, "error_reply" with details after ": "
    consecutive_failures: int = 0


METER_STATES: Final[frozenset[str]] = frozenset(MeterState)


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
    connected_since: datetime | None = None  # the connection's will stamp (see above)


#: The oldest ``connected_since`` accepted (no gateway connected before this).
CONNECTED_SINCE_MIN: Final[datetime] = datetime(2000, 1, 1, tzinfo=UTC)


def encode_status(status: GatewayStatus) -> bytes:
    since = (
        {"connected_since": format_ts(status.connected_since)}
        if status.connected_since is not None
        else {}
    )
    return dump(
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
            **since,
        }
    )


#: The fields of one bus entry; any other field is refused (the record is closed).
BUS_FIELDS: Final[tuple[str, ...]] = (
    "name",
    "ok",
    "transactions",
    "timeouts",
    "checksum_errors",
    "meters_ok",
    "meters_failing",
    "last_error",
)
_TEXT_MAX = 1000  # a bus name, a version, a reason, an error text


def decode_status(payload: bytes) -> GatewayStatus:
    """Decode a status; every field is checked and a bad one is named by its path
    (``buses[0].timeouts: expected a non-negative integer, got "x"``).

    Unknown fields are ignored at the top level, in ``outbox`` and in meter entries, and
    refused in bus entries (as the first version of this decoder did).
    """
    obj = load(payload)
    check_fields(obj, "status", ("gateway", "online", "ts"))
    gateway = check_gateway_id(typed_field(obj, "gateway", str))
    online = a_bool(obj["online"], "online")
    ts = parse_ts(obj["ts"], "ts")
    version = a_string(obj.get("version", ""), "version", max_len=_TEXT_MAX)
    reason = a_string_or_null(obj.get("reason"), "reason", max_len=_TEXT_MAX)
    buses_raw = a_list(obj.get("buses", []), "buses")
    buses = tuple(_bus(b, f"buses[{i}]") for i, b in enumerate(buses_raw))
    meters_raw = a_list(obj.get("meters", []), "meters")
    meters = tuple(_meter(m, f"meters[{i}]") for i, m in enumerate(meters_raw))
    outbox = an_object(obj.get("outbox", {}), "outbox")
    since_raw = obj.get("connected_since")
    since = None if since_raw is None else parse_ts(since_raw, "connected_since")
    if since is not None and not CONNECTED_SINCE_MIN <= since <= ts:
        raise WireError(
            f"connected_since: {since_raw!r} is outside {format_ts(CONNECTED_SINCE_MIN)} .. "
            "the status's ts (a connection cannot start after its status)"
        )
    return GatewayStatus(
        gateway=gateway,
        online=online,
        ts=ts,
        version=version,
        reason=reason,
        buses=buses,
        meters=meters,
        outbox_depth=a_count(outbox.get("depth", 0), "outbox.depth"),
        outbox_oldest_age_s=seconds_or_null(outbox.get("oldest_age_s"), "outbox.oldest_age_s"),
        outbox_dropped=a_count(outbox.get("dropped", 0), "outbox.dropped"),
        connected_since=since,
    )


def _bus(value: object, where: str) -> BusHealth:
    b = an_object(value, where)
    check_fields(b, where, ("name", "ok"), BUS_FIELDS)
    return BusHealth(
        name=a_string(b["name"], f"{where}.name", max_len=_TEXT_MAX),
        ok=a_bool(b["ok"], f"{where}.ok"),
        transactions=a_count(b.get("transactions", 0), f"{where}.transactions"),
        timeouts=a_count(b.get("timeouts", 0), f"{where}.timeouts"),
        checksum_errors=a_count(b.get("checksum_errors", 0), f"{where}.checksum_errors"),
        meters_ok=a_count(b.get("meters_ok", 0), f"{where}.meters_ok"),
        meters_failing=a_count(b.get("meters_failing", 0), f"{where}.meters_failing"),
        last_error=a_string_or_null(b.get("last_error"), f"{where}.last_error", max_len=_TEXT_MAX),
    )


def _meter(value: object, where: str) -> MeterHealth:
    m = an_object(value, where)
    check_fields(m, where, ("meter", "state"))
    state: MeterState = enum_value(MeterState, m["state"], f"{where}.state")
    last_ok = m.get("last_ok")
    return MeterHealth(
        meter=check_id(m["meter"], f"{where}.meter"),
        state=state,
        last_ok=parse_ts(last_ok, f"{where}.last_ok") if last_ok is not None else None,
        last_error=a_string_or_null(m.get("last_error"), f"{where}.last_error", max_len=_TEXT_MAX),
        consecutive_failures=a_count(
            m.get("consecutive_failures", 0), f"{where}.consecutive_failures"
        ),
    )


def last_will(gateway: str, ts: datetime) -> bytes:
    """The retained offline status the broker publishes when the gateway vanishes; stamped
    ``ts`` when set, which is also the ``connected_since`` of the online statuses sent on
    the connections that carry it."""
    return encode_status(
        GatewayStatus(gateway=gateway, online=False, ts=ts, reason="last will", connected_since=ts)
    )
