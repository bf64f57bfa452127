"""A meter's load curve, latest values, daily-freeze readings, raw readings of a day and
events."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

import psycopg
from fastapi import APIRouter, HTTPException, Query

from protocols.model import QUANTITY_BY_NAME
from server.db.queries import archive as qa
from server.db.queries import readings as q

from ..deps import Db, ReportDay, SettingsDep, Viewer
from ..models import Curve, DayReadings, Freezes, Latest, MeterEvents

router = APIRouter(prefix="/api/meters", tags=["readings"])


def _meter(conn: psycopg.Connection[Any], meter: str) -> None:
    if qa.get(conn, "meters", meter) is None:
        raise HTTPException(404, f"no meter {meter!r} in the archive")


@router.get("/{meter}/curve")
def curve(
    _: Viewer,
    conn: Db,
    meter: str,
    start: datetime,
    end: datetime,
    quantity: str = "energy_import_total",
    limit: int = Query(5000, ge=1, le=100_000),
) -> Curve:
    """The meter's readings of one quantity (default the import energy register) between
    two instants with a time zone, oldest first, at most 400 days. Each point's ``quality``
    flags and, for a value an ESAM meter returned with a MAC (flag ``unverified``), ``mac``
    and ``rn`` (upper-case hex; null otherwise): only the utility's security module can
    verify them."""
    if quantity not in QUANTITY_BY_NAME:
        raise HTTPException(400, f"unknown quantity {quantity!r}")
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(400, "start and end need a time zone, e.g. 2026-11-01T00:00:00+08:00")
    if end <= start:
        raise HTTPException(400, "end must be after start")
    if end - start > timedelta(days=400):
        raise HTTPException(400, "at most 400 days per request")
    _meter(conn, meter)
    points = q.curve(conn, meter=meter, quantity=quantity, start=start, end=end, limit=limit)
    return Curve(
        meter=meter, quantity=quantity, unit=QUANTITY_BY_NAME[quantity].unit, points=points
    )


@router.get("/{meter}/latest")
def latest(_: Viewer, conn: Db, meter: str) -> Latest:
    """The meter's newest value of every quantity it reported, with its ``quality`` flags
    and ``mac`` / ``rn`` (upper-case hex, null when the value carries no ESAM MAC)."""
    _meter(conn, meter)
    rows = q.latest(conn, meter=meter)
    return Latest(meter=meter, values=rows)


@router.get("/{meter}/freeze")
def freeze(_: Viewer, conn: Db, meter: str, start: date, end: date) -> Freezes:
    """The meter's daily-freeze readings (registers frozen at midnight) of the data dates
    from ``start`` to ``end`` (inclusive, at most 400 days), with their ``quality`` flags
    and ``mac`` / ``rn``: the MAC an ESAM meter returned and the random number the edge
    sent (upper-case hex, null when none; flag ``unverified``: never verified here)."""
    if end < start or (end - start).days > 400:
        raise HTTPException(400, "end must be on or after start, at most 400 days apart")
    _meter(conn, meter)
    rows = q.freezes(conn, meter=meter, start=start, end=end)
    return Freezes(meter=meter, freezes=rows)


def _local_days(tz: tzinfo, last: date, days: int = 1) -> tuple[date, date, datetime, datetime]:
    """(first, last, start, end): the ``days`` data dates ending with ``last`` in the
    utility time zone, and the instants that bound them."""
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
    _: Viewer,
    conn: Db,
    settings: SettingsDep,
    meter: str,
    day: ReportDay,
    quantity: str | None = None,
    limit: int = Query(100, ge=1, le=5000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> DayReadings:
    """The readings of one data date (default yesterday in the utility time zone) as they
    were stored: interval, instantaneous, event and clock readings, oldest first, paged.
    ``start`` and ``end`` are the instants that bound the day. ``mac`` / ``rn``: an ESAM
    meter's MAC and the edge's RN (upper-case hex, null when none)."""
    _quantity(quantity)
    d, _last, start, end = _local_days(settings.tz, day)
    _meter(conn, meter)
    rows, total = q.raw_readings(
        conn, meter=meter, start=start, end=end, quantity=quantity, limit=limit, offset=offset
    )
    for r in rows:
        r["unit"] = _unit(r["quantity"])
    return DayReadings(
        meter=meter,
        date=d,
        timezone=settings.utility_timezone,
        start=start,
        end=end,
        total=total,
        limit=limit,
        offset=offset,
        items=rows,
    )


@router.get("/{meter}/events")
def meter_events(
    _: Viewer,
    conn: Db,
    settings: SettingsDep,
    meter: str,
    day: ReportDay,
    days: int = Query(1, ge=1, le=400),
    quantity: str | None = None,
    limit: int = Query(50, ge=1, le=5000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> MeterEvents:
    """The meter's events (cover-open and power-down counters, clock offsets, maximum
    demand) of the ``days`` data dates ending with ``date`` (default yesterday in the
    utility time zone), newest first, paged."""
    _quantity(quantity)
    first, last, start, end = _local_days(settings.tz, day, days)
    _meter(conn, meter)
    rows, total = q.events(
        conn, meter=meter, start=start, end=end, quantity=quantity, limit=limit, offset=offset
    )
    for r in rows:
        r["unit"] = _unit(r["quantity"])
    return MeterEvents.model_validate(
        {
            "meter": meter,
            "from": first,
            "to": last,
            "timezone": settings.utility_timezone,
            "start": start,
            "end": end,
            "total": total,
            "limit": limit,
            "offset": offset,
            "items": rows,
        }
    )
