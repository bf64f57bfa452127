"""Line-loss SQL for the workbench (issue 19): the meters that keep an area's loss from
being computed on a day, an area's figures per day for a trend, and its customers' daily
consumption for the theft-suspect ranking (反窃电). The day's figures of every area are
:func:`server.checks.rules.line_loss` (the rule's own query)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from server.checks import rule_sql
from server.checks.rule_table import ROLLOVER


def area_names(conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT id, name, org_unit_id AS org_id FROM areas").fetchall()
    return {r.pop("id"): r for r in rows}


def area_figures(conn: psycopg.Connection[Any], area_id: str, day: date) -> dict[str, Any] | None:
    """One area's row of the line-loss rule's report (:func:`server.checks.rules.line_loss`
    for every area): the same query, narrowed to the area (PostgreSQL pushes the condition
    down to the area's meters)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT * FROM ({rule_sql.LINE_LOSS_REPORT}) r WHERE r.area_id = %(a)s",
            {"a": area_id, "d": day, "roll": ROLLOVER},
        ).fetchone()


def blocking_meters(conn: psycopg.Connection[Any], area_id: str, day: date) -> list[dict[str, Any]]:
    """The area's meters due for the loss of ``day`` (installed by the day before, with a
    concentrator) that lack the day's register or the day before's, or whose difference
    cannot be real (beyond a register's rollover), with why."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """
            SELECT m.id AS meter_id, m.address, m.gateway_id, m.is_area_master,
                   cur.value AS register, prev.value AS register_before,
                   CASE WHEN cur.value IS NULL AND prev.value IS NULL
                          THEN 'no freeze on the day or the day before'
                        WHEN cur.value IS NULL THEN 'no freeze on the day'
                        WHEN prev.value IS NULL THEN 'no freeze the day before'
                        ELSE 'implausible difference' END AS why
            FROM meters m
            LEFT JOIN daily_freeze cur ON cur.meter_id = m.id AND cur.data_date = %(d)s
                 AND cur.quantity = 'energy_import_total'
            LEFT JOIN daily_freeze prev ON prev.meter_id = m.id AND prev.data_date = %(d)s - 1
                 AND prev.quantity = 'energy_import_total'
            WHERE m.area_id = %(a)s AND m.gateway_id IS NOT NULL
              AND m.installed_on <= %(d)s - 1
              AND (m.removed_on IS NULL OR m.removed_on > %(d)s)
              AND (cur.value IS NULL OR prev.value IS NULL
                   OR (abs(cur.value - prev.value) > %(roll)s
                       AND NOT (prev.value > %(roll)s * 0.99 AND cur.value < %(roll)s * 0.01)))
            ORDER BY m.is_area_master DESC, m.id""",
            {"a": area_id, "d": day, "roll": ROLLOVER},
        ).fetchall()


def daily_use(
    conn: psycopg.Connection[Any], area_id: str, start: date, end: date
) -> dict[str, dict[str, Any]]:
    """Per meter of the area: its archive details and its consumption per data date from
    ``start`` to ``end`` (primary side; a day without both registers is absent; a negative
    value is a register that went backwards)."""
    with conn.cursor(row_factory=dict_row) as cur:
        meters = cur.execute(
            "SELECT id AS meter_id, address, customer_name, customer_account, "
            "customer_class, is_area_master, ct_ratio * pt_ratio AS mult, installed_on "
            "FROM meters WHERE area_id = %s AND gateway_id IS NOT NULL AND installed_on <= %s "
            "AND (removed_on IS NULL OR removed_on > %s) ORDER BY id",
            (area_id, end, start),
        ).fetchall()
    out = {m["meter_id"]: {**m, "use": {}} for m in meters}
    regs: dict[str, dict[date, float]] = {m: {} for m in out}
    for m, d, v in conn.execute(
        "SELECT f.meter_id, f.data_date, f.value FROM daily_freeze f "
        "JOIN meters m ON m.id = f.meter_id WHERE m.area_id = %s "
        "AND f.quantity = 'energy_import_total' AND f.data_date BETWEEN %s AND %s",
        (area_id, start - timedelta(days=1), end),
    ):
        if m in regs:
            regs[m][d] = v
    for m, r in regs.items():
        mult = float(out[m]["mult"])
        for d, v in r.items():
            before = r.get(d - timedelta(days=1))
            if start <= d and before is not None:
                delta = v - before
                if delta < 0 and before > ROLLOVER * 0.99 and v < ROLLOVER * 0.01:
                    delta += ROLLOVER
                out[m]["use"][d] = delta * mult
    return out


def due_per_day(meters: dict[str, dict[str, Any]], days: list[date]) -> dict[date, int]:
    """How many of ``meters`` a day's loss needs (installed by the day before)."""
    return {
        d: sum(1 for m in meters.values() if m["installed_on"] <= d - timedelta(days=1))
        for d in days
    }
