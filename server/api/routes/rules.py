"""The anomaly rules: the rule table (names, labels, scope, quantities, parameters with
defaults and ranges, from :data:`server.checks.rule_table.RULES`), and the parameters in
force, in general and per customer class, read by viewers and set by admins (every change
audited)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from protocols.vocabulary import CustomerClass
from server.checks import rule_table, rules
from server.db.queries import rule_params as q
from server.db.queries.archive import audit

from ..actor import current_actor
from ..deps import Admin, Db, Viewer
from ..models import RuleParams, RuleParamsInForce, RuleParamsSet, RuleTable

router = APIRouter(prefix="/api", tags=["rules"])


class ParamsIn(BaseModel):
    params: dict[str, float]


ClassOrAll = Literal["*"] | CustomerClass


@router.get("/rules")
def list_rules(_: Viewer) -> RuleTable:
    """The rule table: names, labels, scope, quantities, parameters with defaults and ranges."""
    return RuleTable(rules=rule_table.describe())


@router.get("/rule-params")
def get_params(_: Viewer, conn: Db) -> RuleParams:
    """Every rule's parameters in force: general, and per customer class where overridden."""
    stored = rules.load_params(conn)
    out: dict[str, RuleParamsInForce] = {}
    for rule in rules.DEFAULTS:
        by_class = {
            c: rules.effective_params(stored, rule, c)
            for c in rules.CUSTOMER_CLASSES
            if rule in stored.get(c, {})
        }
        out[rule] = RuleParamsInForce(
            defaults=rules.DEFAULTS[rule],
            general=rules.effective_params(stored, rule),
            by_customer_class=by_class,
        )
    return RuleParams(rules=out)


@router.put("/rule-params/{rule}")
def set_params(
    rule: str,
    body: ParamsIn,
    principal: Admin,
    conn: Db,
    customer_class: ClassOrAll = Query("*"),
) -> RuleParamsSet:
    """Set a rule's parameters for every customer class (``*``) or for one class."""
    try:
        rule_table.check_update(rule, body.params, customer_class)
    except rule_table.UnknownRule as exc:
        raise HTTPException(404, str(exc)) from exc
    except rule_table.BadParams as exc:
        raise HTTPException(422, str(exc)) from exc
    actor = current_actor(principal)
    with conn.transaction():
        before = q.stored(conn, rule=rule, customer_class=customer_class)
        q.put(conn, rule=rule, customer_class=customer_class, params=body.params, actor=actor)
        audit(
            conn,
            actor=actor,
            action="rule_params.update",
            entity="rule_params",
            entity_id=f"{rule}/{customer_class}",
            before=before,
            after=body.params,
        )
        stored = rules.load_params(conn)
    return RuleParamsSet(
        rule=rule,
        customer_class=customer_class,
        params=rules.effective_params(stored, rule, customer_class),
    )
