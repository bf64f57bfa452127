"""The audit log, read back (admin only): every recorded change, sign-in event, check run,
command and export, filtered by record, actor, action and time, newest first, paged. The
rows are written where the things happen; :mod:`server.db.queries.audit_log` reads them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime

from server.db.queries import audit_log as q

from ..deps import Admin, Db
from ..models import AuditEntry, AuditPage

router = APIRouter(prefix="/api", tags=["audit"])

#: never shown, whatever a writer put into a row (the user writer already leaves them out)
SECRET_KEYS = frozenset({"password_hash", "password", "token", "token_generation"})

Text = Annotated[str | None, Query(min_length=1, max_length=200)]


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


@router.get("/audit")
def audit_log(
    _: Admin,
    conn: Db,
    entity: Text = None,
    entity_id: Text = None,
    actor: Text = None,
    action: Text = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> AuditPage:
    """Audit rows newest first. ``from`` (inclusive) and ``to`` (exclusive) are ISO 8601
    instants with an offset (``2026-12-01T00:00:00+08:00``); the other filters match
    exactly."""
    if since is not None and until is not None and since >= until:
        raise HTTPException(422, "from: must be before to")
    rows, total = q.listing(
        conn,
        q.AuditFilter(entity, entity_id, actor, action, since, until),
        limit=limit,
        offset=offset,
    )
    items = [
        AuditEntry.model_validate(
            {**r, "before": _without_secrets(r["before"]), "after": _without_secrets(r["after"])}
        )
        for r in rows
    ]
    return AuditPage(items=items, total=total, limit=limit, offset=offset)
