"""Gateway status: the latest status each gateway reported (online, version, buses, meters,
outbox), kept as the wire payload; an older status never replaces a newer one."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from protocols import wire

from ..db.queries import gateways as q


def record_status(conn: psycopg.Connection[Any], st: wire.GatewayStatus) -> None:
    q.upsert_status(
        conn,
        gateway_id=st.gateway,
        online=st.online,
        status_at=st.ts,
        status=json.loads(wire.encode_status(st)),
        version=st.version,
    )
