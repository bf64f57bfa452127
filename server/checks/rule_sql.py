"""The SQL text of each anomaly rule, written once at import with *bound* parameters.

This module owns the queries only: which rule exists, its parameters, defaults and ranges
are the table in :mod:`server.checks.rule_table`, and running them and filing the findings
is :mod:`server.checks.rules`.

Every meter rule's query returns ``(meter_id, area_id, evidence jsonb)`` for the data date
``%(d)s``; the area rule (line loss) returns ``area_id`` in place of ``meter_id`` too, with a
null ``meter_id``. Placeholders are psycopg named parameters:

* the run's context: ``%(d)s`` (data date), ``%(tz)s`` (the utility's time zone, for the
  day's range of timestamps) and ``%(roll)s`` (the register rollover);
* the rule's own parameters, by name: ``%(tolerance_kwh)s``;
* another rule's parameter, by rule and name: ``%(flying.factor)s``.

A parameter is cast where it is used (``::numeric``, ``::integer``), so it has the type an
SQL literal of its value would have: comparisons and products come out as they did when
the values were written into the text.
"""

from __future__ import annotations

# Daily consumption from the daily-freeze registers: today's minus yesterday's, a rollover
# at the register's end counted as consumption, not as a decrease.
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

# the data date as a range of timestamps in the utility's time zone
DAY_RANGE = (
    "ts >= (%(d)s::date)::timestamp AT TIME ZONE %(tz)s AND "
    "ts < ((%(d)s::date + 1)::timestamp AT TIME ZONE %(tz)s)"
)

# every reading of the data date, hot or compacted (server.db.compact)
DAY_READINGS = (
    "readings_between((%(d)s::date)::timestamp AT TIME ZONE %(tz)s, "
    "((%(d)s::date + 1)::timestamp AT TIME ZONE %(tz)s))"
)

_PHASES = ("a", "b", "c")

# one row per meter and interval timestamp: the three voltages and currents side by side
_PIVOT = ", ".join(
    f"max(value) FILTER (WHERE quantity = 'voltage_{x}') AS voltage_{x}, "
    f"max(value) FILTER (WHERE quantity = 'current_{x}') AS current_{x}"
    for x in _PHASES
)
PER_POINT = f"""
        SELECT meter_id, ts, {_PIVOT} FROM {DAY_READINGS}
        WHERE kind = 'interval' AND {DAY_RANGE}
          AND quantity IN ('voltage_a','voltage_b','voltage_c','current_a','current_b',
                           'current_c')
        GROUP BY meter_id, ts"""


def _any_phase(voltage_ratio: str, current_test: str) -> str:
    """``(phase a) OR (phase b) OR (phase c)``: a voltage under ``voltage_ratio`` of the
    rated one with the phase's current passing ``current_test`` (``{x}`` is the phase)."""
    return " OR ".join(
        f"(q.voltage_{x} < {voltage_ratio} * coalesce(m.rated_voltage, 220) "
        f"AND {current_test.replace('{x}', x)})"
        for x in _PHASES
    )


VOLTAGE_LOSS_POINT = _any_phase("%(ratio)s::numeric", "q.current_{x} > %(min_current_a)s::numeric")
PHASE_BREAK_POINT = _any_phase(
    "%(ratio)s::numeric", "coalesce(q.current_{x}, 0) <= %(max_current_a)s::numeric"
)
# the same test with phase_break's parameters, read by current_imbalance
PHASE_BREAK_POINT_BORROWED = _any_phase(
    "%(phase_break.ratio)s::numeric",
    "coalesce(q.current_{x}, 0) <= %(phase_break.max_current_a)s::numeric",
)

# What the rated U·I could deliver in the day (register units: secondary side, so the CT/PT
# ratio applies to neither side of the comparison).
_CAPACITY = "(c.phases * c.rated_voltage * c.rated_current * 24 / 1000)"
_RATED = (
    "c.rated_voltage IS NOT NULL AND c.rated_current IS NOT NULL "
    "AND c.rated_voltage > 0 AND c.rated_current > 0 AND NOT c.is_area_master"
)
_CAPACITY_EVIDENCE = (
    f"jsonb_build_object('kwh', c.delta, 'capacity_kwh', {_CAPACITY}, "
    f"'ratio', round((c.delta / {_CAPACITY})::numeric, 3), "
    "'previous', c.v0, 'current', c.v1)"
)

DECREASE = f"""SELECT meter_id, area_id, jsonb_build_object('previous', v0,
            'current', v1) FROM ({CONSUMPTION}) c
            WHERE delta < -%(tolerance_kwh)s::numeric"""

# The tariff registers' sum minus the total, taken modulo the register range: each register
# rolls over at its end on its own, so a total past 999999.99 beside tariff registers that
# have not (or the other way round) differs by a whole number of ranges, not by energy.
_TARIFF_GAP = """(sum(f.value) FILTER (WHERE f.quantity LIKE 'energy_import_t_')
                   - max(f.value) FILTER (WHERE f.quantity = 'energy_import_total'))::numeric"""
UNBALANCED_REGISTERS = f"""
            SELECT f.meter_id, m.area_id, jsonb_build_object('total', max(f.value) FILTER
              (WHERE f.quantity = 'energy_import_total'), 'tariff_sum', sum(f.value) FILTER
              (WHERE f.quantity LIKE 'energy_import_t_'))
            FROM daily_freeze f JOIN meters m ON m.id = f.meter_id
            WHERE f.data_date = %(d)s AND (f.quantity = 'energy_import_total'
                                           OR f.quantity LIKE 'energy_import_t_')
            GROUP BY f.meter_id, m.area_id
            HAVING count(*) FILTER (WHERE f.quantity LIKE 'energy_import_t_') = 4
               AND abs({_TARIFF_GAP} - %(roll)s::numeric
                       * round({_TARIFF_GAP} / %(roll)s::numeric))
                   > %(tolerance_kwh)s::numeric"""

REVERSE_ENERGY = """
            SELECT cur.meter_id, m.area_id, jsonb_build_object('previous', prev.value,
                   'current', cur.value)
            FROM daily_freeze cur JOIN meters m ON m.id = cur.meter_id AND NOT m.is_generation
            JOIN daily_freeze prev ON prev.meter_id = cur.meter_id
                 AND prev.data_date = %(d)s - 1 AND prev.quantity = 'energy_export_total'
            WHERE cur.data_date = %(d)s AND cur.quantity = 'energy_export_total'
              AND cur.value - prev.value > %(min_kwh)s::numeric"""

ZERO_CONSUMPTION = f"""
            SELECT cur.meter_id, m.area_id, jsonb_build_object('value', cur.value,
                   'days', %(days)s::integer)
            FROM daily_freeze cur JOIN meters m ON m.id = cur.meter_id
            WHERE cur.data_date = %(d)s AND cur.quantity = 'energy_import_total'
              AND (SELECT count(*) FROM daily_freeze o WHERE o.meter_id = cur.meter_id
                   AND o.quantity = 'energy_import_total' AND o.value = cur.value
                   AND o.data_date >= %(d)s - %(days)s::integer
                   AND o.data_date < %(d)s) = %(days)s::integer
              AND NOT EXISTS (SELECT 1 FROM {DAY_READINGS} r WHERE r.meter_id = cur.meter_id
                   AND r.quantity = 'power_active_total' AND r.kind = 'interval'
                   AND r.value > %(stopped.min_kw)s::numeric AND {DAY_RANGE})"""

STOPPED = f"""
            SELECT c.meter_id, c.area_id, jsonb_build_object('register', c.v1,
                   'max_power_kw', (SELECT max(value) FROM {DAY_READINGS} r WHERE r.meter_id =
                   c.meter_id AND r.quantity = 'power_active_total' AND r.kind = 'interval'
                   AND {DAY_RANGE}))
            FROM ({CONSUMPTION}) c WHERE c.delta = 0
              AND EXISTS (SELECT 1 FROM {DAY_READINGS} r WHERE r.meter_id = c.meter_id
                   AND r.quantity = 'power_active_total' AND r.kind = 'interval'
                   AND r.value > %(min_kw)s::numeric AND {DAY_RANGE})"""

SPIKE = f"""
            WITH hist AS (
              SELECT meter_id, avg(d) AS avg_kwh, count(*) AS n FROM (
                SELECT f.meter_id, f.value - lag(f.value) OVER (PARTITION BY f.meter_id
                       ORDER BY f.data_date) AS d, f.data_date
                FROM daily_freeze f WHERE f.quantity = 'energy_import_total'
                  AND f.data_date BETWEEN %(d)s - (%(history_days)s::integer + 1)
                  AND %(d)s - 1) x
              WHERE d IS NOT NULL AND d >= 0 GROUP BY meter_id)
            SELECT c.meter_id, c.area_id, jsonb_build_object('kwh', c.delta,
                   'recent_avg_kwh', h.avg_kwh)
            FROM ({CONSUMPTION}) c JOIN hist h ON h.meter_id = c.meter_id
            WHERE h.n >= least(%(min_history_days)s::integer, %(history_days)s::integer)
              AND c.delta > %(min_kwh)s::numeric
              AND c.delta > %(factor)s::numeric * h.avg_kwh"""

OVERRUN = f"""
            SELECT c.meter_id, c.area_id, {_CAPACITY_EVIDENCE}
            FROM ({CONSUMPTION}) c
            WHERE {_RATED}
              AND c.delta > %(factor)s::numeric * {_CAPACITY}
              AND NOT c.delta > %(flying.factor)s::numeric * {_CAPACITY}"""

FLYING = f"""
            SELECT c.meter_id, c.area_id, {_CAPACITY_EVIDENCE}
            FROM ({CONSUMPTION}) c
            WHERE {_RATED}
              AND c.delta > %(factor)s::numeric * {_CAPACITY}"""

DEMAND_OVER_CONTRACT = f"""
            SELECT e.meter_id, m.area_id, jsonb_build_object(
                   'max_demand_kw', max(e.value) * m.ct_ratio * m.pt_ratio,
                   'contracted_kw', m.contracted_kw)
            FROM meter_events_all e JOIN meters m ON m.id = e.meter_id
            WHERE e.quantity = 'max_demand_import' AND m.contracted_kw IS NOT NULL
              AND {DAY_RANGE}
            GROUP BY e.meter_id, m.area_id, m.contracted_kw, m.ct_ratio, m.pt_ratio
            HAVING max(e.value) * m.ct_ratio * m.pt_ratio
                   > %(factor)s::numeric * m.contracted_kw"""

CLOCK = f"""
            SELECT e.meter_id, m.area_id, jsonb_build_object('offset_s', max(abs(e.value)))
            FROM meter_events_all e JOIN meters m ON m.id = e.meter_id
            WHERE e.quantity = 'clock_offset' AND {DAY_RANGE}
            GROUP BY e.meter_id, m.area_id
            HAVING max(abs(e.value)) > %(max_offset_s)s::numeric"""

COVER_OPEN = f"""
            SELECT e.meter_id, m.area_id, jsonb_build_object('count', max(e.value))
            FROM meter_events_all e JOIN meters m ON m.id = e.meter_id
            WHERE e.quantity = 'cover_open_count' AND {DAY_RANGE}
            GROUP BY e.meter_id, m.area_id
            HAVING max(e.value) > coalesce((SELECT max(o.value) FROM meter_events_all o
                WHERE o.meter_id = e.meter_id AND o.quantity = 'cover_open_count'
                AND o.ts < (%(d)s::date)::timestamp AT TIME ZONE %(tz)s), 0)"""

VOLTAGE_LOSS = f"""
            SELECT q.meter_id, m.area_id, jsonb_build_object('points', count(*))
            FROM ({PER_POINT}) q JOIN meters m ON m.id = q.meter_id
            WHERE {VOLTAGE_LOSS_POINT} GROUP BY q.meter_id, m.area_id"""

PHASE_BREAK = f"""
            SELECT q.meter_id, m.area_id, jsonb_build_object('points', count(*))
            FROM ({PER_POINT}) q JOIN meters m ON m.id = q.meter_id
            WHERE {PHASE_BREAK_POINT} GROUP BY q.meter_id, m.area_id"""

CURRENT_IMBALANCE = f"""
            SELECT q.meter_id, m.area_id, jsonb_build_object('points', count(*))
            FROM ({PER_POINT}) q JOIN meters m ON m.id = q.meter_id
            WHERE q.current_b IS NOT NULL AND q.current_c IS NOT NULL
              AND greatest(q.current_a, q.current_b, q.current_c)
                  > %(min_current_a)s::numeric
              AND (greatest(q.current_a, q.current_b, q.current_c)
                   - least(q.current_a, q.current_b, q.current_c))
                  / greatest(q.current_a, q.current_b, q.current_c)
                  > %(ratio)s::numeric
              AND NOT ({PHASE_BREAK_POINT_BORROWED})
            GROUP BY q.meter_id, m.area_id HAVING count(*) >= 4"""

# Per transformer area: the meters due that day, how many were read, the master's supply
# and the customers' sales (primary side), and the loss ratio when every meter was read.
# A day's consumption beyond the register's whole range cannot be real (a forged or garbled
# freeze): it is counted as ``implausible``, not as read, so the area has no loss figure
# that day instead of a wrong one; sums are taken in numeric, so no value can overflow
# them, and come out as double precision where they fit (null where they cannot).
LINE_LOSS_REPORT = f"""
WITH due AS (
    SELECT m.* FROM meters m WHERE m.area_id IS NOT NULL AND m.gateway_id IS NOT NULL
      AND m.installed_on <= %(d)s - 1 AND (m.removed_on IS NULL OR m.removed_on > %(d)s)),
cons AS ({CONSUMPTION}),
judged AS (
    SELECT d.area_id, d.is_area_master, c.delta, c.mult,
           abs(c.delta) <= %(roll)s AS sane
    FROM due d LEFT JOIN cons c ON c.meter_id = d.id),
per_area AS (
    SELECT area_id, count(*) AS due, count(delta) FILTER (WHERE sane) AS read,
           count(delta) FILTER (WHERE NOT sane) AS implausible,
           sum(delta::numeric * mult) FILTER (WHERE sane AND is_area_master) AS supply,
           sum(delta::numeric * mult) FILTER (WHERE sane AND NOT is_area_master) AS sales
    FROM judged GROUP BY area_id),
figures AS (
    SELECT area_id, due, read, implausible, supply, sales,
           CASE WHEN due = read AND supply > 0 THEN (supply - sales) / supply END AS loss
    FROM per_area)
SELECT area_id, due, read, implausible,
       CASE WHEN abs(supply) < 1e300 THEN supply::float8 END AS supply,
       CASE WHEN abs(sales) < 1e300 THEN sales::float8 END AS sales,
       CASE WHEN abs(loss) < 1e300 THEN loss::float8 END AS loss
FROM figures ORDER BY area_id
"""

# the areas whose loss is negative (the master registers less than its customers) or over
# the limit; an incomplete area has no loss figure and so no finding
LINE_LOSS = f"""
SELECT NULL::text, area_id, jsonb_build_object('supply', supply, 'sales', sales,
       'loss', loss)
FROM ({LINE_LOSS_REPORT}) a
WHERE loss IS NOT NULL AND (loss < 0 OR loss > %(max_ratio)s::numeric)
ORDER BY area_id"""
