"""Anomaly work (issue 19) beside the list (:mod:`server.api.routes.anomalies`): one
record with its evidence as chart data, its history (every status change, assignment and
comment, who and when), assignment to a person, comments, batch decisions
(confirm/dismiss/close checked one by one against :mod:`server.anomaly_workflow`), and
statistics by rule or area over time. Every change is an audit row (entity ``anomalies``),
and the history is read back from those rows. SQL in :mod:`server.db.queries.anomaly_work`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from server.anomaly_workflow import TransitionRefused, check_transition
from server.checks.rule_table import BY_NAME
from server.db.queries import anomalies as qa
from server.db.queries import anomaly_work as q
from server.db.queries.archive import audit

from ..actor import current_actor
from ..deps import Db, Operator, Viewer, Yesterday
from ..privacy import redact_meter
from ..workbench import WorkBody, body, check_range

router = APIRouter(prefix="/api", tags=["anomaly work"])

#: the most records one batch decision may change
BATCH_MAX = 500
Decision = Literal["confirmed", "dismissed", "closed"]


@router.get("/anomalies/stats")
def anomaly_stats(
    _: Viewer,
    conn: Db,
    yesterday: Yesterday,
    start: date | None = None,
    end: date | None = None,
    by: Literal["rule", "area"] = "rule",
) -> WorkBody:
    """Per rule (or area): the anomalies whose days overlap ``start``..``end`` (default the
    30 days up to yesterday; at most 366) by their status now, how many are assigned, and
    ``days``: how many began on each day."""
    last = end or yesterday
    first = start or last - timedelta(days=29)
    check_range(first, last, most_days=366)
    items = q.stats(conn, first, last, by)
    return body(start=first, end=last, by=by, items=items, total=len(items))


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[int] = Field(min_length=1)
    status: Decision
    comment: str = Field(min_length=1, max_length=2000)


@router.post("/anomalies/batch")
def anomaly_batch(principal: Operator, payload: BatchIn, conn: Db) -> WorkBody:
    """Confirm, dismiss or close several anomalies with one comment (at most 500). Each is
    decided alone (the workflow may refuse some: those say why and stay as they were);
    each change is audited as a single one is."""
    if len(payload.ids) > BATCH_MAX:
        raise HTTPException(
            422, f"ids: {len(payload.ids)} anomalies exceed the limit of {BATCH_MAX} per batch"
        )
    actor = current_actor(principal)
    out: list[dict[str, Any]] = []
    with conn.transaction():
        for anomaly_id in dict.fromkeys(payload.ids):
            row = qa.lock(conn, anomaly_id=anomaly_id)
            if row is None:
                out.append({"id": anomaly_id, "ok": False, "error": f"no anomaly {anomaly_id}"})
                continue
            try:
                check_transition(row["status"], payload.status)
            except TransitionRefused as exc:
                out.append(
                    {"id": anomaly_id, "ok": False, "status": row["status"], "error": str(exc)}
                )
                continue
            after = qa.set_status(
                conn,
                anomaly_id=anomaly_id,
                status=payload.status,
                comment=payload.comment,
                actor=actor,
            )
            audit(
                conn,
                actor=actor,
                action="anomaly.status",
                entity="anomalies",
                entity_id=str(anomaly_id),
                before=row,
                after={**(after or {}), "batch": True},
            )
            out.append({"id": anomaly_id, "ok": True, "status": payload.status})
    done = sum(1 for r in out if r["ok"])
    return body(items=out, done=done, refused=len(out) - done)


def _series(conn: Db, row: dict[str, Any]) -> dict[str, Any]:
    """The evidence as chart data: per day of the window, the meter's registers of the
    rule's quantities and its daily consumption, or the area's supply, sales and loss;
    ``marked`` the days the anomaly covers."""
    start, end = q.window(row["first_date"], row["last_date"])
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    marked = [d for d in days if row["first_date"] <= d <= row["last_date"]]
    series: list[dict[str, Any]] = []
    if row["meter_id"] is not None:
        rule = BY_NAME.get(row["rule"])
        wanted = list(dict.fromkeys(["energy_import_total", *(rule.quantities if rule else ())]))
        regs = q.meter_series(conn, row["meter_id"], wanted, start - timedelta(days=1), end)
        for qty in wanted:
            if regs[qty] or qty == "energy_import_total":
                series.append(
                    {"name": qty, "kind": "register", "values": [regs[qty].get(d) for d in days]}
                )
        total = regs["energy_import_total"]
        use = [
            round(total[d] - total[d - timedelta(days=1)], 4)
            if d in total and d - timedelta(days=1) in total
            else None
            for d in days
        ]
        series.append({"name": "consumption", "kind": "daily", "unit": "kWh", "values": use})
    elif row["area_id"] is not None:
        per = q.area_series(conn, row["area_id"], start, end)
        supply = [per.get(d, {}).get("supply") for d in days]
        sales = [per.get(d, {}).get("sales") for d in days]
        loss = [
            round((s - c) / s, 6) if s and c is not None and s > 0 else None
            for s, c in zip(supply, sales, strict=True)
        ]
        series += [
            {"name": "supply", "kind": "daily", "unit": "kWh", "values": supply},
            {"name": "sales", "kind": "daily", "unit": "kWh", "values": sales},
            {"name": "loss_rate", "kind": "ratio", "values": loss},
        ]
    return {"days": days, "marked": marked, "series": series}


def _found(conn: Db, anomaly_id: int) -> dict[str, Any]:
    row = q.get(conn, anomaly_id)
    if row is None:
        raise HTTPException(404, f"no anomaly {anomaly_id}")
    return row


@router.get("/anomalies/{anomaly_id}")
def anomaly_detail(principal: Viewer, anomaly_id: int, conn: Db) -> WorkBody:
    """The record (status, comment, ``assigned_to``, ``evidence`` as the rule stored it)
    with ``meter`` (the archive card; personal details for operators), ``area_name`` and
    ``evidence_series``: ``days``, the ``marked`` days it covers, and ``series`` of values
    per day (a meter's registers and consumption; an area's supply, sales and loss)."""
    row = _found(conn, anomaly_id)
    card = q.meter_card(conn, row["meter_id"]) if row["meter_id"] else None
    rule = BY_NAME.get(row["rule"])
    return body(
        **row,
        rule_label_zh=rule.label_zh if rule else None,
        rule_label_en=rule.label_en if rule else None,
        meter=redact_meter(card, principal) if card else None,
        evidence_series=_series(conn, row),
    )


def _entry(a: dict[str, Any]) -> dict[str, Any]:
    before, after = a["before"] or {}, a["after"] or {}
    kind = a["action"].removeprefix("anomaly.")
    out: dict[str, Any] = {"at": a["at"], "actor": a["actor"], "action": kind}
    if kind == "status":
        out.update(**{"from": before.get("status"), "to": after.get("status")})
        out["comment"] = after.get("comment")
        out["batch"] = bool(after.get("batch"))
    elif kind == "assign":
        out.update(**{"from": before.get("assigned_to"), "to": after.get("assigned_to")})
        out["comment"] = after.get("comment")
    else:
        out["comment"] = after.get("comment")
    return out


@router.get("/anomalies/{anomaly_id}/history")
def anomaly_history(_: Viewer, anomaly_id: int, conn: Db) -> WorkBody:
    """Oldest first: ``created`` (when a rule found it), then every status change
    (``from``/``to``, comment), assignment (``from``/``to``) and comment, with who and when,
    as the audit log holds them."""
    row = _found(conn, anomaly_id)
    items = [
        {
            "at": row["first_seen"],
            "actor": "checks",
            "action": "created",
            "to": "open",
            "comment": None,
        }
    ]
    items += [_entry(a) for a in q.history(conn, anomaly_id)]
    return body(id=anomaly_id, items=items, total=len(items))


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assigned_to: str | None = Field(max_length=64)
    comment: str | None = Field(None, max_length=2000)


@router.post("/anomalies/{anomaly_id}/assign")
def anomaly_assign(principal: Operator, anomaly_id: int, payload: AssignIn, conn: Db) -> WorkBody:
    """Give the anomaly to a person (an active operator or admin), or take it back
    (``assigned_to`` null). A closed anomaly is not reassigned (409). Audited."""
    actor = current_actor(principal)
    with conn.transaction():
        row = qa.lock(conn, anomaly_id=anomaly_id)
        if row is None:
            raise HTTPException(404, f"no anomaly {anomaly_id}")
        if row["status"] == "closed":
            raise HTTPException(409, f"anomaly {anomaly_id} is closed: nobody works on it")
        if payload.assigned_to is not None:
            role = q.active_user(conn, payload.assigned_to)
            if role is None:
                raise HTTPException(422, f"assigned_to: no active user {payload.assigned_to!r}")
            if role == "viewer":
                raise HTTPException(
                    422, f"assigned_to: {payload.assigned_to!r} is a viewer and cannot act on it"
                )
        after = q.assign(conn, anomaly_id, payload.assigned_to, actor)
        audit(
            conn,
            actor=actor,
            action="anomaly.assign",
            entity="anomalies",
            entity_id=str(anomaly_id),
            before=row,
            after={**(after or {}), "comment": payload.comment},
        )
    return body(**(after or {}))


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=2000)


@router.post("/anomalies/{anomaly_id}/comments", status_code=201)
def anomaly_comment(principal: Operator, anomaly_id: int, payload: CommentIn, conn: Db) -> WorkBody:
    """A comment on the anomaly, kept in its history (the audit log). The status stays."""
    actor = current_actor(principal)
    with conn.transaction():
        if q.get(conn, anomaly_id) is None:
            raise HTTPException(404, f"no anomaly {anomaly_id}")
        audit(
            conn,
            actor=actor,
            action="anomaly.comment",
            entity="anomalies",
            entity_id=str(anomaly_id),
            before=None,
            after={"comment": payload.comment},
        )
        entry = q.history(conn, anomaly_id)[-1]
    return body(**_entry(entry))
