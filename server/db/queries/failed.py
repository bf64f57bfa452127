"""SQL of the workbench's failed-meter work (issue 19): consecutive unread days of meters,
their archive details, staff re-read batches (written with the command each meter-day went
with, read back with the outcome from the stored command results and the freezes), and
on-demand reads (召测) with the values that came back.

The failed meter-days themselves and their reasons are
:func:`server.checks.completeness.failed_meters`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row


def consecutive_days(conn: psycopg.Connection[Any], meters: list[str], day: date) -> dict[str, int]:
    """Per meter: how many days up to ``day`` in a row it has no daily freeze (since its
    last freeze, or since its installation when it never had one)."""
    rows = conn.execute(
        """
        SELECT m.id, %(d)s::date - greatest(
                   (SELECT max(f.data_date) FROM daily_freeze f WHERE f.meter_id = m.id
                      AND f.quantity = 'energy_import_total' AND f.data_date <= %(d)s),
                   m.installed_on - 1)
        FROM meters m WHERE m.id = ANY(%(ids)s)""",
        {"d": day, "ids": meters},
    ).fetchall()
    return {m: int(n) for m, n in rows}


def meter_details(conn: psycopg.Connection[Any], meters: list[str]) -> dict[str, dict[str, Any]]:
    """Address, customer and unit of each meter."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT m.id, m.address, m.customer_name, m.customer_account, m.bus, "
            "a.org_unit_id AS org_id FROM meters m LEFT JOIN areas a ON a.id = m.area_id "
            "WHERE m.id = ANY(%s)",
            (meters,),
        ).fetchall()
    return {r.pop("id"): r for r in rows}


def latest_batch_items(
    conn: psycopg.Connection[Any], meters: list[str], day: date
) -> dict[str, dict[str, Any]]:
    """The latest staff re-read batch that asked each meter for ``day``, with its
    command's status."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            SELECT DISTINCT ON (i.meter_id) i.meter_id, i.batch_id, i.command_id,
                   c.status AS command_status, b.requested_at, b.requested_by
            FROM reread_batch_items i JOIN reread_batches b ON b.id = i.batch_id
            LEFT JOIN gateway_commands c ON c.id = i.command_id
            WHERE i.meter_id = ANY(%s) AND i.data_date = %s
            ORDER BY i.meter_id, i.batch_id DESC""",
            (meters, day),
        ).fetchall()
    return {r.pop("meter_id"): r for r in rows}


def meters_for_reread(
    conn: psycopg.Connection[Any], meters: list[str]
) -> dict[str, tuple[str | None, str]]:
    """Meter -> (its concentrator, its protocol), for those in the archive."""
    rows = conn.execute(
        "SELECT id, gateway_id, protocol FROM meters WHERE id = ANY(%s)", (meters,)
    ).fetchall()
    return {m: (g, p) for m, g, p in rows}


def request_commands(
    conn: psycopg.Connection[Any], pairs: list[tuple[str, date]]
) -> dict[tuple[str, date], str]:
    """The command that now asks for each meter-day (reread_requests points at the latest)."""
    rows = conn.execute(
        "SELECT r.meter_id, r.data_date, r.command_id FROM reread_requests r "
        "JOIN unnest(%s::text[], %s::date[]) AS x(m, d) ON x.m = r.meter_id "
        "AND x.d = r.data_date",
        ([m for m, _ in pairs], [d for _, d in pairs]),
    ).fetchall()
    return {(m, d): c for m, d, c in rows}


def insert_batch(
    conn: psycopg.Connection[Any],
    *,
    requested_by: str,
    items: list[tuple[str, date, str, str | None]],
) -> dict[str, Any]:
    """A batch and its items (meter, day, gateway, command or None when not sent)."""
    with conn.cursor(row_factory=dict_row) as cur:
        batch = cur.execute(
            "INSERT INTO reread_batches (requested_by, items) VALUES (%s, %s) "
            "RETURNING id, requested_by, requested_at, items",
            (requested_by, len(items)),
        ).fetchone()
        assert batch is not None
        cur.executemany(
            "INSERT INTO reread_batch_items (batch_id, meter_id, data_date, gateway_id, "
            "command_id) VALUES (%s, %s, %s, %s, %s)",
            [(batch["id"], m, d, g, c) for m, d, g, c in items],
        )
    return batch


# One item's outcome: read (a freeze is stored), not_rereadable (never sent: the meter keeps
# no freeze history), pending (its command is not yet sent to the concentrator), sent (sent,
# not answered yet), expired, or failed (the
# gateway answered without the meter-day; the reason from the command's result).
_ITEM_OUTCOME = """
SELECT i.batch_id, i.meter_id, i.data_date AS date, i.gateway_id, i.command_id,
       c.status AS command_status, c.finished_at,
       CASE WHEN f.meter_id IS NOT NULL THEN 'read'
            WHEN i.command_id IS NULL THEN 'not_rereadable'
            WHEN c.status = 'pending' THEN 'pending'
            WHEN c.status = 'sent' THEN 'sent'
            WHEN c.status = 'expired' THEN 'expired'
            ELSE 'failed' END AS outcome,
       CASE WHEN f.meter_id IS NOT NULL THEN NULL
            WHEN i.command_id IS NULL THEN 'the meter keeps no freeze history'
            WHEN c.status IN ('ok', 'partial', 'error') THEN coalesce(
                (SELECT x->>'reason'
                 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.result->'failed') = 'array'
                                                THEN c.result->'failed' END) x
                 WHERE x->>'meter' = i.meter_id AND x->>'date' = i.data_date::text LIMIT 1),
                c.error, 'no reading came back')
            END AS reason
FROM reread_batch_items i
LEFT JOIN gateway_commands c ON c.id = i.command_id
LEFT JOIN daily_freeze f ON f.meter_id = i.meter_id AND f.data_date = i.data_date
     AND f.quantity = 'energy_import_total'
"""

OUTCOMES = ("read", "pending", "sent", "failed", "expired", "not_rereadable")


def batch_items(
    conn: psycopg.Connection[Any],
    batch_id: int,
    *,
    outcome: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    """A page of the batch's items with their outcome, how many match, and the count of
    each outcome over the whole batch."""
    with conn.cursor(row_factory=dict_row) as cur:
        everything = cur.execute(
            f"SELECT * FROM ({_ITEM_OUTCOME} WHERE i.batch_id = %s) t ORDER BY meter_id, date",
            (batch_id,),
        ).fetchall()
    counts = {o: 0 for o in OUTCOMES}
    for r in everything:
        counts[r["outcome"]] += 1
    chosen = [r for r in everything if outcome is None or r["outcome"] == outcome]
    return chosen[offset : offset + limit], len(chosen), counts


def get_batch(conn: psycopg.Connection[Any], batch_id: int) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id, requested_by, requested_at, items FROM reread_batches WHERE id = %s",
            (batch_id,),
        ).fetchone()


def batches(
    conn: psycopg.Connection[Any], *, requested_by: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Batches, newest first, each with the count of its items' outcomes."""
    where = "WHERE requested_by = %(by)s" if requested_by is not None else ""
    params = {"by": requested_by, "limit": limit, "offset": offset}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT id, requested_by, requested_at, items FROM reread_batches {where} "
            "ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s",
            params,
        ).fetchall()
        total = cur.execute(f"SELECT count(*) AS n FROM reread_batches {where}", params).fetchone()
        ids = [r["id"] for r in rows]
        tallies = cur.execute(
            f"SELECT batch_id, outcome, count(*) AS n FROM ({_ITEM_OUTCOME} "
            "WHERE i.batch_id = ANY(%s)) t GROUP BY batch_id, outcome",
            (ids,),
        ).fetchall()
    by_batch: dict[int, dict[str, int]] = {i: {o: 0 for o in OUTCOMES} for i in ids}
    for t in tallies:
        by_batch[t["batch_id"]][t["outcome"]] = int(t["n"])
    for r in rows:
        r["outcome"] = by_batch[r["id"]]
    return rows, int(total["n"]) if total else 0


def read_now_command(
    conn: psycopg.Connection[Any], meter_id: str, command_id: str
) -> dict[str, Any] | None:
    """The on-demand read ``command_id`` if it asked for ``meter_id``."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id AS command_id, gateway_id, status, requested_by, created_at AS "
            "requested_at, sent_at, finished_at, result, error, args FROM gateway_commands "
            "WHERE id = %s AND name = 'read_now' AND args->>'meter' = %s",
            (command_id, meter_id),
        ).fetchone()


def readings_since(
    conn: psycopg.Connection[Any], meter_id: str, since: datetime
) -> list[dict[str, Any]]:
    """The meter's readings stored since ``since`` (the on-demand read's values as they
    arrive), newest first, at most 500; wherever they are stored (a reading of a day
    already compacted goes to the compact or residue table)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT quantity, ts, value, kind, source, received_at FROM "
            "readings_between(%s, 'infinity') WHERE meter_id = %s AND received_at >= %s "
            "ORDER BY ts DESC, quantity LIMIT 500",
            (since - timedelta(days=1), meter_id, since),
        ).fetchall()
