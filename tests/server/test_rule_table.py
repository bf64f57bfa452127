"""The anomaly rule table on its own (no database): names, defaults inside their ranges,
placeholders that match the parameters, SQL with nothing formatted into it, and the checks
on parameter updates the API relies on."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from server.checks import rule_table, rules
from server.checks.rule_table import BY_NAME, CONTEXT, RULES, BadParams, UnknownRule

# the defaults as they were before the table: the table must not change one
DEFAULTS_BEFORE_THE_TABLE = {
    "decrease": {"tolerance_kwh": 0.01},
    "unbalanced_registers": {"tolerance_kwh": 0.05},
    "reverse_energy": {"min_kwh": 0.05},
    "zero_consumption": {"days": 3},
    "stopped": {"min_kw": 0.05},
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
RUN_ONLY = {"classes", "meters"}  # bound by the runner when it narrows a rule


def test_names_are_unique_and_defaults_unchanged() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names)) == len(BY_NAME)
    assert rules.DEFAULTS == DEFAULTS_BEFORE_THE_TABLE
    assert list(rules.DEFAULTS) == list(DEFAULTS_BEFORE_THE_TABLE)  # the order runs go in
    assert rules.AREA_RULES == ("line_loss",)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_defaults_inside_ranges(rule: rule_table.Rule) -> None:
    assert rule.scope in ("meter", "area")
    assert rule.label_zh and rule.label_en and rule.description and rule.quantities
    assert len({p.name for p in rule.params}) == len(rule.params)
    for p in rule.params:
        assert p.low <= p.default <= p.high, p
        assert p.low < p.high, p
        assert p.problem(p.default) is None
        if p.integer:
            assert isinstance(p.default, int) and p.default >= 1


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_placeholders_match_parameters(rule: rule_table.Rule) -> None:
    own = {n for n in rule.placeholders - CONTEXT if "." not in n}
    borrowed = {n for n in rule.placeholders if "." in n}
    # every own placeholder is a parameter and every parameter is used
    assert own == {p.name for p in rule.params}
    for name in borrowed:
        other, key = name.split(".")
        assert other != rule.name and BY_NAME[other].param(key) is not None, name
    for other in rule.class_overrides_from:
        assert any(n.startswith(other + ".") for n in borrowed), other
    assert not {p.name for p in rule.params} & (CONTEXT | RUN_ONLY)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_nothing_formatted_into_the_sql(rule: rule_table.Rule) -> None:
    for sql in [rule.sql] + [s for (n, _, _), s in rules.SCOPED.items() if n == rule.name]:
        assert "{" not in sql and "}" not in sql
        # every % is a named placeholder: no literal percent, no positional %s
        assert not re.search(r"%(?!\([a-z_.]+\)s)", sql)


def test_narrowed_queries_are_built_once() -> None:
    meter_rules = [r for r in RULES if r.scope == "meter"]
    assert len(rules.SCOPED) == 6 * len(meter_rules)
    for r in meter_rules:
        assert rules.SCOPED[r.name, "all", False] is r.sql
        assert "%(meters)s" in rules.SCOPED[r.name, "all", True]
        assert "NOT EXISTS" in rules.SCOPED[r.name, "except", False]
        assert "%(classes)s" in rules.SCOPED[r.name, "only", True]


def test_bind_gives_every_placeholder_a_typed_value() -> None:
    general = {r.name: r.defaults for r in RULES}
    overrun = BY_NAME["overrun"].bind(general | {"flying": {"factor": 4}})
    assert overrun == {"factor": Decimal("1.0"), "flying.factor": Decimal("4")}
    spike = BY_NAME["spike"].bind(general | {"spike": {**general["spike"], "history_days": 9.0}})
    assert spike["history_days"] == 9 and isinstance(spike["history_days"], int)
    for r in RULES:
        assert set(r.bind(general)) == r.placeholders - CONTEXT


def test_updates_are_checked_against_the_table() -> None:
    assert rule_table.check_update("decrease", {"tolerance_kwh": 1}) is BY_NAME["decrease"]
    with pytest.raises(UnknownRule, match="no rule 'nope'"):
        rule_table.check_update("nope", {})
    with pytest.raises(BadParams, match="has no parameter 'nonsense'"):
        rule_table.check_update("decrease", {"nonsense": 1})
    with pytest.raises(BadParams, match=r"ratio must be between 0 and 1 x rated voltage, not 1\.5"):
        rule_table.check_update("voltage_loss", {"ratio": 1.5})
    with pytest.raises(BadParams, match="between"):
        rule_table.check_update("flying", {"factor": -1})
    with pytest.raises(BadParams, match="whole number of days"):
        rule_table.check_update("zero_consumption", {"days": 2.5})
    with pytest.raises(BadParams, match="between"):
        rule_table.check_update("zero_consumption", {"days": float("inf")})
    with pytest.raises(BadParams, match="areas"):
        rule_table.check_update("line_loss", {"max_ratio": 0.2}, "commercial")
    assert rule_table.check_update("line_loss", {"max_ratio": 0.2}).scope == "area"


def test_describe_is_the_table_as_json() -> None:
    described = json.loads(json.dumps(rule_table.describe()))
    assert [d["name"] for d in described] == [r.name for r in RULES]
    spike = next(d for d in described if d["name"] == "spike")
    assert spike["scope"] == "meter" and spike["label"]["en"] == "Consumption spike"
    assert {p["name"]: p["default"] for p in spike["params"]} == rules.DEFAULTS["spike"]
    assert all({"min", "max", "unit", "integer"} <= set(p) for p in spike["params"])
