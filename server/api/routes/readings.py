"""A meter's load curve, latest values and daily-freeze readings."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from protocols.model import QUANTITY_BY_NAME
from server.auth.deps import require_role
from server.auth.roles import Principal
from server.db.queries import archive as qa
from server.db.queries import readings as q

router = APIRouter(prefix="/api/meters", tags=["readings"])


def _meter(request: Request, meter: str) -> None:
    with request.app.state.pool.connection() as conn:
        if qa.get(conn, "meters", meter) is None:
            raise HTTPException(404, f"no meter {meter!r} in the archive")


@router.get("/{meter}/curve")
def curve(meter: str, request: Request, start: datetime, end: datetime,
          quantity: str = "energy_import_total", limit: int = Query(5000, ge=1, le=100_000),
          _: Principal = Depends(require_role("viewer"))) -> dict[str, Any]:
    if quantity not in QUANTITY_BY_NAME:
        raise HTTPException(400, f"unknown quantity {quantity!r}")
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(400, "start and end need a time zone, e.g. 2026-11-01T00:00:00+08:00")
    if end <= start:
        raise HTTPException(400, "end must be after start")
    if end - start > timedelta(days=400):
        raise HTTPException(400, "at most 400 days per request")
    _meter(request, meter)
    with request.app.state.pool.connection() as conn:
        points = q.curve(conn, meter=meter, quantity=quantity, start=start, end=end, limit=limit)
    return {"meter": meter, "quantity": quantity, "unit": QUANTITY_BY_NAME[quantity].unit,
            "points": points}


@router.get("/{meter}/latest")
def latest(meter: str, request: Request,
           _: Principal = Depends(require_role("viewer"))) -> dict[str, Any]:
    _meter(request, meter)
    with request.app.state.pool.connection() as conn:
        rows = q.latest(conn, meter=meter)
    return {"meter": meter, "values": rows}


@router.get("/{meter}/freeze")
def freeze(meter: str, request: Request, start: date, end: date,
           _: Principal = Depends(require_role("viewer"))) -> dict[str, Any]:
    if end < start or (end - start).days > 400:
        raise HTTPException(400, "end must be on or after start, at most 400 days apart")
    _meter(request, meter)
    with request.app.state.pool.connection() as conn:
        rows = q.freezes(conn, meter=meter, start=start, end=end)
    return {"meter": meter, "freezes": rows}
