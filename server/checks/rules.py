"""Running the anomaly rules of :mod:`server.checks.rule_table` over one data date, and the
anomaly archive they feed (one ongoing record per meter or area and rule).

Daily consumption comes from the daily-freeze registers: today's minus yesterday's, with a
register rollover at 999999.99 kWh counted as consumption, not as a decrease. A replaced
meter is a new archive id with its own registers, so a replacement is never a decrease.
Parameters have defaults in the table and may be overridden per rule and customer class in
``rule_params`` (admin only, audited; the API checks updates against the table's ranges).

This module owns the runs (which rule runs with which parameters over which meters) and
the archive's upsert; what the rules are and their SQL is the table's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from . import rule_sql
from .rule_table import CUSTOMER_CLASSES, ROLLOVER, RULES, Rule, usable_stored

log = logging.getLogger(__name__)

__all__ = [
    "AREA_RULES",
    "CUSTOMER_CLASSES",
    "DEFAULTS",
    "ROLLOVER",
    "RulesRun",
    "effective_params",
    "line_loss",
    "load_params",
    "run_incremental",
    "run_rules",
]

# the table's defaults by rule name, and its rules judged per area (whose parameters are not
# per customer class)
DEFAULTS: dict[str, dict[str, float]] = {r.name: r.defaults for r in RULES}
AREA_RULES = tuple(r.name for r in RULES if r.scope == "area")


def line_loss(conn: psycopg.Connection[Any], day: date) -> list[dict[str, Any]]:
    """Per area: supply, sales and loss ratio; loss is null (with ``complete`` false) when
    the area's readings are incomplete, instead of a false figure."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(rule_sql.LINE_LOSS_REPORT, {"d": day, "roll": ROLLOVER}).fetchall()
    for r in rows:
        r["complete"] = r["due"] == r["read"]
    return rows


def load_params(conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """Stored overrides: customer class ('*' = every class) -> rule -> parameters. A stored
    value outside the table's range (or not a number) is left out, with a warning: the
    rule uses its default for it (see :func:`server.checks.rule_table.usable_stored`)."""
    out: dict[str, dict[str, Any]] = {}
    for rule, cls, params in conn.execute("SELECT rule, customer_class, params FROM rule_params"):
        kept, problems = usable_stored(rule, params)
        for problem in problems:
            log.warning("stored rule parameter ignored (%s): %s; the default applies", cls, problem)
        out.setdefault(cls, {})[rule] = kept
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


# A finding files one ongoing record per rule and meter/area, unless a clerk already decided
# that day: a dismissed or closed record covering it stands (the checks run again for the
# same days, e.g. after a re-read, must not bring a decided record back as a new open one).
UPSERT = """
INSERT INTO anomalies (rule, meter_id, area_id, first_date, last_date, params, evidence)
SELECT %(rule)s, %(meter)s, %(area)s, %(d)s, %(d)s, %(params)s, %(evidence)s
WHERE NOT EXISTS (
    SELECT 1 FROM anomalies a
    WHERE a.rule = %(rule)s AND coalesce(a.meter_id, '') = coalesce(%(meter)s, '')
      AND coalesce(a.area_id, '') = coalesce(%(area)s, '')
      AND a.status IN ('dismissed', 'closed') AND %(d)s BETWEEN a.first_date AND a.last_date)
ON CONFLICT (rule, coalesce(meter_id, ''), coalesce(area_id, ''))
    WHERE status IN ('open', 'confirmed')
DO UPDATE SET last_date = greatest(anomalies.last_date, excluded.last_date),
              first_date = least(anomalies.first_date, excluded.first_date),
              evidence = excluded.evidence, last_seen = now()
"""


# which customer classes a run of a meter rule covers: every class, only those in
# %(classes)s, or every class but those
Classes = Literal["all", "only", "except"]


def _scoped(sql: str, classes: Classes, meters: bool) -> str:
    """Narrow a rule's findings to some customer classes (or all but them) and/or to the
    meters in ``%(meters)s``; PostgreSQL pushes these conditions into the rule's query."""
    if classes == "all" and not meters:
        return sql
    cond = []
    if classes != "all":
        cond.append(
            ("NOT " if classes == "except" else "") + "EXISTS (SELECT 1 FROM meters mm WHERE "
            "mm.id = x.meter_id AND mm.customer_class = ANY(%(classes)s))"
        )
    if meters:
        cond.append("x.meter_id = ANY(%(meters)s)")
    return (
        f"SELECT x.meter_id, x.area_id, x.evidence FROM ({sql}) "
        f"x(meter_id, area_id, evidence) WHERE {' AND '.join(cond)}"
    )


# every meter rule's query in each narrowing, written once at import
SCOPED: dict[tuple[str, Classes, bool], str] = {
    (r.name, classes, meters): _scoped(r.sql, classes, meters)
    for r in RULES
    if r.scope == "meter"
    for classes in ("all", "only", "except")
    for meters in (False, True)
}

# one run of a rule: the parameters in force by rule name, the customer classes it covers
Pass = tuple[dict[str, dict[str, Any]], tuple[str, ...], Classes]


def _passes(
    rule: Rule, stored: dict[str, dict[str, Any]], general: dict[str, dict[str, Any]]
) -> list[Pass]:
    """A rule with an override for some customer classes (its own, or one of a rule in its
    ``class_overrides_from``) runs once for each of those classes with their parameters and
    once for the rest with the general ones. An area rule runs once, with the general
    ones."""
    if rule.scope == "area":
        return [(general, (), "all")]
    uses = (rule.name, *rule.class_overrides_from)
    special = tuple(c for c in CUSTOMER_CLASSES if any(r in stored.get(c, {}) for r in uses))
    passes: list[Pass] = [(general, special, "except" if special else "all")]
    passes += [
        ({**general, **{r: effective_params(stored, r, c) for r in uses}}, (c,), "only")
        for c in special
    ]
    return passes


@dataclass
class RulesRun:
    """What a scan found per rule, and the rules that failed (rule -> the error): a failed
    rule costs its own findings only, the others are saved."""

    found: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def run_rules(
    conn: psycopg.Connection[Any],
    day: date,
    tz: str,
    rules: list[str] | None = None,
    meters: list[str] | None = None,
) -> RulesRun:
    """Evaluate the rules (all, or those named in ``rules``) for ``day`` and record the
    findings; returns counts per rule and the rules that failed.

    Parameters come from :func:`effective_params`, per customer class as
    :func:`_passes` says. ``meters`` limits the scan to those meters (the incremental run
    as data arrives); area rules then still run for the whole day.

    One transaction (committed here unless the caller has one open), each rule in a
    savepoint of its own: a rule that fails (a value its SQL cannot handle, say) is rolled
    back alone, logged and reported, and every other rule's findings are kept."""
    out = RulesRun()
    with conn.transaction():
        stored = load_params(conn)
        general = {r.name: effective_params(stored, r.name) for r in RULES}
        for rule in RULES:
            if rules is not None and rule.name not in rules:
                continue
            try:
                with conn.transaction():  # a savepoint: a failing rule costs its own findings
                    out.found[rule.name] = _run_rule(conn, rule, day, tz, meters, stored, general)
            except Exception as exc:
                if isinstance(exc, _OUTAGES):
                    raise
                log.exception("anomaly rule %s failed for %s", rule.name, day)
                first = str(exc).strip().splitlines()
                out.failed[rule.name] = f"{type(exc).__name__}: {first[0] if first else ''}"
    return out


#: failures that say the database is away, not that a rule met bad data: the whole run fails
_OUTAGES = (psycopg.OperationalError, psycopg.InterfaceError)


def _run_rule(
    conn: psycopg.Connection[Any],
    rule: Rule,
    day: date,
    tz: str,
    meters: list[str] | None,
    stored: dict[str, dict[str, Any]],
    general: dict[str, dict[str, Any]],
) -> int:
    """Run one rule (in each of its passes) and file its findings; how many."""
    n = 0
    for in_force, classes, which in _passes(rule, stored, general):
        sql = rule.sql if rule.scope == "area" else SCOPED[rule.name, which, meters is not None]
        context = {
            "d": day,
            "tz": tz,
            "roll": ROLLOVER,
            "classes": list(classes),
            "meters": meters,
        }
        rows = conn.execute(sql, context | rule.bind(in_force)).fetchall()
        params = Jsonb(in_force[rule.name])
        for meter_id, area_id, evidence in rows:
            conn.execute(
                UPSERT,
                {
                    "rule": rule.name,
                    "meter": meter_id,
                    "area": area_id,
                    "d": day,
                    "params": params,
                    "evidence": Jsonb(evidence),
                },
            )
        n += len(rows)
    return n


INCREMENTAL_BATCH = 20_000


def run_incremental(
    conn: psycopg.Connection[Any], tz: str, limit: int = INCREMENTAL_BATCH
) -> dict[str, Any]:
    """Run the rules for the meter-days whose data arrived since the last run (the ingest
    path queues them in ``check_queue``). Taking the queue and recording the findings is one
    transaction. A rule that fails costs only its own findings (see :func:`run_rules`): the
    meter-days it failed for are queued again for the next run, and ``failed`` says which
    rule failed on which day."""
    done: dict[str, Any] = {"meter_days": 0, "found": {}, "failed": {}}
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
            run = run_rules(conn, day, tz, meters=sorted(by_day[day]))
            for rule, n in run.found.items():
                done["found"][rule] = done["found"].get(rule, 0) + n
            for rule, why in run.failed.items():
                done["failed"][f"{rule} {day}"] = why
            if run.failed:
                conn.execute(
                    "INSERT INTO check_queue (meter_id, data_date) SELECT unnest(%s::text[]), "
                    "%s ON CONFLICT (meter_id, data_date) DO NOTHING",
                    (by_day[day], day),
                )
        done["meter_days"] = len(taken)
    return done
