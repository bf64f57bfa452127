"""SQL of what staff review about ingestion: the dead letters and quarantined readings it
kept aside, conflicting readings, and the gateways' reported state, each as one page and
the count of all. Writing these rows is the ingest service's (:mod:`server.ingest`)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def _page(
    conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"{sql} LIMIT %s OFFSET %s", (*params, limit, offset)).fetchall()
        total = cur.execute(f"SELECT count(*) AS n FROM ({sql}) t", params).fetchone()
    return rows, total["n"] if total else 0


def dead_letters(
    conn: psycopg.Connection[Any], *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Newest first; the payload as text, cut at 2000 bytes, with the whole payload's size
    and SHA-256 (a dead letter keeps at most its first 64 KiB)."""
    return _page(
        conn,
        "SELECT id, received_at, topic, gateway_id, reason, "
        "encode(substring(payload from 1 for 2000), 'escape') AS payload, "
        "payload_size, payload_sha256 "
        "FROM dead_letters ORDER BY id DESC",
        (),
        limit,
        offset,
    )


def quarantine(
    conn: psycopg.Connection[Any], *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Quarantined readings summed up per meter, gateway and reason (why they were not
    stored: not in the archive, not that gateway's meter on that date, an implausible
    value), newest reason first within a meter."""
    return _page(
        conn,
        "SELECT meter_id, gateway_id, reason, count(*) AS readings, min(ts) AS first_ts, "
        "max(ts) AS last_ts, max(received_at) AS last_received FROM quarantine "
        "GROUP BY meter_id, gateway_id, reason "
        "ORDER BY meter_id, gateway_id, last_received DESC, reason",
        (),
        limit,
        offset,
    )


def conflicts(
    conn: psycopg.Connection[Any], *, meter: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Newest first, of one meter or of all."""
    where, params = ("WHERE meter_id = %s", (meter,)) if meter else ("", ())
    return _page(
        conn, f"SELECT * FROM reading_conflicts {where} ORDER BY id DESC", params, limit, offset
    )


#: a stored status's outbox (the wire's ``outbox`` object) as columns; null when the
#: status says nothing of it (or is not an object)
OUTBOX_COLUMNS = (
    "CASE WHEN jsonb_typeof(status->'outbox'->'depth') = 'number' "
    "THEN (status->'outbox'->>'depth')::numeric::bigint END AS outbox_depth, "
    "CASE WHEN jsonb_typeof(status->'outbox'->'oldest_age_s') = 'number' "
    "THEN (status->'outbox'->>'oldest_age_s')::float8 END AS outbox_oldest_age_s, "
    "CASE WHEN jsonb_typeof(status->'outbox'->'dropped') = 'number' "
    "THEN (status->'outbox'->>'dropped')::numeric::bigint END AS outbox_dropped"
)


def gateway_status(
    conn: psycopg.Connection[Any], *, online: bool | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Gateways by id, all or only those on line (or off line); the outbox figures of the
    reported status (``status.outbox``) also at the top level (``outbox_depth``, ...)."""
    where, params = ("WHERE online = %s", (online,)) if online is not None else ("", ())
    return _page(
        conn,
        "SELECT id, name, area_id, online, known, last_seen, status_at, version, "
        f"{OUTBOX_COLUMNS}, status FROM gateways {where} ORDER BY id",
        params,
        limit,
        offset,
    )
