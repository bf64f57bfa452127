"""The anomaly archive: the list (filtered, paged, exportable), staff's status decisions
(checked against :mod:`server.anomaly_workflow` and audited), and running the rules for a
day on demand. The rules themselves are :mod:`server.checks.rules`; their parameters are
:mod:`server.api.routes.rules`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from server.anomaly_workflow import TransitionRefused, check_transition
from server.audit import record_check_run
from server.checks import rules
from server.db.queries import anomalies as q
from server.db.queries import org
from server.db.queries.archive import audit

from ..actor import current_actor
from ..contract import AnomalyStatus, Paging, RuleName, one_of
from ..deps import Db, Operator, ReportDay, SettingsDep, Viewer
from ..models import Anomalies, Anomaly, ChecksRun
from .export import FILE_RESPONSES, Out, listing

router = APIRouter(prefix="/api", tags=["anomalies"])

ANOMALY_COLUMNS = (
    "id",
    "rule",
    "meter_id",
    "area_id",
    "first_date",
    "last_date",
    "status",
    "assigned_to",
    "comment",
    "evidence",
    "params",
)


@router.get("/anomalies", response_model=Anomalies, responses=FILE_RESPONSES)
def anomalies(
    principal: Viewer,
    conn: Db,
    page: Paging,
    out: Out,
    status: Annotated[AnomalyStatus | None, Query(description="only this status")] = None,
    rule: Annotated[RuleName | None, Query(description="only this rule")] = None,
    area_id: Annotated[str | None, Query(description="only this area's")] = None,
    meter_id: Annotated[str | None, Query(description="only this meter's")] = None,
    org_id: Annotated[
        str | None, Query(description="only the areas of this unit and the units below it")
    ] = None,
    assigned_to: Annotated[
        str | None, Query(description="only those assigned to this user")
    ] = None,
    start: Annotated[
        date | None, Query(description="only those whose days reach this date or later")
    ] = None,
    end: Annotated[
        date | None, Query(description="only those whose days begin this date or earlier")
    ] = None,
    area: Annotated[str | None, Query(deprecated=True, description="old name of area_id")] = None,
    meter: Annotated[str | None, Query(deprecated=True, description="old name of meter_id")] = None,
) -> Any:
    """The anomaly archive, newest last date first, filtered by status, rule, area, meter,
    organisation unit (its areas and those of the units below it), assignee and dates
    (``start``/``end``: the records whose days overlap the range), paged, with the open or
    confirmed records per rule; ``format=csv|xlsx`` answers all matching records as a file.
    ``area`` and ``meter`` are deprecated spellings of ``area_id`` and ``meter_id``."""
    if start is not None and end is not None and end < start:
        raise HTTPException(422, f"end: {end} is before start {start}")
    filters: dict[str, Any] = {
        "status": status,
        "rule": rule.value if rule is not None else None,
        "area_id": one_of("area_id", area_id, "area", area),
        "meter_id": one_of("meter_id", meter_id, "meter", meter),
        "assigned_to": assigned_to,
        "start": start,
        "end": end,
    }
    scope = {**filters, "org_id": org_id}
    if org_id is not None:
        units = org.org_units(conn)
        if org_id not in {u["id"] for u in units}:
            raise HTTPException(404, f"no org unit {org_id!r}")
        filters["area_ids"] = org.areas_of(conn, org.descendants(units, org_id))
    extra = {"open_by_rule": q.open_by_rule(conn)} if out.format == "json" else {}
    return listing(
        conn,
        principal,
        out,
        page,
        lambda limit, offset: q.listing(conn, filters=filters, limit=limit, offset=offset),
        report="anomalies",
        what=("异常档案", "Anomalies"),
        scope=scope,
        columns=ANOMALY_COLUMNS,
        extra=extra,
    )


class StatusIn(BaseModel):
    status: Literal["confirmed", "dismissed", "closed", "open"]
    comment: str = Field(min_length=1, max_length=2000)


@router.post("/anomalies/{anomaly_id}/status")
def set_status(principal: Operator, anomaly_id: int, body: StatusIn, conn: Db) -> Anomaly:
    """Move an anomaly along its workflow (open → confirmed / dismissed → closed, or back
    to open) with a comment; 409 for a move the workflow does not allow. Audited."""
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
    """Run every anomaly rule for the data date now (each rule on its own: a failing rule
    is named in ``failed`` and costs only its own findings)."""
    run = rules.run_rules(conn, d, settings.utility_timezone)
    record_check_run(
        conn, actor=current_actor(principal), day=d, found=run.found, failed=run.failed
    )
    return ChecksRun(date=d, found=run.found, failed=run.failed)
