"""Gateway status: the latest status each gateway reported (online, version, buses, meters,
outbox), kept as the wire payload; an older status never replaces a newer one, and is
dead-lettered with that reason (not ignored silently)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from protocols import wire

from ..db.queries import gateways as q


def record_status(conn: psycopg.Connection[Any], st: wire.GatewayStatus) -> str | None:
    """Record ``st`` unless a newer status is stored; returns why it was not recorded (the
    caller dead-letters it), or None. The same status again (the broker's retained copy at
    every reconnect) changes nothing and is no fault; so is a last will older than the stored
    status: it speaks of a connection the gateway has since reported on."""
    stored_at = q.upsert_status(
        conn,
        gateway_id=st.gateway,
        online=st.online,
        status_at=st.ts,
        status=json.loads(wire.encode_status(st)),
        version=st.version,
    )
    if stored_at is None or stored_at <= st.ts or st.reason == "last will":
        return None
    return (
        f"stale status: its time {st.ts.isoformat()} is older than the stored status of "
        f"{stored_at.isoformat()} (a newer status was already recorded)"
    )
