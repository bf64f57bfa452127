"""Collection-report SQL beside :func:`server.checks.completeness.period_report` (the groups):
the names of a grouping's keys, the drill-down to the meters of one group, and the trend of
the rate per day. Due and read follow the definitions of
:mod:`server.checks.completeness` (its ``PERIOD_DUE``) and the collection facts
(:mod:`server.checks.collection_bits`)."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from server.checks import collection_bits, completeness
from server.db import curve_points

#: a grouping's column where PERIOD_DUE's name for it (``m.org_id``) is not a column of its
#: FROM (meters m, areas a)
_COLUMNS = {"org": "a.org_unit_id"}


def _in_group(by: str) -> str:
    """The condition on PERIOD_DUE's rows (``meters m``, ``areas a``) that keeps the group
    ``%(key)s`` of grouping ``by`` (nothing for ``all``)."""
    if by == "all":
        return ""
    return f"AND {_COLUMNS.get(by, completeness.PERIOD_GROUPS[by])} = %(key)s"


#: the grouping -> the table naming its keys
NAMED = {"org": "org_units", "area": "areas", "gateway": "gateways"}


def key_names(conn: psycopg.Connection[Any], by: str) -> dict[str, str]:
    """Key -> name for a grouping whose keys are archive records (else empty)."""
    table = NAMED.get(by)
    if table is None:
        return {}
    return {k: n for k, n in conn.execute(f"SELECT id, name FROM {table}").fetchall()}


def key_exists(conn: psycopg.Connection[Any], by: str, key: str) -> bool:
    table = NAMED.get(by)
    if table is None:
        return True
    return conn.execute(f"SELECT 1 FROM {table} WHERE id = %s", (key,)).fetchone() is not None


def group_meters(
    conn: psycopg.Connection[Any],
    start: date,
    end: date,
    *,
    by: str,
    key: str | None,
    read: bool | None,
    curves_tz: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """The meters due in the period in group ``key`` of grouping ``by`` (every due meter
    for ``all``), with their due, read and first-pass-read days (and, for one day, the
    load-curve points); ``read`` keeps only those read on every due day (true) or missing
    at least one (false). The freezes are counted per meter through the primary key."""
    inner = _in_group(by)
    outer = {True: "WHERE x.read_days = x.due_days", False: "WHERE x.read_days < x.due_days"}
    read_filter = "" if read is None else outer[read]
    curves = curves_tz is not None and start == end
    pts = (
        ", " + curve_points.DAY_POINTS_OF.format(m="m.id", d="%(s)s::date") + " AS curve_points"
        if curves
        else ", NULL::int AS curve_points"
    )
    read_ctes, read_join, read_params = collection_bits.read_days(start, end)
    sql = f"""
    WITH due AS ({completeness.PERIOD_DUE} {inner}){read_ctes}
    SELECT * FROM (
      SELECT m.id AS meter_id, m.address, m.area_id, m.gateway_id, m.protocol,
             m.customer_class, m.customer_name, m.customer_account, m.org_id,
             m.days::int AS due_days, coalesce(r.n, 0)::int AS read_days,
             coalesce(r.n_first, 0)::int AS read_first_days{pts}
      FROM due m {read_join}
      WHERE m.days > 0
    ) x {read_filter}
    """
    params = {"s": start, "e": end, "key": key, "tz": curves_tz, **read_params}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"{sql} ORDER BY meter_id LIMIT %(limit)s OFFSET %(offset)s",
            {**params, "limit": limit, "offset": offset},
        ).fetchall()
        total = cur.execute(f"SELECT count(*) AS n FROM ({sql}) t", params).fetchone()
    return rows, int(total["n"]) if total else 0


def trend(
    conn: psycopg.Connection[Any], start: date, end: date, *, by: str, key: str | None
) -> list[dict[str, Any]]:
    """Per data date from ``start`` to ``end``: meters due, read, and read without
    re-reading, of the whole archive or of one group. Due per day is a running sum (a window
    over the days) of the meters' steps in and out: +1 on the day a meter becomes due in the
    range (its installation, or ``start``), -1 on the day after its last due day (its
    removal), for the meters of PERIOD_DUE; read per day sums the bit
    positions of the due meters' collection facts (:data:`collection_bits.DAY_SUMS`), one
    row per meter and month."""
    due = f"{completeness.PERIOD_DUE} {_in_group(by)}"
    steps = f"""
    WITH due AS ({due}),
    steps AS (
        SELECT d, sum(delta) AS delta FROM (
            SELECT a AS d, 1 AS delta FROM due
            UNION ALL
            SELECT b + 1, -1 FROM due WHERE b < %(e)s) s
        GROUP BY d),
    days AS (SELECT d::date AS d FROM generate_series(%(s)s::date, %(e)s::date, '1 day') d)
    -- every step falls inside the range (start <= a; b + 1 <= end for a meter leaving
    -- before the end)
    SELECT days.d AS date, (sum(coalesce(steps.delta, 0)) OVER (ORDER BY days.d))::int AS due
    FROM days LEFT JOIN steps ON steps.d = days.d
    ORDER BY days.d
    """
    params = {"s": start, "e": end, "key": key, "months": collection_bits.months(start, end)}
    with conn.cursor(row_factory=dict_row) as cur:
        items = cur.execute(steps, params).fetchall()
        sums = cur.execute(f"WITH due AS ({due}) {collection_bits.DAY_SUMS}", params).fetchall()
    read = collection_bits.per_day(sums)
    for r in items:
        r["read"], r["read_first"] = read.get(r["date"], (0, 0))
    return items
