"""The anomaly rules of ``shared/reference/metering-checks.md`` as SQL over one data date, and
the anomaly archive they feed (one ongoing record per meter or area and rule).

Daily consumption comes from the daily-freeze registers: today's minus yesterday's, with a
register rollover at 999999.99 kWh counted as consumption, not as a decrease. A replaced
meter is a new archive id with its own registers, so a replacement is never a decrease.
Parameters have defaults here and may be overridden per rule and customer class in
``rule_params`` (admin only, audited).

``overrun`` and ``flying`` judge the same thing, the day's register increment against what
the rated U·I (and phases) could deliver in 24 hours, at two thresholds: an increment above
the flying threshold is *flying* (飞走) and not also *overrun* (超差), so a meter is in the
archive under the most severe of the two for a day (each keeps its own ongoing record).
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
    # judged against the average of the last history_days, of which at least
    # min_history_days must be there: with fewer, a weekly cycle decides (a commercial
    # customer's Monday after a quiet weekend is 3 x a three-day average)
    "spike": {"factor": 3.0, "min_kwh": 2.0, "history_days": 7, "min_history_days": 5},
    "overrun": {"factor": 1.0},
    "flying": {"factor": 1.5},
    "clock": {"max_offset_s": 300},
    "voltage_loss": {"ratio": 0.78, "min_current_a": 0.05},
    "phase_break": {"ratio": 0.60, "max_current_a": 0.01},
    "current_imbalance": {"ratio": 0.30, "min_current_a": 1.0},
    "cover_open": {},
    "demand_over_contract": {"factor": 1.0},
    "line_loss": {"max_ratio": 0.10},
}

# rules judged per area, not per meter: their parameters are not per customer class
AREA_RULES = ("line_loss",)
CUSTOMER_CLASSES = ("residential", "commercial", "industrial", "agricultural", "other")
# rules whose query also reads another rule's parameters: a customer class's override of
# either changes what the rule finds for that class
USES: dict[str, tuple[str, ...]] = {"overrun": ("flying",), "zero_consumption": ("stopped",)}

CONSUMPTION = """
SELECT m.id AS meter_id, m.area_id, m.customer_class, m.is_generation, m.is_area_master,
       m.ct_ratio * m.pt_ratio AS mult, m.rated_voltage, m.rated_current, m.phases,
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

DAY_RANGE = (
    "ts >= (%(d)s::date)::timestamp AT TIME ZONE %(tz)s AND "
    "ts < ((%(d)s::date + 1)::timestamp AT TIME ZONE %(tz)s)"
)


def _p(params: dict[str, Any], rule: str, key: str) -> Any:
    return params.get(rule, {}).get(key, DEFAULTS[rule][key])


def rule_sql(params: dict[str, Any]) -> dict[str, str]:
    """Each rule: a query returning (meter_id, area_id, evidence jsonb) for data date d."""

    def p(rule: str, key: str) -> Any:
        return _p(params, rule, key)

    phases = ("a", "b", "c")
    volt_loss = " OR ".join(
        f"(q.voltage_{x} < {p('voltage_loss', 'ratio')} * coalesce(m.rated_voltage, 220) "
        f"AND q.current_{x} > {p('voltage_loss', 'min_current_a')})"
        for x in phases
    )
    brk = " OR ".join(
        f"(q.voltage_{x} < {p('phase_break', 'ratio')} * coalesce(m.rated_voltage, 220) "
        f"AND coalesce(q.current_{x}, 0) <= {p('phase_break', 'max_current_a')})"
        for x in phases
    )
    pivot = ", ".join(
        f"max(value) FILTER (WHERE quantity = 'voltage_{x}') AS voltage_{x}, "
        f"max(value) FILTER (WHERE quantity = 'current_{x}') AS current_{x}"
        for x in phases
    )
    per_point = f"""
        SELECT meter_id, ts, {pivot} FROM readings
        WHERE kind = 'interval' AND {DAY_RANGE}
          AND quantity IN ('voltage_a','voltage_b','voltage_c','current_a','current_b',
                           'current_c')
        GROUP BY meter_id, ts"""
    # what the rated U·I could deliver in the day (register units: secondary side, so the
    # CT/PT ratio applies to neither side of the comparison)
    capacity = "(c.phases * c.rated_voltage * c.rated_current * 24 / 1000)"
    rated = (
        "c.rated_voltage IS NOT NULL AND c.rated_current IS NOT NULL "
        "AND c.rated_voltage > 0 AND c.rated_current > 0 AND NOT c.is_area_master"
    )
    capacity_evidence = (
        f"jsonb_build_object('kwh', c.delta, 'capacity_kwh', {capacity}, "
        f"'ratio', round((c.delta / {capacity})::numeric, 3), "
        "'previous', c.v0, 'current', c.v1)"
    )
    return {
        "decrease": f"""SELECT meter_id, area_id, jsonb_build_object('previous', v0,
            'current', v1) FROM ({CONSUMPTION}) c
            WHERE delta < -{p("decrease", "tolerance_kwh")}""",
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
                   > {p("unbalanced_registers", "tolerance_kwh")}""",
        "reverse_energy": f"""
            SELECT cur.meter_id, m.area_id, jsonb_build_object('previous', prev.value,
                   'current', cur.value)
            FROM daily_freeze cur JOIN meters m ON m.id = cur.meter_id AND NOT m.is_generation
            JOIN daily_freeze prev ON prev.meter_id = cur.meter_id
                 AND prev.data_date = %(d)s - 1 AND prev.quantity = 'energy_export_total'
            WHERE cur.data_date = %(d)s AND cur.quantity = 'energy_export_total'
              AND cur.value - prev.value > {p("reverse_energy", "min_kwh")}""",
        "zero_consumption": f"""
            SELECT cur.meter_id, m.area_id, jsonb_build_object('value', cur.value,
                   'days', {int(p("zero_consumption", "days"))})
            FROM daily_freeze cur JOIN meters m ON m.id = cur.meter_id
            WHERE cur.data_date = %(d)s AND cur.quantity = 'energy_import_total'
              AND (SELECT count(*) FROM daily_freeze o WHERE o.meter_id = cur.meter_id
                   AND o.quantity = 'energy_import_total' AND o.value = cur.value
                   AND o.data_date >= %(d)s - {int(p("zero_consumption", "days"))}
                   AND o.data_date < %(d)s) = {int(p("zero_consumption", "days"))}
              AND NOT EXISTS (SELECT 1 FROM readings r WHERE r.meter_id = cur.meter_id
                   AND r.quantity = 'power_active_total' AND r.kind = 'interval'
                   AND r.value > {p("stopped", "min_kw")} AND {DAY_RANGE})""",
        "stopped": f"""
            SELECT c.meter_id, c.area_id, jsonb_build_object('register', c.v1,
                   'max_power_kw', (SELECT max(value) FROM readings r WHERE r.meter_id =
                   c.meter_id AND r.quantity = 'power_active_total' AND r.kind = 'interval'
                   AND {DAY_RANGE}))
            FROM ({CONSUMPTION}) c WHERE c.delta = 0
              AND EXISTS (SELECT 1 FROM readings r WHERE r.meter_id = c.meter_id
                   AND r.quantity = 'power_active_total' AND r.kind = 'interval'
                   AND r.value > {p("stopped", "min_kw")} AND {DAY_RANGE})""",
        "spike": f"""
            WITH hist AS (
              SELECT meter_id, avg(d) AS avg_kwh, count(*) AS n FROM (
                SELECT f.meter_id, f.value - lag(f.value) OVER (PARTITION BY f.meter_id
                       ORDER BY f.data_date) AS d, f.data_date
                FROM daily_freeze f WHERE f.quantity = 'energy_import_total'
                  AND f.data_date BETWEEN %(d)s - {int(p("spike", "history_days")) + 1}
                  AND %(d)s - 1) x
              WHERE d IS NOT NULL AND d >= 0 GROUP BY meter_id)
            SELECT c.meter_id, c.area_id, jsonb_build_object('kwh', c.delta,
                   'recent_avg_kwh', h.avg_kwh)
            FROM ({CONSUMPTION}) c JOIN hist h ON h.meter_id = c.meter_id
            WHERE h.n >= {int(p("spike", "min_history_days"))}
              AND c.delta > {p("spike", "min_kwh")}
              AND c.delta > {p("spike", "factor")} * h.avg_kwh""",
        "overrun": f"""
            SELECT c.meter_id, c.area_id, {capacity_evidence}
            FROM ({CONSUMPTION}) c
            WHERE {rated}
              AND c.delta > {p("overrun", "factor")} * {capacity}
              AND NOT c.delta > {p("flying", "factor")} * {capacity}""",
        "flying": f"""
            SELECT c.meter_id, c.area_id, {capacity_evidence}
            FROM ({CONSUMPTION}) c
            WHERE {rated}
              AND c.delta > {p("flying", "factor")} * {capacity}""",
        "demand_over_contract": f"""
            SELECT e.meter_id, m.area_id, jsonb_build_object(
                   'max_demand_kw', max(e.value) * m.ct_ratio * m.pt_ratio,
                   'contracted_kw', m.contracted_kw)
            FROM meter_events e JOIN meters m ON m.id = e.meter_id
            WHERE e.quantity = 'max_demand_import' AND m.contracted_kw IS NOT NULL
              AND {DAY_RANGE}
            GROUP BY e.meter_id, m.area_id, m.contracted_kw, m.ct_ratio, m.pt_ratio
            HAVING max(e.value) * m.ct_ratio * m.pt_ratio
                   > {p("demand_over_contract", "factor")} * m.contracted_kw""",
        "clock": f"""
            SELECT e.meter_id, m.area_id, jsonb_build_object('offset_s', max(abs(e.value)))
            FROM meter_events e JOIN meters m ON m.id = e.meter_id
            WHERE e.quantity = 'clock_offset' AND {DAY_RANGE}
            GROUP BY e.meter_id, m.area_id
            HAVING max(abs(e.value)) > {p("clock", "max_offset_s")}""",
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
                  > {p("current_imbalance", "min_current_a")}
              AND (greatest(q.current_a, q.current_b, q.current_c)
                   - least(q.current_a, q.current_b, q.current_c))
                  / greatest(q.current_a, q.current_b, q.current_c)
                  > {p("current_imbalance", "ratio")}
              AND NOT ({brk})
            GROUP BY q.meter_id, m.area_id HAVING count(*) >= 4""",
    }


LINE_LOSS = (
    """
WITH due AS (
    SELECT m.* FROM meters m WHERE m.area_id IS NOT NULL AND m.gateway_id IS NOT NULL
      AND m.installed_on <= %(d)s - 1 AND (m.removed_on IS NULL OR m.removed_on > %(d)s)),
cons AS ("""
    + CONSUMPTION
    + """),
per_area AS (
    SELECT d.area_id, count(*) AS due, count(c.delta) AS read,
           sum(c.delta * c.mult) FILTER (WHERE d.is_area_master) AS supply,
           sum(c.delta * c.mult) FILTER (WHERE NOT d.is_area_master) AS sales
    FROM due d LEFT JOIN cons c ON c.meter_id = d.id GROUP BY d.area_id)
SELECT area_id, due, read, supply, sales,
       CASE WHEN due = read AND supply > 0 THEN (supply - sales) / supply END AS loss
FROM per_area ORDER BY area_id
"""
)


def line_loss(conn: psycopg.Connection[Any], day: date) -> list[dict[str, Any]]:
    """Per area: supply, sales and loss ratio; loss is null (with ``complete`` false) when
    the area's readings are incomplete, instead of a false figure."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(LINE_LOSS, {"d": day, "roll": ROLLOVER}).fetchall()
    for r in rows:
        r["complete"] = r["due"] == r["read"]
    return rows


def load_params(conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """Stored overrides: customer class ('*' = every class) -> rule -> parameters."""
    out: dict[str, dict[str, Any]] = {}
    for rule, cls, params in conn.execute("SELECT rule, customer_class, params FROM rule_params"):
        out.setdefault(cls, {})[rule] = params
    return out


def effective_params(
    stored: dict[str, dict[str, Any]], rule: str, customer_class: str = "*"
) -> dict[str, Any]:
    """Defaults, then the '*' override, then the class's own override."""
    out = dict(DEFAULTS[rule])
    out.update(stored.get("*", {}).get(rule, {}))
    if customer_class != "*":
        out.update(stored.get(customer_class, {}).get(rule, {}))
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


def _scoped(sql: str, classes: tuple[str, ...] | None, exclude: bool, meters: bool) -> str:
    """Narrow a rule's findings to some customer classes (or all but them) and/or to the
    meters in ``%(meters)s``; PostgreSQL pushes these conditions into the rule's query."""
    if classes is None and not meters:
        return sql
    cond = []
    if classes is not None:
        cond.append(
            ("NOT " if exclude else "") + "EXISTS (SELECT 1 FROM meters mm WHERE "
            "mm.id = x.meter_id AND mm.customer_class = ANY(%(classes)s))"
        )
    if meters:
        cond.append("x.meter_id = ANY(%(meters)s)")
    return (
        f"SELECT x.meter_id, x.area_id, x.evidence FROM ({sql}) "
        f"x(meter_id, area_id, evidence) WHERE {' AND '.join(cond)}"
    )


def run_rules(
    conn: psycopg.Connection[Any],
    day: date,
    tz: str,
    rules: list[str] | None = None,
    meters: list[str] | None = None,
) -> dict[str, int]:
    """Evaluate the rules for ``day`` and record the findings; returns counts per rule.

    Parameters come from :func:`effective_params`: a rule with an override for some
    customer classes runs once for those classes' meters with their parameters and once
    for the rest with the general ones. ``meters`` limits the scan to those meters (the
    incremental run as data arrives); area rules then still run for the whole day."""
    stored = load_params(conn)
    general = {rule: effective_params(stored, rule) for rule in DEFAULTS}
    found: dict[str, int] = {}
    with conn.transaction():
        for rule in DEFAULTS:
            if rule in AREA_RULES or (rules is not None and rule not in rules):
                continue
            uses = (rule, *USES.get(rule, ()))
            special = tuple(
                c for c in CUSTOMER_CLASSES if any(r in stored.get(c, {}) for r in uses)
            )
            passes: list[tuple[dict[str, Any], tuple[str, ...] | None, bool]] = [
                (general, special or None, True)
            ]
            passes += [
                ({**general, **{r: effective_params(stored, r, c) for r in uses}}, (c,), False)
                for c in special
            ]
            n = 0
            for all_params, classes, exclude in passes:
                params = all_params[rule]
                sql = _scoped(rule_sql(all_params)[rule], classes, exclude, meters is not None)
                rows = conn.execute(
                    sql,
                    {
                        "d": day,
                        "tz": tz,
                        "roll": ROLLOVER,
                        "classes": list(classes or ()),
                        "meters": meters,
                    },
                ).fetchall()
                for meter_id, area_id, evidence in rows:
                    conn.execute(
                        UPSERT, (rule, meter_id, area_id, day, day, Jsonb(params), Jsonb(evidence))
                    )
                n += len(rows)
            found[rule] = n
        if rules is None or "line_loss" in rules:
            limit = general["line_loss"]["max_ratio"]
            n = 0
            for r in line_loss(conn, day):
                loss = r["loss"]
                if loss is not None and (loss < 0 or loss > limit):
                    conn.execute(
                        UPSERT,
                        (
                            "line_loss",
                            None,
                            r["area_id"],
                            day,
                            day,
                            Jsonb({"max_ratio": limit}),
                            Jsonb(
                                json.loads(
                                    json.dumps(
                                        {k: r[k] for k in ("supply", "sales", "loss")},
                                        default=float,
                                    )
                                )
                            ),
                        ),
                    )
                    n += 1
            found["line_loss"] = n
    return found


INCREMENTAL_BATCH = 20_000


def run_incremental(
    conn: psycopg.Connection[Any], tz: str, limit: int = INCREMENTAL_BATCH
) -> dict[str, Any]:
    """Run the rules for the meter-days whose data arrived since the last run (the ingest
    path queues them in ``check_queue``). Taking the queue and recording the findings is one
    transaction: if a rule fails, the meter-days stay queued for the next run."""
    done: dict[str, Any] = {"meter_days": 0, "found": {}}
    with conn.transaction():
        taken = conn.execute(
            "DELETE FROM check_queue WHERE (meter_id, data_date) IN (SELECT meter_id, "
            "data_date FROM check_queue ORDER BY data_date, meter_id LIMIT %s "
            "FOR UPDATE SKIP LOCKED) RETURNING meter_id, data_date",
            (limit,),
        ).fetchall()
        by_day: dict[date, list[str]] = {}
        for meter_id, day in taken:
            by_day.setdefault(day, []).append(meter_id)
        for day in sorted(by_day):
            found = run_rules(conn, day, tz, meters=sorted(by_day[day]))
            for rule, n in found.items():
                done["found"][rule] = done["found"].get(rule, 0) + n
        done["meter_days"] = len(taken)
    return done
