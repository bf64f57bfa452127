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
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from protocols.model import DEFAULT_METER_TIMEZONE
from protocols.vocabulary import (
    CURVE_HISTORY_DAYS,
    CURVE_REREADABLE_PROTOCOLS,
    REREADABLE_PROTOCOLS,
)

from ..db import curve_points
from . import collection_bits

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
#: the words of the reasons, per language: (zh, en); ``{q}`` the quarantine reason, ``{e}``
#: the gateway's error
_REASON_WORDS: dict[str, tuple[str, str]] = {
    "quarantined": ("读数已隔离（{q}）", "reading quarantined ({q})"),
    "never_read": ("安装后从未抄到", "never read since installed"),
    "wrong_answers": ("应答错误（{e}）", "wrong answers ({e})"),
    "meter_not_answering": ("电表不应答", "meter not answering"),
    "meter_not_answering_error": ("电表不应答（{e}）", "meter not answering ({e})"),
    "concentrator_offline": ("集中器离线", "concentrator offline"),
    "no_reading": ("未收到读数", "no reading received"),
    "not_rereadable": (
        "；终端日冻结缺失：电表无冻结历史，无法补抄",
        "; terminal freeze missed: the meter keeps no freeze history, the day cannot be re-read",
    ),
}
_NOT_REREADABLE = _REASON_WORDS["not_rereadable"][1]
ReasonLang = Literal["zh", "en"]


def failed_meters(
    conn: psycopg.Connection[Any],
    day: date,
    *,
    tz: str = DEFAULT_METER_TIMEZONE,
    limit: int = 1000,
    offset: int = 0,
    area: str | None = None,
    gateway: str | None = None,
    lang: ReasonLang = "en",
) -> list[dict[str, Any]]:
    """Due meters without a reading for ``day``, each with the reason that was true then.

    The day's freeze is collected after its close, during the next day (the collection
    day): the reason comes from what the gateway reported over that day, carried in from
    before it (its statuses' changes, kept by :mod:`server.gateways.status`): a meter the
    gateway said was failing or dead then (its error then; a meter that read again is clear),
    else the concentrator offline then, else nothing known. ``reason`` is a stable code
    (:data:`REASONS`), ``reason_text`` the words in ``lang``; ``meter_state``, ``last_error`` and
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
      -- in the hot or residue table (a freeze and a reading of one instant: the freeze)
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
               ORDER BY r.ts DESC LIMIT 1)
              UNION ALL
              (SELECT r.ts, r.value, r.kind, (r.ts AT TIME ZONE %(tz)s)::date AS day
               FROM readings_cold r
               WHERE r.meter_id = m.id AND r.quantity = 'energy_import_total'
                 AND r.ts <= w.w0
               ORDER BY r.ts DESC LIMIT 1)) x
          ORDER BY x.ts DESC, x.kind <> 'freeze', x.kind LIMIT 1) lh ON true
      -- or one moved into the compact history (server.db.compact, decoded as
      -- readings_between does): only the meter's newest compact row at or before the close
      -- (or the one before it, should that row hold nothing by then) can hold it, and only
      -- rows that could hold a reading newer than the one above are looked at: two
      -- primary-key probes, and at most two days' points
      LEFT JOIN LATERAL (
          SELECT c.day_start + (p.i - 1) * interval '15 minutes' AS ts,
                 (c.vbase + p.v)::double precision
                   / ('{{1,10,100,1000,10000,100000,1000000}}'::double precision[])[c.scale + 1]
                   AS value
          FROM (SELECT c.* FROM readings_compact c
                WHERE c.meter_id = m.id
                  AND c.qkey = (SELECT k.key FROM quantity_keys k
                                WHERE k.quantity = 'energy_import_total')
                  AND c.day_start <= w.w0
                  AND c.day_start > coalesce(lh.ts, '-infinity') - interval '26 hours'
                ORDER BY c.day_start DESC LIMIT 2) c
          CROSS JOIN LATERAL unnest(coalesce(c.v2::bigint[], c.v4::bigint[], c.v8))
               WITH ORDINALITY p(v, i)
          WHERE p.v IS NOT NULL AND c.day_start + (p.i - 1) * interval '15 minutes' <= w.w0
          ORDER BY c.day_start DESC, p.i DESC LIMIT 1) lc ON true
      -- the newer of the two (a reading lives in one table: they never share an instant)
      CROSS JOIN LATERAL (
          SELECT CASE WHEN u.compact THEN lc.ts ELSE lh.ts END AS ts,
                 CASE WHEN u.compact THEN lc.value ELSE lh.value END AS value,
                 CASE WHEN u.compact THEN 'interval' ELSE lh.kind END AS kind,
                 CASE WHEN u.compact THEN (lc.ts AT TIME ZONE %(tz)s)::date ELSE lh.day END
                   AS day
          FROM (SELECT lc.ts IS NOT NULL AND (lh.ts IS NULL OR lc.ts > lh.ts) AS compact) u
      ) lg
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
        r["reason_text"] = reason_text(r, lang)
    return rows


def reason_text(row: dict[str, Any], lang: ReasonLang = "en") -> str:
    """The words of a failed-list row's reason in ``lang`` (zh or en); the gateway's error
    code and the quarantine reason are kept as they came."""
    cause, error = row["cause"], row.get("last_error")
    if cause == "meter_not_answering" and error:
        cause = "meter_not_answering_error"
    i = 0 if lang == "zh" else 1
    text = _REASON_WORDS[cause][i].format(q=row.get("quarantine_reason"), e=error)
    return text + ("" if row.get("rereadable", True) else _REASON_WORDS["not_rereadable"][i])


def failed_meters_total(
    conn: psycopg.Connection[Any],
    day: date,
    *,
    area: str | None = None,
    gateway: str | None = None,
) -> int:
    """How many due meters have no reading for ``day`` (the rows of :func:`failed_meters`)."""
    sql = f"""
    WITH due AS ({DUE})
    SELECT count(*) FROM due m
    WHERE NOT EXISTS (SELECT 1 FROM daily_freeze f WHERE f.meter_id = m.id
                      AND f.data_date = %(d)s AND f.quantity = 'energy_import_total')
      AND (%(area)s::text IS NULL OR m.area_id = %(area)s)
      AND (%(gw)s::text IS NULL OR m.gateway_id = %(gw)s)
    """
    row = conn.execute(sql, {"d": day, "area": area, "gw": gateway}).fetchone()
    return int(row[0]) if row else 0


def curve_rereadable_day(day: date, today: date | None) -> bool:
    """Whether ``day``'s curve can still be re-read from the meters that keep one: a closed
    day (before ``today``) within :data:`~protocols.vocabulary.CURVE_HISTORY_DAYS`."""
    return today is not None and 1 <= (today - day).days <= CURVE_HISTORY_DAYS


def curve_completeness(
    conn: psycopg.Connection[Any],
    day: date,
    tz: str,
    by: str = "area",
    *,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """Of the 96 points of ``day``, how many each group's meters have; meters complete;
    ``curve_rereadable``: the meters whose missing points can be re-read from their own
    curve (a protocol of :data:`CURVE_REREADABLE_PROTOCOLS`, the day within the curve
    history as of ``today``; 0 when it is not, or ``today`` is not given)."""
    if by not in GROUPS:
        raise ValueError(f"group by one of {', '.join(GROUPS)}, not {by!r}")
    sql = f"""
    WITH due AS ({DUE}),
    pts AS ({curve_points.day_points("%(d)s::date")})
    SELECT {GROUPS[by]} AS key, count(*) AS meters,
           coalesce(sum(p.n), 0)::bigint AS points, count(*) * 96 AS expected,
           count(*) FILTER (WHERE p.n >= 96) AS complete,
           count(*) FILTER (WHERE %(within)s AND m.protocol = ANY(%(curve)s::text[])
                            AND coalesce(p.n, 0) < 96) AS curve_rereadable
    FROM due m LEFT JOIN pts p ON p.meter_id = m.id GROUP BY 1 ORDER BY 1
    """
    params = {
        "d": day,
        "tz": tz,
        "within": curve_rereadable_day(day, today),
        "curve": sorted(map(str, CURVE_REREADABLE_PROTOCOLS)),
    }
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def rereadable_curves(
    conn: psycopg.Connection[Any], day: date, tz: str, *, today: date, limit: int = 1000
) -> tuple[list[dict[str, Any]], int]:
    """The due meters whose curve of ``day`` lacks points and can be re-read from the meter
    (曲线补抄: a protocol of :data:`CURVE_REREADABLE_PROTOCOLS`, ``day`` within the curve
    history as of ``today``), by area and meter, at most ``limit`` of them, and how many in
    all: each with its points stored and its latest curve re-read request (command,
    status). Empty when the day is outside the history."""
    if not curve_rereadable_day(day, today):
        return [], 0
    sql = f"""
    WITH due AS ({DUE}),
    pts AS ({curve_points.day_points("%(d)s::date")}),
    gaps AS (SELECT m.id AS meter_id, m.area_id, m.gateway_id, m.protocol,
                    coalesce(p.n, 0)::int AS points
             FROM due m LEFT JOIN pts p ON p.meter_id = m.id
             WHERE m.protocol = ANY(%(curve)s::text[]) AND coalesce(p.n, 0) < 96)
    SELECT g.*, 96 AS expected, cr.command_id AS reread_command, gc.status AS reread_status,
           count(*) OVER () AS total
    FROM gaps g
    LEFT JOIN curve_reread_requests cr ON cr.meter_id = g.meter_id AND cr.data_date = %(d)s
    LEFT JOIN gateway_commands gc ON gc.id = cr.command_id
    ORDER BY g.area_id, g.meter_id LIMIT %(limit)s
    """
    params = {
        "d": day,
        "tz": tz,
        "limit": limit,
        "curve": sorted(map(str, CURVE_REREADABLE_PROTOCOLS)),
    }
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, params).fetchall()
    total = int(rows[0].pop("total")) if rows else 0
    for r in rows[1:]:
        r.pop("total")
    return rows, total


#: the groupings of :func:`period_report`: those of :data:`GROUPS` and the area's own
#: organisation unit (供电所); the tree of :mod:`server.db.queries.org` rolls units up
PERIOD_GROUPS = {**GROUPS, "org": "m.org_id"}

# Due meter-days from %(s)s to %(e)s (inclusive): a meter's days in the range between its
# installation and its removal, while it has a concentrator: ``a`` to ``b``, ``days`` of them.
PERIOD_DUE = """
SELECT m.id, m.area_id, m.gateway_id, m.protocol, m.customer_class, a.org_unit_id AS org_id,
       m.address, m.customer_name, m.customer_account,
       greatest(%(s)s::date, m.installed_on) AS a,
       least(%(e)s::date, coalesce(m.removed_on - 1, %(e)s::date)) AS b,
       least(%(e)s::date, coalesce(m.removed_on - 1, %(e)s::date))
         - greatest(%(s)s::date, m.installed_on) + 1 AS days
FROM meters m LEFT JOIN areas a ON a.id = m.area_id
WHERE m.gateway_id IS NOT NULL AND m.installed_on <= %(e)s
  AND (m.removed_on IS NULL OR m.removed_on > %(s)s)
"""

# Read meter-days per meter (of its due days), and those read without re-reading: a
# meter-day asked again while it had no freeze (reread_requests.missing_when_asked) and read
# now was recovered by re-reading (补抄), not by the first pass. Counted from the collection
# facts: :func:`.collection_bits.read_days` joins them to PERIOD_DUE's rows.


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
    curve_cte = f", pts AS ({curve_points.DAY_POINTS})" if curves else ""
    curve_join = "LEFT JOIN pts p ON p.meter_id = m.id" if curves else ""
    read_ctes, read_join, read_params = collection_bits.read_days(start, end)
    sql = f"""
    WITH due AS ({PERIOD_DUE}){read_ctes}{curve_cte}
    SELECT {grp_col} AS grp, {key_col} AS key,
           sum(m.days)::bigint AS due,
           coalesce(sum(r.n), 0)::bigint AS read,
           coalesce(sum(r.n_first), 0)::bigint AS read_first{curve_cols}
    FROM due m {read_join} {curve_join}
    {group_by}
    """
    out: dict[str, list[dict[str, Any]]] = {g: [] for g in groups}
    params = {"s": start, "e": end, "tz": curves_tz, **read_params}
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


# The meters due at some time in %(first)s..%(last)s, with what the groupings need, and the
# months of %(starts)s / %(ends)s (each month's first day and its last day counted): a meter
# is due in month x from ``a`` to ``b`` (PERIOD_DUE's definition, for every month at once).
MONTHS_METERS = """
SELECT m.id, m.area_id, m.gateway_id, m.protocol, m.customer_class, a.org_unit_id AS org_id,
       m.installed_on, m.removed_on
FROM meters m LEFT JOIN areas a ON a.id = m.area_id
WHERE m.gateway_id IS NOT NULL AND m.installed_on <= %(last)s
  AND (m.removed_on IS NULL OR m.removed_on > %(first)s)
"""
MONTHS = "SELECT * FROM unnest(%(starts)s::date[], %(ends)s::date[]) AS x(s, e)"
MONTH_DUE = "m.installed_on <= x.e AND (m.removed_on IS NULL OR m.removed_on > x.s)"
MONTH_A = "greatest(x.s, m.installed_on)"
MONTH_B = "least(x.e, coalesce(m.removed_on - 1, x.e))"


def months_report(
    conn: psycopg.Connection[Any],
    months: list[tuple[date, date]],
    by: str,
    threshold: float = 0.98,
) -> tuple[dict[date, dict[str, Any]], dict[date, dict[str | None, dict[str, Any]]]]:
    """Several months side by side: for each month of ``months`` (its first day, the last
    day counted) the whole archive's line and each group's of ``by``
    (:data:`PERIOD_GROUPS`; none for ``all``): ``due``, ``read``, ``read_first``,
    ``rate``, ``rate_first``, ``below_threshold``, as :func:`period_report` with ``detail``
    gives for each month alone. Due days are summed from the archive's dates, read days from
    the collection facts the months have (no row per meter and month is made up for a
    month without facts). Returns (the totals by month, the groups by month and key)."""
    if by not in PERIOD_GROUPS:
        raise ValueError(f"group by one of {', '.join(PERIOD_GROUPS)}, not {by!r}")
    if not months:
        return {}, {}
    for s, e in months:
        if e < s or (s.year, s.month) != (e.year, e.month):
            raise ValueError(f"a month runs from its first day on, within it: {s}..{e}")
    key = "NULL::text" if by == "all" else PERIOD_GROUPS[by]
    mask = f"collection_day_mask(c.month, {MONTH_A}, {MONTH_B})"
    # the due days and the read days per month and group, each aggregated on its own
    # (hashed, no row per meter and month joined to the facts); the totals are their sums
    sql = f"""
    WITH m AS MATERIALIZED ({MONTHS_METERS}), x AS ({MONTHS})
    SELECT 'due' AS part, x.s AS month, {key} AS key,
           sum({MONTH_B} - {MONTH_A} + 1)::bigint AS n, 0::bigint AS n_first
    FROM m JOIN x ON {MONTH_DUE} GROUP BY 1, 2, 3
    UNION ALL
    SELECT 'read', x.s, {key},
           sum(bit_count((c.read_bits & {mask})::bit(32)))::bigint,
           sum(bit_count((c.first_bits & {mask})::bit(32)))::bigint
    FROM collection_month c JOIN x ON x.s = c.month
    JOIN m ON m.id = c.meter_id AND {MONTH_DUE} GROUP BY 1, 2, 3
    """
    params = {
        "starts": [s for s, _ in months],
        "ends": [e for _, e in months],
        "first": min(s for s, _ in months),
        "last": max(e for _, e in months),
    }
    counts: dict[date, dict[str | None, list[int]]] = {s: {} for s, _ in months}
    for part, month, k, n, n_first in conn.execute(sql, params):
        acc = counts[month].setdefault(k, [0, 0, 0])
        if part == "due":
            acc[0] += n
        else:
            acc[1] += n
            acc[2] += n_first

    def row(due: int, read: int, read_first: int) -> dict[str, Any]:
        rate = _rate(read, due)
        return {
            "due": due,
            "read": read,
            "read_first": read_first,
            "rate": rate,
            "rate_first": _rate(read_first, due),
            "below_threshold": rate is not None and rate < threshold,
        }

    totals: dict[date, dict[str, Any]] = {}
    groups: dict[date, dict[str | None, dict[str, Any]]] = {}
    for s, _ in months:
        got = {k: v for k, v in counts[s].items() if v[0] > 0}
        totals[s] = row(*(sum(v[i] for v in got.values()) for i in range(3)))
        groups[s] = {} if by == "all" else {k: row(*v) for k, v in got.items()}
    return totals, groups
