"""Collection success rate per data date, the failed-meter list with reasons, curve
completeness. Definitions: ``shared/reference/metering-checks.md``.

Due on D: in the archive, installed on or before D, not removed before D, assigned to a
concentrator. Read on D: a daily-freeze reading (forward active total) for D: the meter's
own freeze, or for a meter that keeps none (DL/T 645-1997, Modbus) the gateway's terminal
freeze (source ``terminal``, see :mod:`edge.bus`); a missed one of those cannot be re-read,
and its failed-list reason says so (automatic re-reading asks only DL/T 645-2007 meters).
A failed meter-day's reason is what was true on that day (:func:`failed_meters`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from protocols.model import DEFAULT_METER_TIMEZONE
from protocols.vocabulary import REREADABLE_PROTOCOLS

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


#: Why a due meter has no reading for a day: the stable machine codes of the failed list
#: (``reason``; ``cause`` is the same but never ``not_rereadable``), first that holds:
REASONS: tuple[str, ...] = (
    "quarantined",  # the day's freeze arrived and was quarantined (archive or plausibility)
    "never_read",  # nothing stored for the meter at or before the day's close
    "wrong_answers",  # that day the gateway reported wrong answers from the meter
    "meter_not_answering",  # that day the gateway reported the meter failing or dead
    "concentrator_offline",  # that day the concentrator was offline (and said no more)
    "no_reading",  # the gateway reported nothing wrong, and no reading came
    # a terminal freeze missed (a protocol outside REREADABLE_PROTOCOLS: DL/T 645-1997,
    # Modbus): ``cause`` says why
    "not_rereadable",
)
_WRONG_ANSWERS = ("wrong_address", "bad_reply", "error_reply", "checksum")
_NOT_REREADABLE = (
    "; terminal freeze missed: the meter keeps no freeze history, the day cannot be re-read"
)


def failed_meters(
    conn: psycopg.Connection[Any],
    day: date,
    *,
    tz: str = DEFAULT_METER_TIMEZONE,
    limit: int = 1000,
    offset: int = 0,
    area: str | None = None,
    gateway: str | None = None,
) -> list[dict[str, Any]]:
    """Due meters without a reading for ``day``, each with the reason that was true then.

    The day's freeze is collected after its close, during the next day (the collection
    day): the reason comes from what the gateway reported over that day, carried in from
    before it (its statuses' changes, kept by :mod:`server.gateways.status`): a meter the
    gateway said was failing or dead then (its error then; a meter that read again is clear),
    else the concentrator offline then, else nothing known. ``reason`` is a stable code
    (:data:`REASONS`), ``reason_text`` the words; ``meter_state``, ``last_error`` and
    ``gateway_online`` are that day's, not now's. The last good reading is the meter's last
    stored forward-active register (freeze or register read) at or before the day's close.
    """
    sql = f"""
    WITH due AS ({DUE}),
    w AS (SELECT ((%(d)s::date + 1)::timestamp AT TIME ZONE %(tz)s) AS w0,
                 ((%(d)s::date + 2)::timestamp AT TIME ZONE %(tz)s) AS w1),
    failed AS (
      SELECT m.id, m.area_id, m.gateway_id, m.protocol, m.customer_class
      FROM due m
      WHERE NOT EXISTS (SELECT 1 FROM daily_freeze f WHERE f.meter_id = m.id
                        AND f.data_date = %(d)s AND f.quantity = 'energy_import_total')
        AND (%(area)s::text IS NULL OR m.area_id = %(area)s)
        AND (%(gw)s::text IS NULL OR m.gateway_id = %(gw)s)
      -- the page first: the reasons are looked up for its meters only
      ORDER BY m.area_id, m.id LIMIT %(limit)s OFFSET %(offset)s),
    judged AS (
      SELECT m.id AS meter_id, m.area_id, m.gateway_id, m.protocol, m.customer_class,
             NOT gw.offline AS gateway_online,
             mh.state AS meter_state, mh.last_error,
             lg.ts AS last_good_ts, lg.value AS last_good_value, lg.kind AS last_good_kind,
             lg.day AS last_good_date,
             qr.reason AS quarantine_reason,
             rr.command_id AS reread_command, gc.status AS reread_status,
             CASE
               WHEN qr.reason IS NOT NULL THEN 'quarantined'
               WHEN lg.ts IS NULL THEN 'never_read'
               WHEN mh.state IS NOT NULL
                    AND split_part(coalesce(mh.last_error, ''), ':', 1)
                        = ANY(%(wrong)s::text[]) THEN 'wrong_answers'
               WHEN mh.state IS NOT NULL THEN 'meter_not_answering'
               WHEN gw.offline THEN 'concentrator_offline'
               ELSE 'no_reading'
             END AS cause
      FROM failed m CROSS JOIN w
      -- the concentrator offline at some time of the collection day (or since before it)
      LEFT JOIN LATERAL (
          SELECT bool_or(NOT x.online) AS offline FROM (
              (SELECT o.online FROM gateway_online_log o
               WHERE o.gateway_id = m.gateway_id AND o.ts <= w.w0
               ORDER BY o.ts DESC, o.online LIMIT 1)
              UNION ALL
              SELECT o.online FROM gateway_online_log o
              WHERE o.gateway_id = m.gateway_id AND o.ts > w.w0 AND o.ts < w.w1) x) gw ON true
      -- the meter's latest trouble reported over the collection day (or since before it)
      LEFT JOIN LATERAL (
          SELECT h.state, h.last_error FROM (
              (SELECT l.ts, l.state, l.last_error FROM meter_health_log l
               WHERE l.meter_id = m.id AND l.ts <= w.w0 ORDER BY l.ts DESC LIMIT 1)
              UNION ALL
              SELECT l.ts, l.state, l.last_error FROM meter_health_log l
              WHERE l.meter_id = m.id AND l.ts > w.w0 AND l.ts < w.w1) h
          WHERE h.state <> 'ok' ORDER BY h.ts DESC LIMIT 1) mh ON true
      -- the last forward-active register stored: a freeze (by data date) or a register read
      LEFT JOIN LATERAL (
          SELECT x.* FROM (
              (SELECT f.freeze_ts AS ts, f.value, 'freeze' AS kind, f.data_date AS day
               FROM daily_freeze f
               WHERE f.meter_id = m.id AND f.quantity = 'energy_import_total'
                 AND f.data_date <= %(d)s
               ORDER BY f.data_date DESC LIMIT 1)
              UNION ALL
              (SELECT r.ts, r.value, r.kind, (r.ts AT TIME ZONE %(tz)s)::date AS day
               FROM readings r
               WHERE r.meter_id = m.id AND r.quantity = 'energy_import_total'
                 AND r.ts <= w.w0
               ORDER BY r.ts DESC LIMIT 1)) x
          ORDER BY x.ts DESC LIMIT 1) lg ON true
      LEFT JOIN LATERAL (
          SELECT q.reason FROM quarantine q
          WHERE q.meter_id = m.id AND q.quantity = 'energy_import_total' AND q.ts = w.w0
          LIMIT 1) qr ON true
      LEFT JOIN reread_requests rr ON rr.meter_id = m.id AND rr.data_date = %(d)s
      LEFT JOIN gateway_commands gc ON gc.id = rr.command_id)
    SELECT *, CASE WHEN protocol = ANY(%(rereadable)s::text[]) THEN cause
                   ELSE 'not_rereadable' END AS reason,
           protocol = ANY(%(rereadable)s::text[]) AS rereadable
    FROM judged ORDER BY area_id, meter_id
    """
    params = {
        "d": day,
        "tz": tz,
        "area": area,
        "gw": gateway,
        "limit": limit,
        "offset": offset,
        "wrong": list(_WRONG_ANSWERS),
        # the one table of protocols whose meters keep a freeze history (re-readable)
        "rereadable": sorted(map(str, REREADABLE_PROTOCOLS)),
    }
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, params).fetchall()
    for r in rows:
        r["reason_text"] = reason_text(r)
    return rows


def reason_text(row: dict[str, Any]) -> str:
    """The words of a failed-list row's reason (English; the dashboard maps the code)."""
    cause, error = row["cause"], row.get("last_error")
    text = {
        "quarantined": f"reading quarantined ({row.get('quarantine_reason')})",
        "never_read": "never read since installed",
        "wrong_answers": f"wrong answers ({error})",
        "meter_not_answering": "meter not answering" + (f" ({error})" if error else ""),
        "concentrator_offline": "concentrator offline",
        "no_reading": "no reading received",
    }[cause]
    return text + ("" if row.get("rereadable", True) else _NOT_REREADABLE)


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
