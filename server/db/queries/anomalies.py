"""Anomaly SQL for the API: the filtered list, the open tally by rule, and a status change.

The rules that *find* anomalies write them elsewhere (:mod:`server.checks.rules`); this
module reads them back and records what staff decided.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

# the filters the list takes, as (column, value); only these column names reach the SQL
FILTER_COLUMNS = ("status", "rule", "area_id", "meter_id", "assigned_to")


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """Equality on :data:`FILTER_COLUMNS`; ``start``/``end`` keep the records whose days
    overlap the range; ``area_ids`` (a list) keeps those of the areas in it."""
    where: list[str] = []
    params: list[Any] = []
    for col in FILTER_COLUMNS:
        val = filters.get(col)
        if val is not None:
            where.append(f"{col} = %s")
            params.append(val)
    if filters.get("start") is not None:
        where.append("last_date >= %s")
        params.append(filters["start"])
    if filters.get("end") is not None:
        where.append("first_date <= %s")
        params.append(filters["end"])
    if filters.get("area_ids") is not None:
        where.append("area_id = ANY(%s)")
        params.append(list(filters["area_ids"]))
    return ("WHERE " + " AND ".join(where)) if where else "", params


def listing(
    conn: psycopg.Connection[Any],
    *,
    filters: dict[str, Any],
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """A page of anomalies, newest last date first, and how many match in all."""
    clause, params = _where(filters)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT * FROM anomalies {clause} ORDER BY last_date DESC, id LIMIT %s OFFSET %s",
            (*params, limit, offset),
        ).fetchall()
        total = cur.execute(f"SELECT count(*) AS n FROM anomalies {clause}", params).fetchone()
    return rows, total["n"] if total else 0


def open_by_rule(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """How many anomalies each rule has open or confirmed."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT rule, count(*) AS n FROM anomalies WHERE status IN "
            "('open', 'confirmed') GROUP BY rule ORDER BY rule"
        ).fetchall()


def lock(conn: psycopg.Connection[Any], *, anomaly_id: int) -> dict[str, Any] | None:
    """The anomaly's row, locked until the caller's transaction ends."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM anomalies WHERE id = %s FOR UPDATE", (anomaly_id,)
        ).fetchone()


def set_status(
    conn: psycopg.Connection[Any], *, anomaly_id: int, status: str, comment: str, actor: str
) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "UPDATE anomalies SET status = %s, comment = %s, updated_by = %s, "
            "updated_at = now() WHERE id = %s RETURNING *",
            (status, comment, actor, anomaly_id),
        ).fetchone()
