"""SQL of the anomaly work beyond the list (issue 19): one record with its subject, the
evidence as chart data (the registers and days that triggered it), the record's history
(creation, then every status change, assignment and comment from the audit log), the
assignment, and statistics by rule or area over time.

Staff's changes are audited rows (entity ``anomalies``, the record's id); the history is
read back from them, so it holds exactly what the audit log holds."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .archive import numbers

#: the days of evidence shown before the anomaly's first day (the chart's lead-in)
LEAD_DAYS = 7
#: the longest evidence window drawn
MOST_DAYS = 62


def get(conn: psycopg.Connection[Any], anomaly_id: int) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT an.*, a.name AS area_name FROM anomalies an "
            "LEFT JOIN areas a ON a.id = an.area_id WHERE an.id = %s",
            (anomaly_id,),
        ).fetchone()


def meter_card(conn: psycopg.Connection[Any], meter_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT id, address, protocol, gateway_id, bus, area_id, customer_class, "
            "customer_name, customer_account, customer_address, phases, ct_ratio, pt_ratio, "
            "contracted_kw, is_area_master, installed_on, removed_on FROM meters WHERE id = %s",
            (meter_id,),
        ).fetchone()
    return numbers(row)


def window(first: date, last: date) -> tuple[date, date]:
    """The evidence's days: a lead-in before the first day, through the day after the last
    (at most :data:`MOST_DAYS`, the newest kept)."""
    start, end = first - timedelta(days=LEAD_DAYS), last + timedelta(days=1)
    if (end - start).days + 1 > MOST_DAYS:
        start = end - timedelta(days=MOST_DAYS - 1)
    return start, end


def meter_series(
    conn: psycopg.Connection[Any], meter_id: str, quantities: list[str], start: date, end: date
) -> dict[str, dict[date, float]]:
    """The meter's daily-freeze registers of ``quantities`` per data date."""
    out: dict[str, dict[date, float]] = {q: {} for q in quantities}
    for qty, d, v in conn.execute(
        "SELECT quantity, data_date, value FROM daily_freeze WHERE meter_id = %s "
        "AND quantity = ANY(%s) AND data_date BETWEEN %s AND %s",
        (meter_id, quantities, start, end),
    ):
        out[qty][d] = v
    return out


def area_series(
    conn: psycopg.Connection[Any], area_id: str, start: date, end: date
) -> dict[date, dict[str, Any]]:
    """Per data date: the area's supply (its master meters' consumption, primary side),
    sales (its other meters'), and how many of its meters have both registers needed."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            WITH f AS (
                SELECT m.id, m.is_area_master, m.ct_ratio * m.pt_ratio AS mult, d.data_date,
                       d.value - lag(d.value) OVER (PARTITION BY m.id ORDER BY d.data_date)
                         AS delta,
                       d.data_date - lag(d.data_date) OVER (PARTITION BY m.id
                                                            ORDER BY d.data_date) AS gap
                FROM meters m JOIN daily_freeze d ON d.meter_id = m.id
                WHERE m.area_id = %(a)s AND d.quantity = 'energy_import_total'
                  AND d.data_date BETWEEN %(s)s::date - 1 AND %(e)s)
            SELECT data_date,
                   sum(delta * mult) FILTER (WHERE is_area_master AND gap = 1)::float8 AS supply,
                   sum(delta * mult) FILTER (WHERE NOT is_area_master AND gap = 1)::float8
                     AS sales,
                   count(*) FILTER (WHERE gap = 1)::int AS meters_read
            FROM f WHERE data_date >= %(s)s GROUP BY data_date ORDER BY data_date""",
            {"a": area_id, "s": start, "e": end},
        ).fetchall()
    return {r.pop("data_date"): r for r in rows}


def history(conn: psycopg.Connection[Any], anomaly_id: int) -> list[dict[str, Any]]:
    """The audit rows about the record, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id, at, actor, action, before, after FROM audit_log "
            "WHERE entity = 'anomalies' AND entity_id = %s ORDER BY at, id",
            (str(anomaly_id),),
        ).fetchall()


def assign(
    conn: psycopg.Connection[Any], anomaly_id: int, assigned_to: str | None, actor: str
) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "UPDATE anomalies SET assigned_to = %s, assigned_at = CASE WHEN %s::text IS NULL "
            "THEN NULL ELSE now() END, updated_by = %s, updated_at = now() WHERE id = %s "
            "RETURNING *",
            (assigned_to, assigned_to, actor, anomaly_id),
        ).fetchone()


def active_user(conn: psycopg.Connection[Any], username: str) -> str | None:
    """The user's role if the user exists and is active."""
    row = conn.execute(
        "SELECT role FROM users WHERE username = %s AND active", (username,)
    ).fetchone()
    return None if row is None else str(row[0])


def stats(conn: psycopg.Connection[Any], start: date, end: date, by: str) -> list[dict[str, Any]]:
    """Per rule (or area): the anomalies whose days overlap ``start``..``end`` by status
    now, and how many began on each day of the range."""
    col = {"rule": "rule", "area": "area_id"}[by]
    with conn.cursor(row_factory=dict_row) as cur:
        totals = cur.execute(
            f"""
            SELECT {col} AS key, count(*)::int AS total,
                   count(*) FILTER (WHERE status = 'open')::int AS open,
                   count(*) FILTER (WHERE status = 'confirmed')::int AS confirmed,
                   count(*) FILTER (WHERE status = 'dismissed')::int AS dismissed,
                   count(*) FILTER (WHERE status = 'closed')::int AS closed,
                   count(*) FILTER (WHERE assigned_to IS NOT NULL
                                    AND status IN ('open', 'confirmed'))::int AS assigned
            FROM anomalies WHERE first_date <= %(e)s AND last_date >= %(s)s
            GROUP BY 1 ORDER BY 1 NULLS LAST""",
            {"s": start, "e": end},
        ).fetchall()
        began = cur.execute(
            f"""SELECT {col} AS key, first_date, count(*)::int AS n FROM anomalies
                WHERE first_date BETWEEN %(s)s AND %(e)s GROUP BY 1, 2""",
            {"s": start, "e": end},
        ).fetchall()
    per: dict[Any, dict[date, int]] = {}
    for b in began:
        per.setdefault(b["key"], {})[b["first_date"]] = b["n"]
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    for t in totals:
        mine = per.get(t["key"], {})
        t["days"] = [{"date": d, "new": mine.get(d, 0)} for d in days]
    return totals
