"""Gateway status: the latest status each gateway reported (online, version, buses, meters,
outbox), kept as the wire payload; an older status never replaces a newer one, and is
dead-lettered with that reason (not ignored silently). What a recorded status changes (the
gateway's online state, a meter's state and error) is also kept with its time, so a failed
meter-day is explained by what was true on that day (:func:`server.checks.completeness.
failed_meters`), not by the gateway's state now."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg

from protocols import wire

from ..db.queries import gateways as q


def record_status(conn: psycopg.Connection[Any], st: wire.GatewayStatus) -> str | None:
    """Record ``st`` unless a newer status is stored; returns why it was not recorded (the
    caller dead-letters it), or None. The same status again (the broker's retained copy at
    every reconnect) changes nothing and is no fault.

    A last will is stamped when the gateway's client set it, so it is older than the
    statuses sent since: it replaces the stored status when it ends that status's connection
    or a later one (its ``connected_since`` is not older than the stored one's) — the
    gateway crashed; a will of an earlier connection is no fault and changes nothing. A
    status of a connection whose will is stored is stale (that connection is over)."""
    stored = q.stored_status(conn, gateway_id=st.gateway)
    stored_since = _since(stored)
    ends_stored = (
        st.reason == "last will"
        and not st.online
        and st.connected_since is not None
        and stored_since is not None
        and stored_since <= st.connected_since
    )
    if (
        st.online
        and stored is not None
        and stored.get("reason") == "last will"
        and stored_since is not None
        and st.connected_since is not None
        and st.connected_since <= stored_since
    ):
        return (
            f"stale status: its connection (since {st.connected_since.isoformat()}) ended with "
            "the gateway's last will, already recorded"
        )
    stored_at = q.upsert_status(
        conn,
        gateway_id=st.gateway,
        online=st.online,
        status_at=st.ts,
        status=json.loads(wire.encode_status(st)),
        version=st.version,
        over_newer=ends_stored,
    )
    applied = stored_at is None or stored_at <= st.ts or ends_stored
    if applied:
        # a will is stamped when its connection began: the gateway was last seen online at
        # the stored status's time, so it went offline after that
        at = max(st.ts, stored_at) if ends_stored and stored_at is not None else st.ts
        q.log_health(
            conn,
            gateway_id=st.gateway,
            at=at,
            online=st.online,
            meters=[(m.meter, m.state, m.last_error) for m in st.meters],
        )
    if applied or st.reason == "last will" or stored_at is None:
        return None
    return (
        f"stale status: its time {st.ts.isoformat()} is older than the stored status of "
        f"{stored_at.isoformat()} (a newer status was already recorded)"
    )


def _since(stored: dict[str, Any] | None) -> datetime | None:
    """The stored status's ``connected_since`` (None when absent or not a time)."""
    raw = None if stored is None else stored.get("connected_since")
    if not isinstance(raw, str):
        return None
    try:
        since = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return since if since.tzinfo is not None else None
