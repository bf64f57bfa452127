"""What ingestion kept aside (dead letters, quarantine, conflicts), gateways' state, and
commands to gateways."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from protocols import wire
from server.db.queries import gateways as qc
from server.db.queries import ingest_review as q
from server.gateways.commands import CommandRefused, queue_command

from ..actor import current_actor
from ..deps import Db, LocalToday, Operator, Viewer
from ..models import Command, CommandQueued, Page

router = APIRouter(prefix="/api", tags=["ingestion"])


def _page(found: tuple[list[dict[str, Any]], int], limit: int, offset: int) -> Page:
    rows, total = found
    return Page(items=rows, total=total, limit=limit, offset=offset)


@router.get("/dead-letters")
def dead_letters(
    _: Operator,
    conn: Db,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> Page:
    return _page(q.dead_letters(conn, limit=limit, offset=offset), limit, offset)


@router.get("/quarantine")
def quarantine(
    _: Viewer,
    conn: Db,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> Page:
    """Readings kept aside instead of stored, per meter, gateway and reason: the meter is
    not in the archive, the gateway did not hold the meter on the reading's date (the
    archive's gateway and since when are in the reason), or the value cannot be real."""
    return _page(q.quarantine(conn, limit=limit, offset=offset), limit, offset)


@router.get("/conflicts")
def conflicts(
    _: Viewer,
    conn: Db,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    meter: str | None = None,
) -> Page:
    return _page(q.conflicts(conn, meter=meter, limit=limit, offset=offset), limit, offset)


@router.get("/gateway-status")
def gateway_status(
    _: Viewer,
    conn: Db,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    online: bool | None = None,
) -> Page:
    return _page(q.gateway_status(conn, online=online, limit=limit, offset=offset), limit, offset)


class CommandIn(BaseModel):
    name: Literal["read_now", "backfill", "time_sync", "rediscover", "reload_config"]
    args: dict[str, Any] = Field(default_factory=dict)


@router.post("/gateways/{gateway}/commands", status_code=202)
def send_command(
    principal: Operator, gateway: str, body: CommandIn, conn: Db, today: LocalToday
) -> CommandQueued:
    """Queue a command. A backfill carries at most 10,000 meter-days, each within the
    meters' 62-day freeze history (yesterday back to 62 days ago); repeats are asked once."""
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


@router.get("/gateways/{gateway}/commands")
def gateway_commands(
    _: Viewer,
    gateway: str,
    conn: Db,
    status: Literal["pending", "sent", "ok", "partial", "error", "expired"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> Page:
    """The gateway's recent commands, newest first, with their status (``expired``: no
    answer within METERLINK_COMMAND_TTL_S; ``expired_at`` stays set when a late answer
    came); arguments and results in full at ``/api/commands/{id}``."""
    found = qc.gateway_commands(conn, gateway_id=gateway, status=status, limit=limit, offset=offset)
    return _page(found, limit, offset)


@router.get("/commands/{cmd_id}")
def command(_: Viewer, conn: Db, cmd_id: str) -> Command:
    row = qc.get_command(conn, command_id=cmd_id)
    if row is None:
        raise HTTPException(404, f"no command {cmd_id!r}")
    return Command.model_validate(row)
