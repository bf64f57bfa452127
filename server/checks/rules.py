"""The anomaly rules of ``shared/reference/metering-checks.md`` as SQL over one data date, and
the anomaly archive they feed (one ongoing record per meter or area and rule).

Daily consumption comes from the daily-freeze registers: today's minus yesterday's, with a
register rollover at 999999.99 kWh counted as consumption, not as a decrease. A replaced
meter is a new archive id with its own registers, so a replacement is never a decrease.
Parameters have defaults here and may be overridden per rule and customer class in
``rule_params`` (admin only, audited).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

ROLLOVER = 1_000_000.0

DEFAULTS: dict[str, dict[str, float]] = {
    "decrease": {"tolerance_kwh": 0.01},
    "unbalanced_registers": {"tolerance_kwh": 0.05},
    "reverse_energy": {"min_kwh": 0.05},
    "zero_consumption": {"days": 3},
    "stopped": {"min_kw": 0.05},
    "spike": {"factor": 3.0, "min_kwh": 2.0, "history_days": 7},
    "overrun": {"factor": 1.0},
    "clock": {"max_offset_s": 300},
    "voltage_loss": {"ratio": 0.78, "min_current_a": 0.05},
    "phase_break": {"ratio": 0.60, "max_current_a": 0.01},
    "current_imbalance": {"ratio": 0.30, "min_current_a": 1.0},
    "cover_open": {},
    "line_loss": {"max_ratio": 0.10},
}

CONSUMPTION = """
SELECT m.id AS meter_id, m.area_id, m.customer_class, m.is_generation, m.is_area_master,
       m.ct_ratio * m.pt_ratio AS mult, m.rated_voltage, m.rated_current,
       cur.value AS v1, prev.value AS v0,
       CASE WHEN prev.value IS NULL THEN NULL
            WHEN cur.value >= prev.value THEN cur.value - prev.value
            WHEN prev.value > %(roll)s * 0.99 AND cur.value < %(roll)s * 0.01
              THEN cur.value + %(roll)s - prev.value
            ELSE cur.value - prev.value END AS delta
FROM meters m
JOIN daily_freeze cur ON cur.meter_id = m.id AND cur.data_date = %(d)s
     AND cur.quantity = 'energy_import_total'
LEFT JOIN daily_freeze prev ON prev.meter_id = m.id AND prev.data_date = %(d)s - 1
     AND prev.quantity = 'energy_import_total'
"""

DAY_RANGE = ("ts >= (%(d)s::date)::timestamp AT TIME ZONE %(tz)s AND "
             "ts < ((%(d)s::date + 1)::timestamp AT TIME ZONE %(tz)s)")


def _p(params: dict[str, Any], rule: str, key: str) -> Any:
    return params.get(rule, {}).get(key, DEFAULTS[rule][key])


def rule_sql(params: dict[str, Any]) -> dict[str, str]:
    """Each rule: a query returning (meter_id, area_id, evidence jsonb) for data date d."""
    def p(rule: str, key: str) -> Any:
        return _p(params, rule, key)

    phases = ("a", "b", "c")
    volt_loss = " OR ".join(
        f"(q.voltage_{x} < {p('voltage_loss', 'ratio')} * coalesce(m.rated_voltage, 220) "
        f"AND q.current_{x} > {p('voltage_loss', 'min_current_a')})" for x in phases)
    brk = " OR ".join(
        f"(q.voltage_{x} < {p('phase_break', 'ratio')} * coalesce(m.rated_voltage, 220) "
        f"AND coalesce(q.current_{x}, 0) <= {p('phase_break', 'max_current_a')})"
        for x in phases)
    pivot = ", ".join(f"max(value) FILTER (WHERE quantity = 'voltage_{x}') AS voltage_{x}, "
                      f"max(value) FILTER (WHERE quantity = 'current_{x}') AS current_{x}"
                      for x in phases)
    per_point = f"""
        SELECT meter_id, ts, {pivot} FROM readings
        WHERE kind = 'interval' AND {DAY_RANGE}
          AND quantity IN ('voltage_a','voltage_b','voltage_c','current_a','current_b',
                           'current_c')
        GROUP BY meter_id, ts"""
    return {
        "decrease": f"""SELECT meter_id, area_id, jsonb_build_object('previous', v0,
            'current', v1) FROM ({CONSUMPTION}) c
            WHERE delta < -{p('decrease', 'tolerance_kwh')}""",
        "unbalanced_registers": f"""
            SELECT f.meter_id, m.area_id, jsonb_build_object('total', max(f.value) FILTER
              (WHERE f.quantity = 'energy_import_total'), 'tariff_sum', sum(f.value) FILTER
              (WHERE f.quantity LIKE 'energy_import_t_'))
            FROM daily_freeze f JOIN meters m ON m.id = f.meter_id
            WHERE f.data_date = %(d)s AND (f.quantity = 'energy_import_total'
                                           OR f.quantity LIKE 'energy_import_t_')
            GROUP BY f.meter_id, m.area_id
            HAVING count(*) FILTER (WHERE f.quantity LIKE 'energy_import_t_') = 4
               AND abs(sum(f.value) FILTER (WHERE f.quantity LIKE 'energy_import_t_')
                   - max(f.value) FILTER (WHERE f.quantity = 'energy_import_total'))
                   > {p('unbalanced_registers', 'tolerance_kwh')}""",
        "reverse_energy": f"""
            SELECT cur.meter_id, m.area_id, jsonb_build_object('previous', prev.value,
                   'current', cur.value)
            FROM daily_freeze cur JOIN meters m ON m.id = cur.meter_id AND NOT m.is_generation
            JOIN daily_freeze prev ON prev.meter_id = cur.meter_id
                 AND prev.data_date = %(d)s - 1 AND prev.quantity = 'energy_export_total'
            WHERE cur.data_date = %(d)s AND cur.quantity = 'energy_export_total'
              AND cur.value - prev.value > {p('reverse_energy', 'min_kwh')}""",
        "zero_consumption": f"""
            SELECT cur.meter_id, m.area_id, jsonb_build_object('value', cur.value,
                   'days', {int(p('zero_consumption', 'days'))})
            FROM daily_freeze cur JOIN meters m ON m.id = cur.meter_id
            WHERE cur.data_date = %(d)s AND cur.quantity = 'energy_import_total'
              AND (SELECT count(*) FROM daily_freeze o WHERE o.meter_id = cur.meter_id
                   AND o.quantity = 'energy_import_total' AND o.value = cur.value
                   AND o.data_date >= %(d)s - {int(p('zero_consumption', 'days'))}
                   AND o.data_date < %(d)s) = {int(p('zero_consumption', 'days'))}
              AND NOT EXISTS (SELECT 1 FROM readings r WHERE r.meter_id = cur.meter_id
                   AND r.quantity = 'power_active_total' AND r.kind = 'interval'
                   AND r.value > {p('stopped', 'min_kw')} AND {DAY_RANGE})""",
        "stopped": f"""
            SELECT c.meter_id, c.area_id, jsonb_build_object('register', c.v1,
                   'max_power_kw', (SELECT max(value) FROM readings r WHERE r.meter_id =
                   c.meter_id AND r.quantity = 'power_active_total' AND r.kind = 'interval'
                   AND {DAY_RANGE}))
            FROM ({CONSUMPTION}) c WHERE c.delta = 0
              AND EXISTS (SELECT 1 FROM readings r WHERE r.meter_id = c.meter_id
                   AND r.quantity = 'power_active_total' AND r.kind = 'interval'
                   AND r.value > {p('stopped', 'min_kw')} AND {DAY_RANGE})""",
        "spike": f"""
            WITH hist AS (
              SELECT meter_id, avg(d) AS avg_kwh, count(*) AS n FROM (
                SELECT f.meter_id, f.value - lag(f.value) OVER (PARTITION BY f.meter_id
                       ORDER BY f.data_date) AS d, f.data_date
                FROM daily_freeze f WHERE f.quantity = 'energy_import_total'
                  AND f.data_date BETWEEN %(d)s - {int(p('spike', 'history_days')) + 1}
                  AND %(d)s - 1) x
              WHERE d IS NOT NULL AND d >= 0 GROUP BY meter_id)
            SELECT c.meter_id, c.area_id, jsonb_build_object('kwh', c.delta,
                   'recent_avg_kwh', h.avg_kwh)
            FROM ({CONSUMPTION}) c JOIN hist h ON h.meter_id = c.meter_id
            WHERE h.n >= 3 AND c.delta > {p('spike', 'min_kwh')}
              AND c.delta > {p('spike', 'factor')} * h.avg_kwh""",
        "overrun": f"""
            SELECT c.meter_id, c.area_id, jsonb_build_object('kwh', c.delta,
                   'capacity_kwh', c.rated_voltage * c.rated_current * 24 / 1000)
            FROM ({CONSUMPTION}) c
            WHERE c.rated_voltage IS NOT NULL AND c.rated_current IS NOT NULL
              AND NOT c.is_area_master
              AND c.delta > {p('overrun', 'factor')} * c.rated_voltage * c.rated_current
                            * 24 / 1000""",
        "clock": f"""
            SELECT e.meter_id, m.area_id, jsonb_build_object('offset_s', max(abs(e.value)))
            FROM meter_events e JOIN meters m ON m.id = e.meter_id
            WHERE e.quantity = 'clock_offset' AND {DAY_RANGE}
            GROUP BY e.meter_id, m.area_id
            HAVING max(abs(e.value)) > {p('clock', 'max_offset_s')}""",
        "cover_open": f"""
            SELECT e.meter_id, m.area_id, jsonb_build_object('count', max(e.value))
            FROM meter_events e JOIN meters m ON m.id = e.meter_id
            WHERE e.quantity = 'cover_open_count' AND {DAY_RANGE}
            GROUP BY e.meter_id, m.area_id
            HAVING max(e.value) > coalesce((SELECT max(o.value) FROM meter_events o
                WHERE o.meter_id = e.meter_id AND o.quantity = 'cover_open_count'
                AND o.ts < (%(d)s::date)::timestamp AT TIME ZONE %(tz)s), 0)""",
        "voltage_loss": f"""
            SELECT q.meter_id, m.area_id, jsonb_build_object('points', count(*))
            FROM ({per_point}) q JOIN meters m ON m.id = q.meter_id
            WHERE {volt_loss} GROUP BY q.meter_id, m.area_id""",
        "phase_break": f"""
            SELECT q.meter_id, m.area_id, jsonb_build_object('points', count(*))
            FROM ({per_point}) q JOIN meters m ON m.id = q.meter_id
            WHERE {brk} GROUP BY q.meter_id, m.area_id""",
        "current_imbalance": f"""
            SELECT q.meter_id, m.area_id, jsonb_build_object('points', count(*))
            FROM ({per_point}) q JOIN meters m ON m.id = q.meter_id
            WHERE q.current_b IS NOT NULL AND q.current_c IS NOT NULL
              AND greatest(q.current_a, q.current_b, q.current_c)
                  > {p('current_imbalance', 'min_current_a')}
              AND (greatest(q.current_a, q.current_b, q.current_c)
                   - least(q.current_a, q.current_b, q.current_c))
                  / greatest(q.current_a, q.current_b, q.current_c)
                  > {p('current_imbalance', 'ratio')}
              AND NOT ({brk})
            GROUP BY q.meter_id, m.area_id HAVING count(*) >= 4""",
    }


LINE_LOSS = """
WITH due AS (
    SELECT m.* FROM meters m WHERE m.area_id IS NOT NULL AND m.gateway_id IS NOT NULL
      AND m.installed_on <= %(d)s - 1 AND (m.removed_on IS NULL OR m.removed_on > %(d)s)),
cons AS (""" + CONSUMPTION + """),
per_area AS (
    SELECT d.area_id, count(*) AS due, count(c.delta) AS read,
           sum(c.delta * c.mult) FILTER (WHERE d.is_area_master) AS supply,
           sum(c.delta * c.mult) FILTER (WHERE NOT d.is_area_master) AS sales
    FROM due d LEFT JOIN cons c ON c.meter_id = d.id GROUP BY d.area_id)
SELECT area_id, due, read, supply, sales,
       CASE WHEN due = read AND supply > 0 THEN (supply - sales) / supply END AS loss
FROM per_area ORDER BY area_id
"""


def line_loss(conn: psycopg.Connection[Any], day: date) -> list[dict[str, Any]]:
    """Per area: supply, sales and loss ratio; loss is null (with ``complete`` false) when
    the area's readings are incomplete, instead of a false figure."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(LINE_LOSS, {"d": day, "roll": ROLLOVER}).fetchall()
    for r in rows:
        r["complete"] = r["due"] == r["read"]
    return rows


def load_params(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rule, _cls, params in conn.execute("SELECT rule, customer_class, params FROM "
                                          "rule_params WHERE customer_class = '*'"):
        out[rule] = params
    return out


UPSERT = """
INSERT INTO anomalies (rule, meter_id, area_id, first_date, last_date, params, evidence)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (rule, coalesce(meter_id, ''), coalesce(area_id, ''))
    WHERE status IN ('open', 'confirmed')
DO UPDATE SET last_date = greatest(anomalies.last_date, excluded.last_date),
              first_date = least(anomalies.first_date, excluded.first_date),
              evidence = excluded.evidence, last_seen = now()
"""


def run_rules(conn: psycopg.Connection[Any], day: date, tz: str,
              rules: list[str] | None = None) -> dict[str, int]:
    """Evaluate the rules for ``day`` and record the findings; returns counts per rule."""
    params = load_params(conn)
    sqls = rule_sql(params)
    found: dict[str, int] = {}
    with conn.transaction():
        for rule, sql in sqls.items():
            if rules is not None and rule not in rules:
                continue
            rows = conn.execute(sql, {"d": day, "tz": tz, "roll": ROLLOVER}).fetchall()
            for meter_id, area_id, evidence in rows:
                conn.execute(UPSERT, (rule, meter_id, area_id, day, day,
                                      Jsonb({**DEFAULTS[rule], **params.get(rule, {})}),
                                      Jsonb(evidence)))
            found[rule] = len(rows)
        if rules is None or "line_loss" in rules:
            limit = _p(params, "line_loss", "max_ratio")
            n = 0
            for r in line_loss(conn, day):
                loss = r["loss"]
                if loss is not None and (loss < 0 or loss > limit):
                    conn.execute(UPSERT, ("line_loss", None, r["area_id"], day, day,
                                          Jsonb({"max_ratio": limit}),
                                          Jsonb(json.loads(json.dumps(
                                              {k: r[k] for k in ("supply", "sales", "loss")},
                                              default=float)))))
                    n += 1
            found["line_loss"] = n
    return found
