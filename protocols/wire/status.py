"""Gateway status on the wire: edge -> server, retained, and the gateway's last will.

A status says whether the gateway is online, how each bus and each meter is doing (so the
server can say *why* a meter was not read) and how full the outbox is. The broker keeps the
last one (retained); when a gateway vanishes it publishes the gateway's last will, an
offline status (:func:`last_will`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from protocols.wire.codec import (
    SCHEMA_VERSION,
    WireError,
    check_gateway_id,
    dump,
    format_ts,
    kind_of,
    load,
    parse_ts,
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
        }
    )


def decode_status(payload: bytes) -> GatewayStatus:
    obj = load(payload)
    gateway = check_gateway_id(typed_field(obj, "gateway", str))
    online = typed_field(obj, "online", bool)
    buses_raw = obj.get("buses", [])
    meters_raw = obj.get("meters", [])
    outbox = obj.get("outbox", {})
    if not isinstance(buses_raw, list) or not isinstance(meters_raw, list):
        raise WireError("buses and meters must be lists")
    if not isinstance(outbox, Mapping):
        raise WireError(f"outbox: expected an object, got {kind_of(outbox)}")
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
