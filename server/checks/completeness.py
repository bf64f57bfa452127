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

from .rule_sql import DAY_READINGS

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
    day's freezes however many groupings it shows."""
    bad = [g for g in groups if g not in GROUPS]
    if bad or not groups:
        raise ValueError(f"group by one of {', '.join(GROUPS)}, not {bad or groups!r}")
    keys = {g: GROUPS[g] for g in groups}
    which = " ".join(f"WHEN GROUPING({k}) = 0 THEN '{g}'" for g, k in keys.items() if g != "all")
    sets = ", ".join("()" if g == "all" else f"({k})" for g, k in keys.items())
    key = " ".join(f"WHEN GROUPING({k}) = 0 THEN {k}" for g, k in keys.items() if g != "all")
    sql = (
        f"""
    WITH due AS ({DUE}), read AS ({READ})
    SELECT CASE {which} ELSE 'all' END AS grp,
           CASE {key} ELSE 'all' END AS key,
           count(*) AS due, count(r.meter_id) AS read
    FROM due m LEFT JOIN read r ON r.meter_id = m.id
    GROUP BY GROUPING SETS ({sets}) ORDER BY 1, 2
    """
        if len(keys) > 1 or "all" not in keys
        else f"""
    WITH due AS ({DUE}), read AS ({READ})
    SELECT 'all' AS grp, 'all' AS key, count(*) AS due, count(r.meter_id) AS read
    FROM due m LEFT JOIN read r ON r.meter_id = m.id
    """
    )
    sql = sql.replace("CASE  ELSE", "CASE WHEN false THEN NULL ELSE")
    out: dict[str, list[dict[str, Any]]] = {g: [] for g in groups}
    with conn.cursor(row_factory=dict_row) as cur:
        for r in cur.execute(sql, {"d": day}).fetchall():
            grp = r.pop("grp")
            r["rate"] = round(r["read"] / r["due"], 6) if r["due"] else None
            r["below_threshold"] = r["rate"] is not None and r["rate"] < threshold
            out[grp].append(r)
    if "all" in out and not out["all"]:
        out["all"] = [{"key": "all", "due": 0, "read": 0, "rate": None, "below_threshold": False}]
    return out


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
    pts AS (SELECT meter_id, count(*) AS n FROM {DAY_READINGS}
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
