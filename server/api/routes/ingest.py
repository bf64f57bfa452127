"""What ingestion kept aside (dead letters, quarantine, conflicts), gateways' state, and
commands to gateways."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from protocols import wire
from server.auth.deps import require_role
from server.auth.roles import Principal
from server.gateways.commands import queue_command

from ..actor import current_actor

router = APIRouter(prefix="/api", tags=["ingestion"])


def _page(
    request: Request, sql: str, params: tuple[Any, ...], limit: int, offset: int
) -> dict[str, Any]:
    with request.app.state.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"{sql} LIMIT %s OFFSET %s", (*params, limit, offset)).fetchall()
        total = cur.execute(f"SELECT count(*) AS n FROM ({sql}) t", params).fetchone()
    return {"items": rows, "total": total["n"] if total else 0, "limit": limit, "offset": offset}


@router.get("/dead-letters")
def dead_letters(
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    _: Principal = Depends(require_role("operator")),
) -> dict[str, Any]:
    page = _page(
        request,
        "SELECT id, received_at, topic, gateway_id, reason, "
        "encode(substring(payload from 1 for 2000), 'escape') AS payload "
        "FROM dead_letters ORDER BY id DESC",
        (),
        limit,
        offset,
    )
    return page


@router.get("/quarantine")
def quarantine(
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
    return _page(
        request,
        "SELECT meter_id, gateway_id, count(*) AS readings, min(ts) AS "
        "first_ts, max(ts) AS last_ts FROM quarantine GROUP BY meter_id, gateway_id "
        "ORDER BY meter_id",
        (),
        limit,
        offset,
    )


@router.get("/conflicts")
def conflicts(
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    meter: str | None = None,
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
    where, params = ("WHERE meter_id = %s", (meter,)) if meter else ("", ())
    return _page(
        request, f"SELECT * FROM reading_conflicts {where} ORDER BY id DESC", params, limit, offset
    )


@router.get("/gateway-status")
def gateway_status(
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    online: bool | None = None,
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
    where, params = ("WHERE online = %s", (online,)) if online is not None else ("", ())
    return _page(
        request,
        "SELECT id, name, area_id, online, known, last_seen, status_at, "
        f"version, status FROM gateways {where} ORDER BY id",
        params,
        limit,
        offset,
    )


class CommandIn(BaseModel):
    name: Literal["read_now", "backfill", "time_sync", "rediscover", "reload_config"]
    args: dict[str, Any] = Field(default_factory=dict)


@router.post("/gateways/{gateway}/commands", status_code=202)
def send_command(
    gateway: str,
    body: CommandIn,
    request: Request,
    principal: Principal = Depends(require_role("operator")),
) -> dict[str, Any]:
    try:
        with request.app.state.pool.connection() as conn, conn.transaction():
            if conn.execute("SELECT 1 FROM gateways WHERE id = %s", (gateway,)).fetchone() is None:
                raise HTTPException(404, f"no gateway {gateway!r}")
            cmd_id = queue_command(
                conn,
                gateway_id=gateway,
                name=body.name,
                args=body.args,
                requested_by=current_actor(principal),
            )
    except wire.WireError as exc:
        raise HTTPException(422, f"bad command: {exc}") from None
    return {"id": cmd_id, "status": "pending"}


@router.get("/commands/{cmd_id}")
def command(
    cmd_id: str, request: Request, _: Principal = Depends(require_role("viewer"))
) -> dict[str, Any]:
    with request.app.state.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM gateway_commands WHERE id = %s", (cmd_id,)).fetchone()
    if row is None:
        raise HTTPException(404, f"no command {cmd_id!r}")
    return dict(row)
