"""A meter's load curve, latest values, daily-freeze readings, raw readings of a day and
events."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
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
def curve(
    meter: str,
    request: Request,
    start: datetime,
    end: datetime,
    quantity: str = "energy_import_total",
    limit: int = Query(5000, ge=1, le=100_000),
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
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
    return {
        "meter": meter,
        "quantity": quantity,
        "unit": QUANTITY_BY_NAME[quantity].unit,
        "points": points,
    }


@router.get("/{meter}/latest")
def latest(
    meter: str, request: Request, _: Principal = Depends(require_role("viewer"))
) -> dict[str, Any]:
    _meter(request, meter)
    with request.app.state.pool.connection() as conn:
        rows = q.latest(conn, meter=meter)
    return {"meter": meter, "values": rows}


@router.get("/{meter}/freeze")
def freeze(
    meter: str,
    request: Request,
    start: date,
    end: date,
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
    if end < start or (end - start).days > 400:
        raise HTTPException(400, "end must be on or after start, at most 400 days apart")
    _meter(request, meter)
    with request.app.state.pool.connection() as conn:
        rows = q.freezes(conn, meter=meter, start=start, end=end)
    return {"meter": meter, "freezes": rows}


def _local_day(
    request: Request, day: date | None, days: int = 1
) -> tuple[date, date, datetime, datetime]:
    """(first, last, start, end): the ``days`` data dates ending with ``day`` (default
    yesterday) in the utility time zone, and the instants that bound them."""
    tz = request.app.state.settings.tz
    last = day or request.app.state.clock.now().astimezone(tz).date() - timedelta(days=1)
    try:
        first = last - timedelta(days=days - 1)
        start = datetime.combine(first, time.min, tz)
        end = datetime.combine(last + timedelta(days=1), time.min, tz)
    except OverflowError:
        raise HTTPException(422, f"date {last} is out of range") from None
    return first, last, start, end


def _quantity(quantity: str | None) -> None:
    if quantity is not None and quantity not in QUANTITY_BY_NAME:
        raise HTTPException(400, f"unknown quantity {quantity!r}")


def _unit(quantity: str) -> str | None:
    q = QUANTITY_BY_NAME.get(quantity)
    return q.unit if q else None


@router.get("/{meter}/readings")
def raw_readings(
    meter: str,
    request: Request,
    day: date | None = Query(None, alias="date"),
    quantity: str | None = None,
    limit: int = Query(100, ge=1, le=5000),
    offset: int = Query(0, ge=0, le=10_000_000),
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
    """The readings of one data date (default yesterday in the utility time zone) as they
    were stored: interval, instantaneous, event and clock readings, oldest first, paged.
    ``start`` and ``end`` are the instants that bound the day."""
    _quantity(quantity)
    d, _last, start, end = _local_day(request, day)
    _meter(request, meter)
    with request.app.state.pool.connection() as conn:
        rows, total = q.raw_readings(
            conn, meter=meter, start=start, end=end, quantity=quantity, limit=limit, offset=offset
        )
    for r in rows:
        r["unit"] = _unit(r["quantity"])
    return {
        "meter": meter,
        "date": d,
        "timezone": request.app.state.settings.utility_timezone,
        "start": start,
        "end": end,
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": rows,
    }


@router.get("/{meter}/events")
def meter_events(
    meter: str,
    request: Request,
    day: date | None = Query(None, alias="date"),
    days: int = Query(1, ge=1, le=400),
    quantity: str | None = None,
    limit: int = Query(50, ge=1, le=5000),
    offset: int = Query(0, ge=0, le=10_000_000),
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
    """The meter's events (cover-open and power-down counters, clock offsets, maximum
    demand) of the ``days`` data dates ending with ``date`` (default yesterday in the
    utility time zone), newest first, paged."""
    _quantity(quantity)
    first, last, start, end = _local_day(request, day, days)
    _meter(request, meter)
    with request.app.state.pool.connection() as conn:
        rows, total = q.events(
            conn, meter=meter, start=start, end=end, quantity=quantity, limit=limit, offset=offset
        )
    for r in rows:
        r["unit"] = _unit(r["quantity"])
    return {
        "meter": meter,
        "from": first,
        "to": last,
        "timezone": request.app.state.settings.utility_timezone,
        "start": start,
        "end": end,
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": rows,
    }
