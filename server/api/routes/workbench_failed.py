"""Failed meters as a clerk works them (issue 19): any date, filtered by unit, area,
concentrator, protocol and reason category, paged on the server, with each meter's
consecutive unread days and the last staff re-read that asked for it; staff re-read batches
(a list of meter-days) whose requests and outcomes are kept and read back; and the
on-demand read (召测) of one meter with its values as they arrive.

The failed meter-days and their reasons are :func:`server.checks.completeness.failed_meters`;
this room sorts them into the categories a clerk acts on (:data:`CATEGORIES`). SQL in
:mod:`server.db.queries.failed`."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from protocols import wire
from protocols.vocabulary import REREADABLE_PROTOCOLS
from server.checks import completeness, reread, reread_reasons
from server.db.queries import failed as q
from server.db.queries import org as qo
from server.db.queries.archive import audit
from server.gateways.commands import CommandRefused, queue_command

from ..actor import current_actor
from ..contract import Page, Protocol
from ..deps import Db, LocalToday, Operator, ReportDay, SettingsDep, Viewer
from ..privacy import redact_meter
from ..workbench import Limit, Offset, WorkPage, body
from ..workbench_models import ReadNowQueued, ReadNowResult, RereadBatch
from .export import FILE_RESPONSES, Out, listing

router = APIRouter(prefix="/api", tags=["failed meters"])

#: what a clerk does about a failed meter, by category
CATEGORIES = (
    "concentrator_offline",  # check the concentrator (power, SIM, antenna)
    "meter_not_answering",  # check the meter and its line
    "wrong_answers",  # check the archive address / wiring (another meter answers)
    "not_rereadable",  # the protocol keeps no history: the day is lost, read today
    "archive_problem",  # never read, or its readings quarantined: fix the archive
    "other",  # no reading and no known cause yet
)
Category = Literal[
    "concentrator_offline",
    "meter_not_answering",
    "wrong_answers",
    "not_rereadable",
    "archive_problem",
    "other",
]
#: the failed list's reason codes (issue 18, server.checks.completeness.failed_meters) -> category
CODE_CATEGORY = {
    "concentrator_offline": "concentrator_offline",
    "meter_not_answering": "meter_not_answering",
    "wrong_answers": "wrong_answers",
    "not_rereadable": "not_rereadable",
    "never_read": "archive_problem",
    "quarantined": "archive_problem",
    "no_reading": "other",
}
#: the older reason texts (before the codes) -> code, by their start
_TEXT_CODE = (
    ("never read since installed", "never_read"),
    ("reading quarantined", "quarantined"),
    ("concentrator offline", "concentrator_offline"),
    ("wrong answers", "wrong_answers"),
    ("meter not answering", "meter_not_answering"),
    ("no reading received", "no_reading"),
)
NOT_REREADABLE_TEXT = "terminal freeze missed"
#: the export's first columns (the rest follow as the rows have them)
FAILED_COLUMNS = (
    "meter_id",
    "address",
    "customer_name",
    "area_id",
    "gateway_id",
    "protocol",
    "reason",
    "reason_text",
    "consecutive_days",
    "last_good_date",
    "last_good_value",
    "gateway_online",
    "reread",
)
#: the batch export's columns
BATCH_COLUMNS = (
    "meter_id",
    "date",
    "gateway_id",
    "outcome",
    "reason_text",
    "reason_code",
    "reason",
    "command_id",
    "command_status",
    "finished_at",
)


def classify(row: dict[str, Any]) -> dict[str, Any]:
    """The failed-list row with ``code`` (the reason code), ``reason`` (its category),
    ``reason_text`` and ``rereadable``, whether the list gives codes or texts."""
    raw = str(row.get("reason") or "")
    text = str(row.get("reason_text") or raw)
    if raw in CODE_CATEGORY:
        code = raw
    else:
        code = next((c for t, c in _TEXT_CODE if raw.startswith(t)), "no_reading")
        if NOT_REREADABLE_TEXT in raw:
            code = "not_rereadable"
    rereadable = row.get("rereadable")
    if rereadable is None:
        rereadable = row.get("protocol") in REREADABLE_PROTOCOLS
    out = dict(row)
    out.update(code=code, reason=CODE_CATEGORY[code], reason_text=text, rereadable=rereadable)
    return out


@router.get("/workbench/failed", response_model=WorkPage, responses=FILE_RESPONSES)
def failed_meters(
    principal: Viewer,
    conn: Db,
    settings: SettingsDep,
    out: Out,
    d: ReportDay,
    org_id: str | None = None,
    area_id: str | None = None,
    gateway_id: str | None = None,
    protocol: Protocol | None = None,
    reason: Category | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """The meters due and unread on ``date`` (default yesterday), by area and id, each with
    ``reason`` (the category: concentrator_offline, meter_not_answering, wrong_answers,
    not_rereadable, archive_problem, other), ``code`` and ``reason_text`` (the detail),
    ``consecutive_days`` unread up to the date, and ``reread`` (the last staff re-read batch
    that asked for the day, with its command's status). ``by_reason`` counts the categories
    over the filtered day before the ``reason`` filter."""
    units = qo.org_units(conn) if org_id is not None else []
    if org_id is not None and org_id not in {u["id"] for u in units}:
        raise HTTPException(404, f"no org unit {org_id!r}")
    if area_id is not None and not qo.area_exists(conn, area_id):
        raise HTTPException(404, f"no area {area_id!r}")
    if gateway_id is not None and not qo.gateway_exists(conn, gateway_id):
        raise HTTPException(404, f"no gateway {gateway_id!r}")
    rows = completeness.failed_meters(
        conn,
        d,
        tz=settings.utility_timezone,
        limit=10_000_000,
        offset=0,
        area=area_id,
        gateway=gateway_id,
        lang=out.lang,
    )
    rows = [classify(r) for r in rows if protocol is None or r["protocol"] == protocol]
    if org_id is not None:
        under = qo.descendants(units, org_id)
        unit_of = {a: o for a, o in conn.execute("SELECT id, org_unit_id FROM areas").fetchall()}
        rows = [r for r in rows if unit_of.get(r["area_id"]) in under]
    by_reason = {c: 0 for c in CATEGORIES}
    for r in rows:
        by_reason[r["reason"]] += 1
    if reason is not None:
        rows = [r for r in rows if r["reason"] == reason]

    def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """A page of the rows with what a clerk needs beside each (asked for those only)."""
        shown = rows[offset : offset + limit]
        ids = [r["meter_id"] for r in shown]
        runs = q.consecutive_days(conn, ids, d)
        details = q.meter_details(conn, ids)
        asked = q.latest_batch_items(conn, ids, d)
        items = []
        for r in shown:
            r.update(details.get(r["meter_id"], {}))
            r["consecutive_days"] = runs.get(r["meter_id"])
            r["reread"] = asked.get(r["meter_id"])
            items.append(redact_meter(r, principal))
        return items, len(rows)

    return listing(
        conn,
        principal,
        out,
        Page(limit, offset),
        fetch,
        report="failed",
        what=("失败电表清单", "Failed meters"),
        scope={
            "date": d,
            "org_id": org_id,
            "area_id": area_id,
            "gateway_id": gateway_id,
            "protocol": protocol,
            "reason": reason,
        },
        columns=FAILED_COLUMNS,
        extra={"date": d, "by_reason": by_reason},
    )


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meter_id: str = Field(min_length=1, max_length=64)
    date: date


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[BatchItem] = Field(min_length=1)


@router.post("/reread/batches", status_code=202, response_model=RereadBatch)
def reread_batch(
    principal: Operator, payload: BatchIn, conn: Db, today: LocalToday
) -> dict[str, Any]:
    """Re-read a list of meter-days (1 to 10,000, each within the meters' 62-day freeze history;
    repeats asked once). Each meter-day of a meter with a freeze history (DL/T 645-2007, 698.45)
    goes in one backfill command per concentrator (one already asked by an unanswered command
    stays with it); a meter that keeps no freeze history (DL/T 645-1997, Modbus) is recorded as
    ``not_rereadable`` and not sent. The batch and its items are kept: ``GET
    /api/reread/batches/{id}`` gives each item's outcome, after any reload. Audited."""
    if len(payload.items) > wire.MAX_COMMAND_ITEMS:
        raise HTTPException(
            422,
            f"items: {len(payload.items)} meter-days exceed the limit of "
            f"{wire.MAX_COMMAND_ITEMS} per request; send them in several requests",
        )
    unique = list(dict.fromkeys((it.meter_id, it.date) for it in payload.items))
    known = q.meters_for_reread(conn, sorted({m for m, _ in unique}))
    for i, it in enumerate(payload.items):
        if not 1 <= (today - it.date).days <= reread.HISTORY_DAYS:
            raise HTTPException(
                422,
                f"items[{i}].date: {it.date} is outside the meters' "
                f"{reread.HISTORY_DAYS}-day freeze history (today is {today})",
            )
        gw = known.get(it.meter_id)
        if gw is None or gw[0] is None:
            raise HTTPException(
                422,
                f"items[{i}].meter_id: {it.meter_id!r} is not in the archive or has no "
                "concentrator",
            )
    actor = current_actor(principal)
    sendable = [(m, known[m][0] or "", d) for m, d in unique if known[m][1] in REREADABLE_PROTOCOLS]
    with conn.transaction():
        sent = reread.request(
            conn, sendable, requested_by=actor, per_gateway=len(sendable), beside_pending=True
        )
        commands = q.request_commands(conn, [(m, d) for m, _, d in sendable])
        rows = [
            (
                m,
                d,
                known[m][0] or "",
                commands.get((m, d)) if known[m][1] in REREADABLE_PROTOCOLS else None,
            )
            for m, d in unique
        ]
        batch = q.insert_batch(conn, requested_by=actor, items=rows)
        summary = {
            "items": len(rows),
            "requested": sent.requested,
            "already_pending": sent.already_pending,
            "not_rereadable": sum(1 for r in rows if r[3] is None),
        }
        audit(
            conn,
            actor=actor,
            action="reread.batch",
            entity="reread_batches",
            entity_id=str(batch["id"]),
            before=None,
            after=summary,
        )
    return body(**batch, **{k: v for k, v in summary.items() if k != "items"})


@router.get("/reread/batches", response_model=WorkPage, responses=FILE_RESPONSES)
def reread_batches(
    principal: Viewer,
    conn: Db,
    out: Out,
    requested_by: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Staff re-read batches, newest first, each with the count of its items' outcomes
    (read, pending, sent, failed, expired, not_rereadable). ``format=csv|xlsx``: every batch as a
    file, one column per outcome."""

    def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows, total = q.batches(conn, requested_by=requested_by, limit=limit, offset=offset)
        if out.format != "json":
            rows = [
                {**{k: v for k, v in r.items() if k != "outcome"}, **r["outcome"]} for r in rows
            ]
        return rows, total

    return listing(
        conn,
        principal,
        out,
        Page(limit, offset),
        fetch,
        report="reread-batches",
        what=("补抄批次", "Re-read batches"),
        scope={"requested_by": requested_by},
        columns=("id", "requested_at", "requested_by", "items", *q.OUTCOMES),
        labels={
            "id": ("批次", "Batch"),
            "items": ("条数", "Items"),
            "read": ("已抄到", "Read"),
            "pending": ("待下发", "Not yet sent"),
            "sent": ("进行中", "Sent, awaiting answer"),
            "failed": ("未抄到", "Failed"),
            "expired": ("超时", "Expired"),
            "not_rereadable": ("不可补抄", "Not re-readable"),
        },
    )


@router.get("/reread/batches/{batch_id}", response_model=WorkPage, responses=FILE_RESPONSES)
def reread_batch_items(
    principal: Viewer,
    conn: Db,
    out: Out,
    batch_id: int,
    outcome: Literal["read", "pending", "sent", "failed", "expired", "not_rereadable"]
    | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """One batch with a page of its items: each meter-day with its command, the command's
    status and the ``outcome`` (read: a freeze is stored; pending: its command is not yet
    sent to the concentrator; sent: sent, not answered yet; failed with the
    ``reason`` the gateway gave; expired: no answer in time; not_rereadable), the reason as
    ``reason_code`` and ``reason_text`` (its words in ``lang``, as the failed list's).
    ``format=csv|xlsx``: every item (of ``outcome``) as a file."""
    batch = q.get_batch(conn, batch_id)
    if batch is None:
        raise HTTPException(404, f"no re-read batch {batch_id}")
    counts: dict[str, int] = {}

    def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows, total, every = q.batch_items(
            conn, batch_id, outcome=outcome, limit=limit, offset=offset
        )
        counts.update(every)
        for r in rows:
            r["reason_code"], r["reason_text"] = reread_reasons.describe(r["reason"], out.lang)
        return rows, total

    return listing(
        conn,
        principal,
        out,
        Page(limit, offset),
        fetch,
        report=f"reread-batch-{batch_id}",
        what=("补抄批次结果", "Re-read batch outcomes"),
        scope={
            "batch_id": batch_id,
            "requested_by": batch["requested_by"],
            "requested_at": batch["requested_at"],
            "outcome": outcome,
        },
        columns=BATCH_COLUMNS,
        labels={
            "reason_text": ("失败原因", "Why not read"),
            "date": ("补抄日期", "Day re-read"),
        },
        extra=lambda: {"batch": batch, "outcome": counts},
    )


class ReadNowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantities: list[str] | None = Field(None, min_length=1, max_length=64)


@router.post("/meters/{meter_id}/read-now", status_code=202, response_model=ReadNowQueued)
def read_now(
    principal: Operator, meter_id: str, conn: Db, payload: ReadNowIn | None = None
) -> dict[str, Any]:
    """Read the meter now (召测): a ``read_now`` command to its concentrator. Poll
    ``GET /api/meters/{meter_id}/read-now/{command_id}`` for the values. Audited (as every
    command)."""
    known = q.meters_for_reread(conn, [meter_id])
    if meter_id not in known:
        raise HTTPException(404, f"no meter {meter_id!r}")
    gateway = known[meter_id][0]
    if gateway is None:
        raise HTTPException(409, f"meter {meter_id!r} has no concentrator to read it")
    args: dict[str, Any] = {"meter": meter_id}
    if payload is not None and payload.quantities is not None:
        args["quantities"] = payload.quantities
    try:
        with conn.transaction():
            cmd_id = queue_command(
                conn,
                gateway_id=gateway,
                name="read_now",
                args=args,
                requested_by=current_actor(principal),
            )
    except (wire.WireError, CommandRefused) as exc:
        raise HTTPException(422, f"bad read: {exc}") from None
    return body(command_id=cmd_id, gateway_id=gateway, meter_id=meter_id, status="pending")


@router.get("/meters/{meter_id}/read-now/{command_id}", response_model=ReadNowResult)
def read_now_result(_: Viewer, meter_id: str, command_id: str, conn: Db) -> dict[str, Any]:
    """The on-demand read's state (pending, sent, ok, error, expired), the ``values`` the
    gateway answered with, and the ``readings`` stored for the meter since it was asked."""
    cmd = q.read_now_command(conn, meter_id, command_id)
    if cmd is None:
        raise HTTPException(404, f"no on-demand read {command_id!r} of meter {meter_id!r}")
    result = cmd.pop("result") or {}
    values = result.get("values") if isinstance(result, dict) else None
    readings = q.readings_since(conn, meter_id, cmd["requested_at"])
    final = cmd["status"] in ("ok", "error", "expired", "partial")
    return body(**cmd, meter_id=meter_id, values=values or {}, readings=readings, final=final)
