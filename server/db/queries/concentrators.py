"""Concentrator SQL for the workbench (issue 19): the list with online state, last
communication, outbox figures, meters, failing meters and the day's collection, filtered
and paged; one concentrator's reported buses and meters beside the archive's, its recent
commands, the last time sync, its meters' clock offsets and events. The status is what
the edge publishes (:mod:`protocols.wire.status`), stored by ingestion in
``gateways.status``."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from server.checks import completeness

from .ingest_review import OUTBOX_COLUMNS
from .org import SERVED

#: every area the concentrator serves (:data:`server.db.queries.org.SERVED`), as a list
_AREAS = (
    f"(SELECT array_agg(s.area_id ORDER BY s.area_id) FROM ({SERVED}) s "
    "WHERE s.gateway_id = g.id) AS areas"
)

_METERS = (
    "CASE WHEN jsonb_typeof(g.status->'meters') = 'array' THEN g.status->'meters' "
    "ELSE '[]'::jsonb END"
)


def _where(
    *, org_ids: list[str] | None, area_id: str | None, online: bool | None
) -> tuple[str, dict[str, Any]]:
    where = ["g.known"]
    params: dict[str, Any] = {}
    if org_ids is not None:
        where.append("coalesce(g.org_unit_id, a.org_unit_id) = ANY(%(orgs)s)")
        params["orgs"] = org_ids
    if area_id is not None:
        # every concentrator serving the area, not only those the archive puts in it
        where.append(f"g.id IN (SELECT s.gateway_id FROM ({SERVED}) s WHERE s.area_id = %(area)s)")
        params["area"] = area_id
    if online is not None:
        where.append("g.online = %(online)s")
        params["online"] = online
    return " AND ".join(where), params


def listing(
    conn: psycopg.Connection[Any],
    day: date,
    *,
    org_ids: list[str] | None,
    area_id: str | None,
    online: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """A page of the archive's concentrators by id, and over all that match: ``count`` and
    ``online`` (how many are on line)."""
    where, params = _where(org_ids=org_ids, area_id=area_id, online=online)
    sql = f"""
    WITH due AS ({completeness.DUE}), rd AS ({completeness.READ}),
    per AS (SELECT m.gateway_id, count(*) AS due, count(r.meter_id) AS read
            FROM due m LEFT JOIN rd r ON r.meter_id = m.id GROUP BY 1),
    cnt AS (SELECT gateway_id, count(*) AS meters FROM meters
            WHERE removed_on IS NULL OR removed_on > %(d)s GROUP BY 1)
    SELECT g.id, g.name, g.area_id, a.name AS area_name, {_AREAS},
           coalesce(g.org_unit_id, a.org_unit_id) AS org_id, g.online, g.last_seen,
           g.status_at, g.version, {OUTBOX_COLUMNS.replace("status->", "g.status->")},
           (SELECT count(*) FROM jsonb_array_elements({_METERS}) x
             WHERE x->>'state' IS DISTINCT FROM 'ok')::int AS failing_meters,
           coalesce(cnt.meters, 0)::int AS meters, coalesce(per.due, 0)::int AS due,
           coalesce(per.read, 0)::int AS read
    FROM gateways g LEFT JOIN areas a ON a.id = g.area_id
    LEFT JOIN per ON per.gateway_id = g.id LEFT JOIN cnt ON cnt.gateway_id = g.id
    WHERE {where} ORDER BY g.id LIMIT %(limit)s OFFSET %(offset)s
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, {**params, "d": day, "limit": limit, "offset": offset}).fetchall()
        tally = cur.execute(
            "SELECT count(*)::int AS count, count(*) FILTER (WHERE g.online)::int AS online "
            f"FROM gateways g LEFT JOIN areas a ON a.id = g.area_id WHERE {where}",
            params,
        ).fetchone()
    return rows, dict(tally) if tally else {"count": 0, "online": 0}


def one(conn: psycopg.Connection[Any], gateway_id: str, day: date) -> dict[str, Any] | None:
    """The concentrator's list row and its whole stored status."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT id, status, known FROM gateways WHERE id = %s", (gateway_id,))
        found = row.fetchone()
    if found is None:
        return None
    where = "g.id = %(gw)s"
    sql = f"""
    WITH due AS ({completeness.DUE}), rd AS ({completeness.READ})
    SELECT g.id, g.name, g.area_id, a.name AS area_name, {_AREAS},
           coalesce(g.org_unit_id, a.org_unit_id) AS org_id, g.online, g.known, g.last_seen,
           g.status_at, g.version, {OUTBOX_COLUMNS.replace("status->", "g.status->")},
           (SELECT count(*) FROM meters x WHERE x.gateway_id = g.id
              AND (x.removed_on IS NULL OR x.removed_on > %(d)s))::int AS meters,
           (SELECT count(*) FROM due m WHERE m.gateway_id = g.id)::int AS due,
           (SELECT count(*) FROM due m JOIN rd r ON r.meter_id = m.id
             WHERE m.gateway_id = g.id)::int AS read
    FROM gateways g LEFT JOIN areas a ON a.id = g.area_id WHERE {where}
    """
    with conn.cursor(row_factory=dict_row) as cur:
        out = cur.execute(sql, {"gw": gateway_id, "d": day}).fetchone()
    if out is None:
        return None
    out["status"] = found["status"] if isinstance(found["status"], dict) else None
    return out


def archive_buses(conn: psycopg.Connection[Any], gateway_id: str) -> dict[str | None, int]:
    """Meters per bus as the archive has them (not removed)."""
    rows = conn.execute(
        "SELECT bus, count(*) FROM meters WHERE gateway_id = %s "
        "AND (removed_on IS NULL OR removed_on > current_date) GROUP BY bus",
        (gateway_id,),
    ).fetchall()
    return {b: int(n) for b, n in rows}


def recent_commands(
    conn: psycopg.Connection[Any], gateway_id: str, limit: int = 20
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id, name, status, requested_by, created_at, sent_at, finished_at, error "
            "FROM gateway_commands WHERE gateway_id = %s ORDER BY created_at DESC, id "
            "LIMIT %s",
            (gateway_id, limit),
        ).fetchall()


def last_time_sync(conn: psycopg.Connection[Any], gateway_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id AS command_id, status, requested_by, created_at, finished_at, result, "
            "error FROM gateway_commands WHERE gateway_id = %s AND name = 'time_sync' "
            "ORDER BY created_at DESC, id LIMIT 1",
            (gateway_id,),
        ).fetchone()


def clock_offsets(
    conn: psycopg.Connection[Any], gateway_id: str, limit: int = 50
) -> list[dict[str, Any]]:
    """The latest clock offset each of its meters reported (largest first)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """
            SELECT m.id AS meter_id, e.ts, e.value AS offset_s
            FROM meters m JOIN LATERAL (
                SELECT ts, value FROM meter_events_all e WHERE e.meter_id = m.id
                  AND e.quantity = 'clock_offset' ORDER BY ts DESC LIMIT 1) e ON true
            WHERE m.gateway_id = %s ORDER BY abs(e.value) DESC, m.id LIMIT %s""",
            (gateway_id, limit),
        ).fetchall()


def recent_events(
    conn: psycopg.Connection[Any], gateway_id: str, limit: int = 50
) -> list[dict[str, Any]]:
    """Its meters' latest events (newest first)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT e.meter_id, e.ts, e.quantity, e.value FROM meter_events_all e "
            "JOIN meters m ON m.id = e.meter_id WHERE m.gateway_id = %s "
            "ORDER BY e.ts DESC, e.meter_id, e.quantity LIMIT %s",
            (gateway_id, limit),
        ).fetchall()
