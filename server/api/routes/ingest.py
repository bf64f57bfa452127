"""What ingestion kept aside (dead letters, quarantine, conflicts), gateways' state, and
commands to gateways."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from protocols import wire
from server.db.queries import gateways as qc
from server.db.queries import ingest_review as q
from server.gateways.commands import CommandRefused, queue_command

from ..actor import current_actor
from ..contract import Paging, one_of
from ..deps import Db, LocalToday, Operator, Viewer
from ..models import Command, CommandQueued, Page
from .export import FILE_RESPONSES, Out, listing

router = APIRouter(prefix="/api", tags=["ingestion"])


@router.get("/dead-letters", response_model=Page, responses=FILE_RESPONSES)
def dead_letters(principal: Operator, conn: Db, page: Paging, out: Out) -> Any:
    """Messages ingestion could not take (unparseable, unknown topic, too large), newest
    first: the payload as text cut at 2000 bytes, with the whole payload's size and SHA-256."""
    return listing(
        conn,
        principal,
        out,
        page,
        lambda limit, offset: q.dead_letters(conn, limit=limit, offset=offset),
        report="dead-letters",
        what=("死信", "Dead letters"),
        scope={},
    )


@router.get("/quarantine", response_model=Page, responses=FILE_RESPONSES)
def quarantine(principal: Viewer, conn: Db, page: Paging, out: Out) -> Any:
    """Readings kept aside instead of stored, per meter, gateway and reason: the meter is
    not in the archive, the gateway did not hold the meter on the reading's date (the
    archive's gateway and since when are in the reason), or the value cannot be real."""
    return listing(
        conn,
        principal,
        out,
        page,
        lambda limit, offset: q.quarantine(conn, limit=limit, offset=offset),
        report="quarantine",
        what=("隔离读数", "Quarantined readings"),
        scope={},
    )


@router.get("/conflicts", response_model=Page, responses=FILE_RESPONSES)
def conflicts(
    principal: Viewer,
    conn: Db,
    page: Paging,
    out: Out,
    meter_id: Annotated[str | None, Query(description="only this meter's")] = None,
    meter: Annotated[str | None, Query(deprecated=True, description="old name of meter_id")] = None,
) -> Any:
    """Readings that came again with a different value (the first one is kept), newest
    first. ``meter`` is a deprecated spelling of ``meter_id``."""
    meter_id = one_of("meter_id", meter_id, "meter", meter)
    return listing(
        conn,
        principal,
        out,
        page,
        lambda limit, offset: q.conflicts(conn, meter=meter_id, limit=limit, offset=offset),
        report="conflicts",
        what=("冲突读数", "Conflicting readings"),
        scope={"meter_id": meter_id},
    )


@router.get("/gateway-status", response_model=Page, responses=FILE_RESPONSES)
def gateway_status(
    principal: Viewer,
    conn: Db,
    page: Paging,
    out: Out,
    online: Annotated[bool | None, Query(description="only those on line (or off line)")] = None,
) -> Any:
    """The concentrators by id with their last reported state: on line, last seen, version
    and the status they published (buses, meters' health, outbox)."""
    return listing(
        conn,
        principal,
        out,
        page,
        lambda limit, offset: q.gateway_status(conn, online=online, limit=limit, offset=offset),
        report="gateway-status",
        what=("集中器状态", "Concentrator status"),
        scope={"online": online},
    )


class CommandIn(BaseModel):
    name: Literal[
        "read_now", "backfill", "backfill_curve", "time_sync", "rediscover", "reload_config"
    ]
    args: dict[str, Any] = Field(default_factory=dict)


@router.post("/gateways/{gateway}/commands", status_code=202)
def send_command(
    principal: Operator, gateway: str, body: CommandIn, conn: Db, today: LocalToday
) -> CommandQueued:
    """Queue a command. A backfill carries at most 10,000 meter-days, each within the
    meters' 62-day freeze history (yesterday back to 62 days ago); a backfill_curve (a
    DL/T 698.45 meter's day of 15-minute curve from its minute freeze) as many, each within
    the 10-day curve history; repeats are asked once."""
    try:
        with conn.transaction():
            if not qc.gateway_exists(conn, gateway_id=gateway):
                raise HTTPException(404, f"no gateway {gateway!r}")
            cmd_id = queue_command(
                conn,
                gateway_id=gateway,
                name=body.name,
                args=body.args,
                requested_by=current_actor(principal),
                today=today,
            )
    except (wire.WireError, CommandRefused) as exc:
        raise HTTPException(422, f"bad command: {exc}") from None
    return CommandQueued(id=cmd_id, status="pending")


CommandStatus = Literal["pending", "sent", "ok", "partial", "error", "expired"]


@router.get("/gateways/{gateway}/commands", response_model=Page, responses=FILE_RESPONSES)
def gateway_commands(
    principal: Viewer,
    gateway: str,
    conn: Db,
    page: Paging,
    out: Out,
    status: Annotated[CommandStatus | None, Query(description="only this status")] = None,
) -> Any:
    """The gateway's recent commands, newest first, with their status (``expired``: no
    answer within METERLINK_COMMAND_TTL_S; ``expired_at`` stays set when a late answer
    came); arguments and results in full at ``/api/commands/{id}``."""
    return listing(
        conn,
        principal,
        out,
        page,
        lambda limit, offset: qc.gateway_commands(
            conn, gateway_id=gateway, status=status, limit=limit, offset=offset
        ),
        report=f"commands-{gateway}",
        what=("集中器命令", "Concentrator commands"),
        scope={"gateway_id": gateway, "status": status},
    )


@router.get("/commands/{cmd_id}")
def command(_: Viewer, conn: Db, cmd_id: str) -> Command:
    """One command to a gateway with its arguments and, once answered, its result."""
    row = qc.get_command(conn, command_id=cmd_id)
    if row is None:
        raise HTTPException(404, f"no command {cmd_id!r}")
    return Command.model_validate(row)
