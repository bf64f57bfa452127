"""The anomaly rules of ``shared/reference/metering-checks.md`` as one table of frozen records.

Each :class:`Rule` says what it judges (per meter or per transformer area), its labels for
people, the quantities it reads, its parameters with defaults and the range an
administrator may set, and its query (:mod:`server.checks.rule_sql`) with the parameters
*bound*, never written into the text. The jobs run the rules from :data:`RULES`
(:mod:`server.checks.rules`), the API lists them and checks parameter updates against the
ranges here, and the dashboard takes the rules' names from the API.

This module owns no I/O: stored overrides, the runs and the anomaly archive live in
:mod:`server.checks.rules`.

``overrun`` and ``flying`` judge the same thing, the day's register increment against what
the rated U·I (and phases) could deliver in 24 hours, at two thresholds: an increment above
the flying threshold is *flying* (飞走) and not also *overrun* (超差), so a meter is in the
archive under the most severe of the two for a day (each keeps its own ongoing record).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

from protocols.vocabulary import CustomerClass

from . import rule_sql

Scope = Literal["meter", "area"]

ROLLOVER = 1_000_000.0
CUSTOMER_CLASSES: tuple[str, ...] = tuple(CustomerClass)
# the placeholders every query may use besides parameters: the run's context
CONTEXT = frozenset({"d", "tz", "roll"})
# the freeze depth a meter keeps: a rule cannot look back further than this
MAX_DAYS_BACK = 62


@dataclass(frozen=True)
class Param:
    """One tunable threshold: default, the inclusive range an administrator may set, and
    whether it counts something (days) and so must be a whole number."""

    name: str
    default: float
    low: float
    high: float
    unit: str
    integer: bool = False

    def bound(self, value: Any) -> int | Decimal:
        """The value as the query binds it: an integer, or a decimal with the digits the
        value is written with (the type and value of an SQL literal of it)."""
        return int(value) if self.integer else Decimal(str(value))

    def problem(self, value: float) -> str | None:
        """Why ``value`` may not be set, or None."""
        if not self.low <= value <= self.high:
            return (
                f"{self.name} must be between {self.low:g} and {self.high:g} {self.unit}, "
                f"not {value:g}"
            )
        if self.integer and value != int(value):
            return f"{self.name} must be a whole number of {self.unit}, not {value:g}"
        return None


@dataclass(frozen=True)
class Rule:
    """One anomaly rule.

    ``sql`` returns ``(meter_id, area_id, evidence)`` for the data date; its placeholders
    are the run's :data:`CONTEXT`, this rule's parameters by name and other rules'
    parameters as ``rule.name``. ``class_overrides_from`` names the other rules whose
    per-customer-class overrides also give this rule a run of its own for that class."""

    name: str
    scope: Scope
    label_zh: str
    label_en: str
    description: str
    quantities: tuple[str, ...]
    params: tuple[Param, ...]
    sql: str
    class_overrides_from: tuple[str, ...] = ()

    @property
    def defaults(self) -> dict[str, float]:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @cached_property
    def placeholders(self) -> frozenset[str]:
        """Every name the query binds."""
        return frozenset(re.findall(r"%\(([^)]+)\)s", self.sql))

    def bind(self, params: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The values of the query's parameter placeholders, from the parameters in force
        by rule name (the run adds the context)."""
        out: dict[str, Any] = {}
        for name in self.placeholders - CONTEXT:
            rule_name, _, key = name.rpartition(".")
            rule = BY_NAME[rule_name or self.name]
            param = rule.param(key)
            if param is None:
                raise KeyError(f"rule {self.name}: no parameter for %({name})s")
            out[name] = param.bound(params[rule.name][key])
        return out


def _days(name: str, default: int, low: int = 1, high: int = MAX_DAYS_BACK) -> Param:
    return Param(name, default, low, high, "days", integer=True)


RULES: tuple[Rule, ...] = (
    Rule(
        "decrease",
        "meter",
        "示度下降",
        "Register decrease",
        "The import register went down from one daily freeze to the next.",
        ("energy_import_total",),
        (Param("tolerance_kwh", 0.01, 0, 1000, "kWh"),),
        rule_sql.DECREASE,
    ),
    Rule(
        "unbalanced_registers",
        "meter",
        "示值不平",
        "Tariff registers do not add up",
        "The four tariff registers of a daily freeze do not add up to the total.",
        (
            "energy_import_total",
            "energy_import_t1",
            "energy_import_t2",
            "energy_import_t3",
            "energy_import_t4",
        ),  # fmt: skip
        (Param("tolerance_kwh", 0.05, 0, 1000, "kWh"),),
        rule_sql.UNBALANCED_REGISTERS,
    ),
    Rule(
        "reverse_energy",
        "meter",
        "反向电量异常",
        "Reverse energy",
        "A consumer's (not a generator's) export register advanced during the day.",
        ("energy_export_total",),
        (Param("min_kwh", 0.05, 0, 100_000, "kWh"),),
        rule_sql.REVERSE_ENERGY,
    ),
    Rule(
        "zero_consumption",
        "meter",
        "零度户",
        "Zero consumption",
        "The import register has not moved for some days and no load was seen that day.",
        ("energy_import_total", "power_active_total"),
        (_days("days", 3),),
        rule_sql.ZERO_CONSUMPTION,
        class_overrides_from=("stopped",),
    ),
    Rule(
        "stopped",
        "meter",
        "电能表停走",
        "Stopped meter",
        "The import register did not move although the meter measured active power.",
        ("energy_import_total", "power_active_total"),
        (Param("min_kw", 0.05, 0, 100_000, "kW"),),
        rule_sql.STOPPED,
    ),
    Rule(
        "spike",
        "meter",
        "用电量突增",
        "Consumption spike",
        # judged against the average of the last history_days, of which at least
        # min_history_days must be there: with fewer, a weekly cycle decides (a commercial
        # customer's Monday after a quiet weekend is 3 x a three-day average). A window
        # holds at most history_days daily deltas, so a min_history_days above it is
        # clamped to history_days when the rule runs (not refused: the two are set apart)
        "The day's consumption is a multiple of the recent daily average.",
        ("energy_import_total",),
        (
            Param("factor", 3.0, 1, 1000, "x average"),
            Param("min_kwh", 2.0, 0, 1_000_000, "kWh"),
            _days("history_days", 7, high=MAX_DAYS_BACK - 1),
            _days("min_history_days", 5, high=MAX_DAYS_BACK - 1),
        ),
        rule_sql.SPIKE,
    ),
    Rule(
        "overrun",
        "meter",
        "电能量超差",
        "Energy overrun",
        "The day's consumption exceeds what the rated voltage and current could deliver.",
        ("energy_import_total",),
        (Param("factor", 1.0, 0.1, 100, "x capacity"),),
        rule_sql.OVERRUN,
        class_overrides_from=("flying",),
    ),
    Rule(
        "flying",
        "meter",
        "电能表飞走",
        "Flying meter",
        "The day's consumption is far beyond what the meter's rating could deliver.",
        ("energy_import_total",),
        (Param("factor", 1.5, 0.1, 100, "x capacity"),),
        rule_sql.FLYING,
    ),
    Rule(
        "clock",
        "meter",
        "时钟超差",
        "Clock deviation",
        "The meter's clock was off by more than the limit at a clock check.",
        ("clock_offset",),
        (Param("max_offset_s", 300, 1, 86_400, "s"),),
        rule_sql.CLOCK,
    ),
    Rule(
        "voltage_loss",
        "meter",
        "失压",
        "Voltage loss",
        "A phase's voltage fell well below the rated one while current still flowed.",
        ("voltage_a", "voltage_b", "voltage_c", "current_a", "current_b", "current_c"),
        (
            Param("ratio", 0.78, 0, 1, "x rated voltage"),
            Param("min_current_a", 0.05, 0, 10_000, "A"),
        ),
        rule_sql.VOLTAGE_LOSS,
    ),
    Rule(
        "phase_break",
        "meter",
        "断相",
        "Phase break",
        "A phase's voltage fell well below the rated one and its current stopped.",
        ("voltage_a", "voltage_b", "voltage_c", "current_a", "current_b", "current_c"),
        (
            Param("ratio", 0.60, 0, 1, "x rated voltage"),
            Param("max_current_a", 0.01, 0, 10_000, "A"),
        ),
        rule_sql.PHASE_BREAK,
    ),
    Rule(
        "current_imbalance",
        "meter",
        "电流不平衡",
        "Current imbalance",
        "The three phase currents differ by more than the ratio, phase breaks aside.",
        ("voltage_a", "voltage_b", "voltage_c", "current_a", "current_b", "current_c"),
        (
            Param("ratio", 0.30, 0, 1, "of the largest current"),
            Param("min_current_a", 1.0, 0, 10_000, "A"),
        ),
        rule_sql.CURRENT_IMBALANCE,
        # it reads phase_break's parameters, so a class's override of phase_break gives
        # it a run of its own for that class (a broken phase is not judged an imbalance)
        class_overrides_from=("phase_break",),
    ),
    Rule(
        "cover_open",
        "meter",
        "开表盖",
        "Cover opened",
        "The meter's cover-open counter went up.",
        ("cover_open_count",),
        (),
        rule_sql.COVER_OPEN,
    ),
    Rule(
        "demand_over_contract",
        "meter",
        "需量超容",
        "Demand over contract",
        "The day's maximum demand (primary side) exceeds the contracted demand.",
        ("max_demand_import",),
        (Param("factor", 1.0, 0.1, 100, "x contracted kW"),),
        rule_sql.DEMAND_OVER_CONTRACT,
    ),
    Rule(
        "line_loss",
        "area",
        "台区线损异常",
        "Line loss",
        "A fully read transformer area's loss is negative or above the limit.",
        ("energy_import_total",),
        (Param("max_ratio", 0.10, 0, 1, "of supply"),),
        rule_sql.LINE_LOSS,
    ),
)

BY_NAME: Mapping[str, Rule] = {r.name: r for r in RULES}


def rule(name: str) -> Rule:
    """The rule called ``name``; :class:`UnknownRule` if there is none."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise UnknownRule(f"no rule {name!r} (rules: {', '.join(BY_NAME)})") from None


class UnknownRule(LookupError):
    """No rule by that name."""


class BadParams(ValueError):
    """A parameter update the table does not allow."""


def check_update(name: str, params: Mapping[str, float], customer_class: str = "*") -> Rule:
    """The rule ``name`` if ``params`` may be set for it (for ``customer_class``, ``*`` =
    every class); :class:`UnknownRule` or :class:`BadParams` with a message for people."""
    found = rule(name)
    unknown = sorted(k for k in params if found.param(k) is None)
    if unknown:
        raise BadParams(f"rule {name} has no parameter {unknown[0]!r}")
    if customer_class != "*" and found.scope == "area":
        raise BadParams(
            f"rule {name} judges transformer areas, not customers: its "
            "parameters cannot differ by customer class"
        )
    problems = []
    for key, value in params.items():
        param = found.param(key)
        if param is not None and (problem := param.problem(value)) is not None:
            problems.append(problem)
    if problems:
        raise BadParams(f"rule {name}: " + "; ".join(problems))
    return found


def usable_stored(name: str, params: Any) -> tuple[dict[str, Any], list[str]]:
    """The stored overrides of rule ``name`` that are in its table's ranges, and why each
    other one is left out. A row written around the API (by hand in the database, or
    before the ranges existed) cannot take a rule outside them: the rule uses its default
    for that parameter instead. Overrides of a rule the table no longer has are kept (no
    run reads them)."""
    if not isinstance(params, Mapping):
        return {}, [f"rule {name}: stored parameters are not an object: {params!r}"]
    found = BY_NAME.get(name)
    if found is None:
        return dict(params), []
    kept: dict[str, Any] = {}
    problems = []
    for key, value in params.items():
        param = found.param(key)
        if param is None:
            problems.append(f"rule {name} has no parameter {key!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            problems.append(f"rule {name}: {key} is not a number: {value!r}")
        elif (problem := param.problem(float(value))) is not None:
            problems.append(f"rule {name}: {problem}")
        else:
            kept[key] = value
    return kept, problems


def describe() -> list[dict[str, Any]]:
    """The table for the API and the dashboard."""
    return [
        {
            "name": r.name,
            "scope": r.scope,
            "label": {"zh": r.label_zh, "en": r.label_en},
            "description": r.description,
            "quantities": list(r.quantities),
            "params": [
                {
                    "name": p.name,
                    "default": p.default,
                    "min": p.low,
                    "max": p.high,
                    "unit": p.unit,
                    "integer": p.integer,
                }
                for p in r.params
            ],
        }
        for r in RULES
    ]
