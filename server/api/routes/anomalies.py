"""The anomaly archive: the list (filtered, paged, exportable), staff's status decisions
(checked against :mod:`server.anomaly_workflow` and audited), and running the rules for a
day on demand. The rules themselves are :mod:`server.checks.rules`; their parameters are
:mod:`server.api.routes.rules`."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from server.anomaly_workflow import TransitionRefused, check_transition
from server.audit import record_check_run, record_export
from server.checks import rules
from server.db.queries import anomalies as q
from server.db.queries import org
from server.db.queries.archive import audit

from ..actor import current_actor
from ..deps import Db, Operator, ReportDay, SettingsDep, Viewer
from ..models import Anomalies, Anomaly, ChecksRun
from .export import FILE_RESPONSES, Format, export

router = APIRouter(prefix="/api", tags=["anomalies"])


@router.get("/anomalies", response_model=Anomalies, responses=FILE_RESPONSES)
def anomalies(
    principal: Viewer,
    conn: Db,
    status: str | None = None,
    rule: str | None = None,
    area: str | None = None,
    meter: str | None = None,
    limit: int = Query(100, ge=1, le=100_000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    format: Format = "json",
    area_id: str | None = None,
    meter_id: str | None = None,
    org_id: str | None = None,
    assigned_to: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Any:
    """Anomalies, newest last day first. ``start``/``end``: those whose days overlap the
    range; ``org_id``: those of the areas of the unit and the units below it;
    ``assigned_to``: a user's. ``area`` and ``meter`` are the older names of ``area_id``
    and ``meter_id``."""
    filters: dict[str, Any] = {
        "status": status,
        "rule": rule,
        "area_id": area_id or area,
        "meter_id": meter_id or meter,
        "assigned_to": assigned_to,
        "start": start,
        "end": end,
    }
    if org_id is not None:
        units = org.org_units(conn)
        if org_id not in {u["id"] for u in units}:
            raise HTTPException(404, f"no org unit {org_id!r}")
        filters["area_ids"] = org.areas_of(conn, org.descendants(units, org_id))
    rows, total = q.listing(conn, filters=filters, limit=limit, offset=offset)
    by_rule = q.open_by_rule(conn)
    if format != "json":
        record_export(
            conn,
            actor=current_actor(principal),
            report="anomalies",
            fmt=format,
            rows=rows,
            filters={**filters, "limit": limit, "offset": offset},
        )
        return export(rows, format, "anomalies")
    return Anomalies.model_validate({"items": rows, "total": total, "open_by_rule": by_rule})


class StatusIn(BaseModel):
    status: Literal["confirmed", "dismissed", "closed", "open"]
    comment: str = Field(min_length=1, max_length=2000)


@router.post("/anomalies/{anomaly_id}/status")
def set_status(principal: Operator, anomaly_id: int, body: StatusIn, conn: Db) -> Anomaly:
    actor = current_actor(principal)
    with conn.transaction():
        row = q.lock(conn, anomaly_id=anomaly_id)
        if row is None:
            raise HTTPException(404, f"no anomaly {anomaly_id}")
        try:
            check_transition(row["status"], body.status)
        except TransitionRefused as exc:
            raise HTTPException(409, str(exc)) from None
        after = q.set_status(
            conn, anomaly_id=anomaly_id, status=body.status, comment=body.comment, actor=actor
        )
        audit(
            conn,
            actor=actor,
            action="anomaly.status",
            entity="anomalies",
            entity_id=str(anomaly_id),
            before=row,
            after=after,
        )
    return Anomaly.model_validate(after)


@router.post("/checks/run")
def run_checks(principal: Operator, conn: Db, settings: SettingsDep, d: ReportDay) -> ChecksRun:
    run = rules.run_rules(conn, d, settings.utility_timezone)
    record_check_run(
        conn, actor=current_actor(principal), day=d, found=run.found, failed=run.failed
    )
    return ChecksRun(date=d, found=run.found, failed=run.failed)
