"""What the workbench's routes (issue 19: org, reports, failed meters, anomaly work, line
loss, concentrators) share: paging as every list pages (``limit`` 1..1000, default 50, and
``offset``; the answer ``{"items", "total", "limit", "offset"}`` plus summary keys), the
page model, and the period a report is about (a day, or a month ``YYYY-MM``)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import HTTPException, Query
from pydantic import BaseModel, ConfigDict

Limit = Annotated[int, Query(ge=1, le=1000, description="items per page (1..1000)")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="items to skip")]


class WorkPage(BaseModel):
    """One page of a list and how many items there are in all; summary keys beside."""

    model_config = ConfigDict(extra="allow")
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class WorkBody(BaseModel):
    """An answer that is one record or report (its keys are documented per route)."""

    model_config = ConfigDict(extra="allow")


def body(**keys: Any) -> WorkBody:
    return WorkBody.model_validate(keys)


def page(
    items: list[dict[str, Any]], total: int, limit: int, offset: int, **extra: Any
) -> WorkPage:
    return WorkPage(items=items, total=total, limit=limit, offset=offset, **extra)


def slice_page(rows: list[dict[str, Any]], limit: int, offset: int, **extra: Any) -> WorkPage:
    """A page cut from rows already all at hand (filtered on the server)."""
    return page(rows[offset : offset + limit], len(rows), limit, offset, **extra)


def month_range(month: str) -> tuple[date, date]:
    """``YYYY-MM`` as its first and last day; 422 naming ``month`` otherwise."""
    try:
        y, m = (int(x) for x in month.split("-"))
        if not (len(month) == 7 and 1 <= m <= 12 and 1900 <= y <= 9999):
            raise ValueError
    except ValueError:
        raise HTTPException(422, f"month: expected YYYY-MM, got {month!r}") from None
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def previous_month(start: date) -> tuple[date, date]:
    last = start - timedelta(days=1)
    return last.replace(day=1), last


def check_range(start: date, end: date, *, most_days: int) -> None:
    """422 unless ``start`` <= ``end`` and the range is at most ``most_days`` days."""
    if end < start:
        raise HTTPException(422, f"end: {end} is before start {start}")
    if (end - start).days + 1 > most_days:
        raise HTTPException(
            422, f"start/end: at most {most_days} days, got {(end - start).days + 1}"
        )
