"""The audit log, read back (admin only): every recorded change, sign-in event, check run,
command and export, filtered by record, actor, action and time, newest first, paged. The
rows are written where the things happen; :mod:`server.db.queries.audit_log` reads them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime

from server.db.queries import audit_log as q

from ..contract import Paging, one_of
from ..deps import Admin, Db
from ..models import AuditPage
from .export import FILE_RESPONSES, Out, listing

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


@router.get("/audit", response_model=AuditPage, responses=FILE_RESPONSES)
def audit_log(
    principal: Admin,
    conn: Db,
    page: Paging,
    out: Out,
    entity: Text = None,
    entity_id: Text = None,
    actor: Text = None,
    action: Text = None,
    start: Annotated[
        AwareDatetime | None, Query(description="from this instant on (inclusive)")
    ] = None,
    end: Annotated[AwareDatetime | None, Query(description="before this instant")] = None,
    since: Annotated[
        AwareDatetime | None,
        Query(alias="from", deprecated=True, description="old name of start"),
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(alias="to", deprecated=True, description="old name of end")
    ] = None,
) -> Any:
    """Audit rows newest first. ``start`` (inclusive) and ``end`` (exclusive) are ISO 8601
    instants with an offset (``2026-12-01T00:00:00+08:00``; ``from`` and ``to`` are their
    deprecated names); the other filters match exactly. ``format=csv|xlsx`` answers all
    matching rows as a file (the before and after values as readable text)."""
    start = one_of("start", start, "from", since)
    end = one_of("end", end, "to", until)
    if start is not None and end is not None and start >= end:
        raise HTTPException(422, "start: must be before end")

    def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows, total = q.listing(
            conn,
            q.AuditFilter(entity, entity_id, actor, action, start, end),
            limit=limit,
            offset=offset,
        )
        return [
            {**r, "before": _without_secrets(r["before"]), "after": _without_secrets(r["after"])}
            for r in rows
        ], total

    return listing(
        conn,
        principal,
        out,
        page,
        fetch,
        report="audit",
        what=("审计日志", "Audit log"),
        scope={
            "entity": entity,
            "entity_id": entity_id,
            "actor": actor,
            "action": action,
            "start": start,
            "end": end,
        },
        columns=("id", "at", "actor", "action", "entity", "entity_id", "before", "after"),
    )
