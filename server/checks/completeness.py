"""Collection success rate per data date, the failed-meter list with reasons, curve
completeness. Definitions: ``shared/reference/metering-checks.md``.

Due on D: in the archive, installed on or before D, not removed before D, assigned to a
concentrator. Read on D: a daily-freeze reading (forward active total) for D: the meter's
own freeze, or for a meter that keeps none (DL/T 645-1997, Modbus) the gateway's terminal
freeze (source ``terminal``, see :mod:`edge.bus`); a missed one of those cannot be re-read,
and its failed-list reason says so (automatic re-reading asks only DL/T 645-2007 meters).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

GROUPS = {
    "all": "'all'",
    "area": "m.area_id",
    "gateway": "m.gateway_id",
    "protocol": "m.protocol",
    "customer_class": "m.customer_class",
}

DUE = """
SELECT m.* FROM meters m
WHERE m.gateway_id IS NOT NULL AND m.installed_on <= %(d)s
  AND (m.removed_on IS NULL OR m.removed_on > %(d)s)
"""


READ = """SELECT meter_id FROM daily_freeze
            WHERE data_date = %(d)s AND quantity = 'energy_import_total'"""  # unique by the key


def report(
    conn: psycopg.Connection[Any],
    day: date,
    groups: tuple[str, ...] = tuple(GROUPS),
    threshold: float = 0.98,
) -> dict[str, list[dict[str, Any]]]:
    """The success rate of ``day`` for each grouping in ``groups``, in one pass over the due
    meters (grouping sets), so the whole report costs one scan of the archive and of the
    day's freezes however many groupings it shows (:func:`period_report` for one day)."""
    bad = [g for g in groups if g not in GROUPS]
    if bad or not groups:
        raise ValueError(f"group by one of {', '.join(GROUPS)}, not {bad or groups!r}")
    return period_report(conn, day, day, groups, threshold)


def success_rate(
    conn: psycopg.Connection[Any], day: date, by: str = "all", threshold: float = 0.98
) -> list[dict[str, Any]]:
    if by not in GROUPS:
        raise ValueError(f"group by one of {', '.join(GROUPS)}, not {by!r}")
    return report(conn, day, (by,), threshold)[by]


def failed_meters(
    conn: psycopg.Connection[Any],
    day: date,
    *,
    limit: int = 1000,
    offset: int = 0,
    area: str | None = None,
    gateway: str | None = None,
) -> list[dict[str, Any]]:
    """Due meters without a reading for ``day``, each with an actionable reason."""
    sql = f"""
    WITH due AS ({DUE})
    SELECT m.id AS meter_id, m.area_id, m.gateway_id, m.protocol, m.customer_class,
           g.online AS gateway_online,
           mh.state AS meter_state, mh.last_error,
           last_good.data_date AS last_good_date, last_good.value AS last_good_value,
           rr.command_id AS reread_command, gc.status AS reread_status,
           CASE
             WHEN last_good.data_date IS NULL THEN 'never read since installed'
             WHEN g.online IS NOT TRUE THEN 'concentrator offline'
             WHEN mh.last_error IN ('wrong_address', 'bad_reply', 'checksum')
               THEN 'wrong answers (' || mh.last_error || ')'
             WHEN mh.state IN ('dead', 'failing') OR mh.last_error IS NOT NULL
               THEN 'meter not answering' || coalesce(' (' || mh.last_error || ')', '')
             ELSE 'no reading received'
           END || CASE WHEN m.protocol <> 'dlt645-2007'
             THEN '; terminal freeze missed: the meter keeps no freeze history, '
                  'the day cannot be re-read' ELSE '' END AS reason
    FROM due m
    LEFT JOIN gateways g ON g.id = m.gateway_id
    LEFT JOIN LATERAL (
        SELECT x->>'state' AS state, x->>'last_error' AS last_error
        FROM jsonb_array_elements(coalesce(g.status->'meters', '[]'::jsonb)) x
        WHERE x->>'meter' = m.id LIMIT 1) mh ON true
    LEFT JOIN LATERAL (
        SELECT data_date, value FROM daily_freeze f
        WHERE f.meter_id = m.id AND f.quantity = 'energy_import_total' AND f.data_date < %(d)s
        ORDER BY data_date DESC LIMIT 1) last_good ON true
    LEFT JOIN reread_requests rr ON rr.meter_id = m.id AND rr.data_date = %(d)s
    LEFT JOIN gateway_commands gc ON gc.id = rr.command_id
    WHERE NOT EXISTS (SELECT 1 FROM daily_freeze f WHERE f.meter_id = m.id
                      AND f.data_date = %(d)s AND f.quantity = 'energy_import_total')
      AND (%(area)s::text IS NULL OR m.area_id = %(area)s)
      AND (%(gw)s::text IS NULL OR m.gateway_id = %(gw)s)
    ORDER BY m.area_id, m.id LIMIT %(limit)s OFFSET %(offset)s
    """
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            sql, {"d": day, "area": area, "gw": gateway, "limit": limit, "offset": offset}
        ).fetchall()


def curve_completeness(
    conn: psycopg.Connection[Any], day: date, tz: str, by: str = "area"
) -> list[dict[str, Any]]:
    """Of the 96 points of ``day``, how many each group's meters have; meters complete."""
    if by not in GROUPS:
        raise ValueError(f"group by one of {', '.join(GROUPS)}, not {by!r}")
    sql = f"""
    WITH due AS ({DUE}),
    pts AS (SELECT meter_id, count(*) AS n FROM readings
            WHERE quantity = 'energy_import_total' AND kind = 'interval'
              AND ts >= (%(d)s::date)::timestamp AT TIME ZONE %(tz)s
              AND ts < ((%(d)s::date + 1)::timestamp AT TIME ZONE %(tz)s)
            GROUP BY meter_id)
    SELECT {GROUPS[by]} AS key, count(*) AS meters,
           coalesce(sum(p.n), 0) AS points, count(*) * 96 AS expected,
           count(*) FILTER (WHERE p.n >= 96) AS complete
    FROM due m LEFT JOIN pts p ON p.meter_id = m.id GROUP BY 1 ORDER BY 1
    """
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, {"d": day, "tz": tz}).fetchall()


#: the groupings of :func:`period_report`: those of :data:`GROUPS` and the area's own
#: organisation unit (供电所); the tree of :mod:`server.db.queries.org` rolls units up
PERIOD_GROUPS = {**GROUPS, "org": "m.org_id"}

# Due meter-days from %(s)s to %(e)s (inclusive): a meter's days in the range between its
# installation and its removal, while it has a concentrator.
PERIOD_DUE = """
SELECT m.id, m.area_id, m.gateway_id, m.protocol, m.customer_class, a.org_unit_id AS org_id,
       least(%(e)s::date, coalesce(m.removed_on - 1, %(e)s::date))
         - greatest(%(s)s::date, m.installed_on) + 1 AS days
FROM meters m LEFT JOIN areas a ON a.id = m.area_id
WHERE m.gateway_id IS NOT NULL AND m.installed_on <= %(e)s
  AND (m.removed_on IS NULL OR m.removed_on > %(s)s)
"""

# Read meter-days per meter, and those read without re-reading: a meter-day asked again
# while it had no freeze (reread_requests.missing_when_asked) and read now was recovered
# by re-reading (补抄), not by the first pass.
PERIOD_READ = """
SELECT f.meter_id, count(*) AS n,
       count(*) FILTER (WHERE NOT coalesce(rr.missing_when_asked, false)) AS n_first
FROM daily_freeze f
LEFT JOIN reread_requests rr ON rr.meter_id = f.meter_id AND rr.data_date = f.data_date
WHERE f.data_date BETWEEN %(s)s AND %(e)s AND f.quantity = 'energy_import_total'
GROUP BY f.meter_id
"""

# Load-curve points of one data date per meter (96 a day at 15 minutes).
DAY_POINTS = """
SELECT meter_id, count(*) AS n FROM readings
WHERE quantity = 'energy_import_total' AND kind = 'interval'
  AND ts >= (%(s)s::date)::timestamp AT TIME ZONE %(tz)s
  AND ts < ((%(s)s::date + 1)::timestamp AT TIME ZONE %(tz)s)
GROUP BY meter_id
"""


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


def period_report(
    conn: psycopg.Connection[Any],
    start: date,
    end: date,
    groups: tuple[str, ...] = tuple(GROUPS),
    threshold: float = 0.98,
    *,
    detail: bool = False,
    curves_tz: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Due and read meter-days from ``start`` to ``end`` (inclusive) for each grouping of
    ``groups`` (:data:`PERIOD_GROUPS`), in one pass (grouping sets). For one day these are
    meters: the day's success rate. Each group: ``key``, ``due``, ``read``, ``rate``,
    ``below_threshold``; with ``detail`` also ``read_first``/``rate_first`` (before
    re-reading); with ``curves_tz`` (one day only) the 96-point curve completeness:
    ``curve_points``, ``curve_expected``, ``curve_rate``, ``curves_complete`` (meters with
    all 96)."""
    bad = [g for g in groups if g not in PERIOD_GROUPS]
    if bad or not groups:
        raise ValueError(f"group by one of {', '.join(PERIOD_GROUPS)}, not {bad or groups!r}")
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    curves = curves_tz is not None and start == end
    keys = {g: PERIOD_GROUPS[g] for g in groups}
    named = [(g, k) for g, k in keys.items() if g != "all"]
    which = " ".join(f"WHEN GROUPING({k}) = 0 THEN '{g}'" for g, k in named)
    key = " ".join(f"WHEN GROUPING({k}) = 0 THEN {k}" for g, k in named)
    sets = ", ".join("()" if g == "all" else f"({k})" for g, k in keys.items())
    grp_col = f"CASE {which} ELSE 'all' END" if named else "'all'"
    key_col = f"CASE {key} ELSE 'all' END" if named else "'all'"
    group_by = f"GROUP BY GROUPING SETS ({sets}) ORDER BY 1, 2" if named else ""
    curve_cols = (
        ", coalesce(sum(p.n), 0)::bigint AS curve_points, (count(*) * 96)::bigint AS "
        "curve_expected, count(*) FILTER (WHERE p.n >= 96) AS curves_complete"
        if curves
        else ""
    )
    curve_cte = f", pts AS ({DAY_POINTS})" if curves else ""
    curve_join = "LEFT JOIN pts p ON p.meter_id = m.id" if curves else ""
    sql = f"""
    WITH due AS ({PERIOD_DUE}), rd AS ({PERIOD_READ}){curve_cte}
    SELECT {grp_col} AS grp, {key_col} AS key,
           sum(m.days)::bigint AS due,
           sum(least(coalesce(r.n, 0), m.days))::bigint AS read,
           sum(least(coalesce(r.n_first, 0), m.days))::bigint AS read_first{curve_cols}
    FROM due m LEFT JOIN rd r ON r.meter_id = m.id {curve_join}
    {group_by}
    """
    out: dict[str, list[dict[str, Any]]] = {g: [] for g in groups}
    params = {"s": start, "e": end, "tz": curves_tz}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, params).fetchall()
    for r in rows:
        grp = r.pop("grp")
        if r["due"] is None:  # nothing due at all: the one row of the empty grand total
            continue
        row = {"key": r["key"], "due": r["due"], "read": r["read"]}
        row["rate"] = _rate(r["read"], r["due"])
        row["below_threshold"] = row["rate"] is not None and row["rate"] < threshold
        if detail:
            row["read_first"] = r["read_first"]
            row["rate_first"] = _rate(r["read_first"], r["due"])
        if curves:
            row["curve_points"] = r["curve_points"]
            row["curve_expected"] = r["curve_expected"]
            row["curve_rate"] = _rate(r["curve_points"], r["curve_expected"])
            row["curves_complete"] = r["curves_complete"]
        out[grp].append(row)
    if "all" in out and not out["all"]:
        empty: dict[str, Any] = {"key": "all", "due": 0, "read": 0, "rate": None}
        empty["below_threshold"] = False
        if detail:
            empty.update(read_first=0, rate_first=None)
        if curves:
            empty.update(curve_points=0, curve_expected=0, curve_rate=None, curves_complete=0)
        out["all"] = [empty]
    return out
