"""Rule parameters: the thresholds each anomaly rule uses, in general and per customer
class, read by viewers and set by admins (every change audited)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from server.auth.deps import require_role
from server.auth.roles import Principal
from server.checks import rules
from server.db.queries.archive import audit

from ..actor import current_actor
from ..models import RuleParams, RuleParamsSet

router = APIRouter(prefix="/api", tags=["rules"])


class ParamsIn(BaseModel):
    params: dict[str, float]


CustomerClass = Literal["*", "residential", "commercial", "industrial", "agricultural", "other"]


@router.get("/rule-params", response_model=RuleParams)
def get_params(request: Request, _: Principal = Depends(require_role("viewer"))) -> dict[str, Any]:
    """Every rule's parameters in force: general, and per customer class where overridden."""
    with request.app.state.pool.connection() as conn:
        stored = rules.load_params(conn)
    out: dict[str, Any] = {}
    for rule in rules.DEFAULTS:
        by_class = {
            c: rules.effective_params(stored, rule, c)
            for c in rules.CUSTOMER_CLASSES
            if rule in stored.get(c, {})
        }
        out[rule] = {
            "defaults": rules.DEFAULTS[rule],
            "general": rules.effective_params(stored, rule),
            "by_customer_class": by_class,
        }
    return {"rules": out}


@router.put("/rule-params/{rule}", response_model=RuleParamsSet)
def set_params(
    rule: str,
    body: ParamsIn,
    request: Request,
    customer_class: CustomerClass = Query("*"),
    principal: Principal = Depends(require_role("admin")),
) -> dict[str, Any]:
    """Set a rule's parameters for every customer class (``*``) or for one class."""
    if rule not in rules.DEFAULTS:
        raise HTTPException(404, f"no rule {rule!r} (rules: {', '.join(rules.DEFAULTS)})")
    unknown = set(body.params) - set(rules.DEFAULTS[rule])
    if unknown:
        raise HTTPException(422, f"rule {rule} has no parameter {sorted(unknown)[0]!r}")
    if customer_class != "*" and rule in rules.AREA_RULES:
        raise HTTPException(
            422,
            f"rule {rule} judges transformer areas, not customers: its "
            "parameters cannot differ by customer class",
        )
    actor = current_actor(principal)
    with request.app.state.pool.connection() as conn, conn.transaction():
        before = conn.execute(
            "SELECT params FROM rule_params WHERE rule = %s AND customer_class = %s",
            (rule, customer_class),
        ).fetchone()
        conn.execute(
            "INSERT INTO rule_params (rule, customer_class, params, updated_by) "
            "VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (rule, customer_class) DO UPDATE SET params = "
            "excluded.params, updated_by = excluded.updated_by, updated_at = now()",
            (rule, customer_class, Jsonb(body.params), actor),
        )
        audit(
            conn,
            actor=actor,
            action="rule_params.update",
            entity="rule_params",
            entity_id=f"{rule}/{customer_class}",
            before=before[0] if before else None,
            after=body.params,
        )
        stored = rules.load_params(conn)
    return {
        "rule": rule,
        "customer_class": customer_class,
        "params": rules.effective_params(stored, rule, customer_class),
    }
