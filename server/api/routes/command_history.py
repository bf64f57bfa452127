"""The command history (命令记录): every command sent to the concentrators — on-demand reads
(召测), re-reads (补抄, 曲线补抄), clock syncs (校时), rediscovery, reloads — whoever asked
(a clerk, or the server's own jobs), when, and how it ended; filtered by concentrator,
meter, command, status and local days, paged on the server, exported as the other lists.
One command in full (arguments and result): ``GET /api/commands/{id}``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict

from protocols.wire import CommandName
from server.db.queries import gateways as qc

from ..contract import Paging
from ..deps import Db, SettingsDep, Viewer
from .export import FILE_RESPONSES, Out, listing

router = APIRouter(prefix="/api", tags=["gateways"])

CommandStatus = Literal["pending", "sent", "ok", "partial", "error", "expired"]
#: the export's columns, in the page's order
COLUMNS = (
    "created_at",
    "name",
    "gateway_id",
    "meter_id",
    "items",
    "requested_by",
    "status",
    "sent_at",
    "finished_at",
    "error",
    "summary",
    "id",
)


class CommandHistoryItem(BaseModel):
    """One command: what, to which concentrator (and meter, for a one-meter command), who
    asked and when, and its outcome (``summary``: the result's top-level counts)."""

    model_config = ConfigDict(extra="allow")
    id: str
    gateway_id: str
    name: str
    meter_id: str | None
    items: int
    status: CommandStatus
    requested_by: str | None
    created_at: datetime
    sent_at: datetime | None
    finished_at: datetime | None
    expired_at: datetime | None
    error: str | None
    summary: dict[str, Any] | None


class CommandHistory(BaseModel):
    items: list[CommandHistoryItem]
    total: int
    limit: int
    offset: int


def _day_start(d: date, tz: str) -> datetime:
    return datetime.combine(d, time(0), ZoneInfo(tz))


@router.get("/commands", response_model=CommandHistory, responses=FILE_RESPONSES)
def command_history(
    principal: Viewer,
    conn: Db,
    page: Paging,
    out: Out,
    settings: SettingsDep,
    gateway_id: Annotated[str | None, Query(max_length=64, description="one concentrator")] = None,
    meter_id: Annotated[
        str | None, Query(max_length=64, description="commands naming this meter")
    ] = None,
    name: Annotated[CommandName | None, Query(description="one kind of command")] = None,
    status: Annotated[CommandStatus | None, Query(description="only this status")] = None,
    start: Annotated[
        date | None, Query(description="from this local day (the utility's time zone)")
    ] = None,
    end: Annotated[date | None, Query(description="to this local day, included")] = None,
) -> Any:
    """The commands sent to the concentrators, newest first: the command (read_now 召测,
    backfill 补抄, backfill_curve 曲线补抄, time_sync 校时, rediscover, reload_config), its
    concentrator, the meter a one-meter command names, how many meter-days it carries, who
    asked (a user, or ``system:…`` for the server's jobs) and when, its status (pending: not
    yet sent to the concentrator; sent: awaiting the answer; ok, partial, error, expired)
    and outcome. ``meter_id`` also finds the re-reads that carry the meter among their
    items. ``format=csv|xlsx``: every matching command as a file."""
    if start is not None and end is not None and start > end:
        raise HTTPException(422, f"start: {start} is after end {end}")
    tz = settings.utility_timezone
    f = qc.CommandFilter(
        gateway_id=gateway_id,
        meter_id=meter_id,
        name=name.value if name is not None else None,
        status=status,
        since=_day_start(start, tz) if start is not None else None,
        until=_day_start(end + timedelta(days=1), tz) if end is not None else None,
    )
    return listing(
        conn,
        principal,
        out,
        page,
        lambda limit, offset: qc.commands(conn, f, limit=limit, offset=offset),
        report="commands",
        what=("命令记录", "Command history"),
        scope={
            "gateway_id": gateway_id,
            "meter_id": meter_id,
            "name": name.value if name is not None else None,
            "status": status,
            "start": start,
            "end": end,
        },
        columns=COLUMNS,
        labels={
            "name": ("命令", "Command"),
            "items": ("电表日数", "Meter-days"),
            "created_at": ("发起时间", "Requested at"),
            "summary": ("结果", "Outcome"),
            "id": ("命令编号", "Command ID"),
        },
    )
