"""Collection reports (issue 19): the day or month report grouped by organisation unit,
area, concentrator, protocol or customer class, each group with the first-pass rate beside
the rate after re-reading, the day's curve completeness, the threshold and whether the group
is below it, and the previous period (day before, month before) beside it; the drill-down to
a group's meters; the rate per day as a trend. Groups come from
:func:`server.checks.completeness.period_report` (one pass); SQL in
:mod:`server.db.queries.reports`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query

from server.auth.roles import Principal
from server.checks import completeness
from server.db.queries import reports as q

from ..contract import Page
from ..deps import Db, ReportDay, SettingsDep, Viewer, Yesterday
from ..privacy import redact_meter
from ..workbench import Limit, Offset, WorkPage, body, month_range, previous_month
from ..workbench_models import CollectionTrend
from .export import FILE_RESPONSES, Out, at_hand, listing

router = APIRouter(prefix="/api", tags=["collection reports"])
By = Literal["all", "org", "area", "gateway", "protocol", "customer_class"]
Period = Literal["day", "month"]


def _period(
    period: Period, d: date, month: str | None, last_closed: date
) -> tuple[date, date, date, date, date]:
    """(start, end, previous start, previous end, the period's last day) of the report.

    A month counts its closed days only: from its first day to its last or to
    ``last_closed`` (yesterday, the last data date whose collection can be reported),
    whichever comes first, so the current month's rate is not dragged down by days that
    cannot have been read yet; a month with no closed day answers 422. The previous month
    is counted whole."""
    if period == "day":
        if month is not None:
            raise HTTPException(422, "month: only with period=month (use date for a day)")
        prev = d - timedelta(days=1)
        return d, d, prev, prev, d
    start, last = month_range(month) if month is not None else month_range(d.strftime("%Y-%m"))
    if start > last_closed:
        raise HTTPException(
            422,
            f"month: {start:%Y-%m} has no closed day yet (the last closed data date is "
            f"{last_closed})",
        )
    p_start, p_end = previous_month(start)
    return start, min(last, last_closed), p_start, p_end, last


def _diff(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 6)


@router.get("/reports/collection", response_model=WorkPage, responses=FILE_RESPONSES)
def collection_report(
    principal: Viewer,
    conn: Db,
    out: Out,
    settings: SettingsDep,
    d: ReportDay,
    yesterday: Yesterday,
    period: Period = "day",
    month: str | None = Query(None, description="YYYY-MM, with period=month"),
    by: By = "all",
    below_threshold: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """The groups of ``by`` with ``due``, ``read`` (after re-reading), ``read_first``
    (before), their rates, ``below_threshold``, the day's curve completeness
    (``curve_points`` of ``curve_expected``, ``curve_rate``, ``curves_complete``; null for
    a month) and ``previous`` (the same for the day or month before) with ``change`` (rate
    now minus rate then). A day counts meters, a month meter-days of its closed days only
    (up to yesterday): ``start``/``end`` are the days the figures cover, ``period_end`` the
    month's last day, ``days`` how many days are counted and ``complete`` whether that is the
    whole month. ``summary`` is the whole archive's line."""
    start, end, p_start, p_end, last = _period(period, d, month, yesterday)
    t = settings.success_threshold
    tz = settings.utility_timezone if period == "day" else None
    groups = (by,) if by == "all" else ("all", by)
    now = completeness.period_report(conn, start, end, groups, t, detail=True, curves_tz=tz)
    before = completeness.period_report(conn, p_start, p_end, groups, t, detail=True)
    names = q.key_names(conn, by)

    def line(row: dict[str, Any], prev: dict[str, Any] | None) -> dict[str, Any]:
        out = dict(row)
        for k in ("curve_points", "curve_expected", "curve_rate", "curves_complete"):
            out.setdefault(k, None)
        out["name"] = names.get(row["key"]) if row["key"] is not None else None
        out["previous"] = (
            {k: prev[k] for k in ("due", "read", "read_first", "rate", "rate_first")}
            if prev
            else None
        )
        out["change"] = _diff(row["rate"], prev["rate"] if prev else None)
        out["change_first"] = _diff(row["rate_first"], prev["rate_first"] if prev else None)
        return out

    prev_by_key = {r["key"]: r for r in before[by]}
    rows = [line(r, prev_by_key.get(r["key"])) for r in now[by]]
    if below_threshold is not None:
        rows = [r for r in rows if r["below_threshold"] is below_threshold]
    summary = line(now["all"][0], before["all"][0])
    return listing(
        conn,
        principal,
        out,
        Page(limit, offset),
        at_hand(rows),
        report="collection-report",
        what=("采集报表", "Collection report"),
        scope={"start": start, "end": end, "by": by, "below_threshold": below_threshold},
        extra={
            "period": period,
            "start": start,
            "end": end,
            "period_end": last,
            "days": (end - start).days + 1,
            "complete": end == last,
            "previous_start": p_start,
            "previous_end": p_end,
            "by": by,
            "threshold": t,
            "summary": summary,
        },
    )


@router.get("/reports/collection/meters", response_model=WorkPage, responses=FILE_RESPONSES)
def collection_meters(
    principal: Viewer,
    conn: Db,
    out: Out,
    settings: SettingsDep,
    d: ReportDay,
    yesterday: Yesterday,
    period: Period = "day",
    month: str | None = Query(None, description="YYYY-MM, with period=month"),
    by: By = "all",
    key: str | None = Query(None, description="the group (as the report's key); not for by=all"),
    read: bool | None = Query(None, description="true: read every due day; false: missed some"),
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """The meters of one group of the report (drill-down), each with its due, read and
    first-pass-read days and, for a day, its load-curve points. A month covers its closed
    days only, as the report does."""
    if by != "all" and key is None:
        raise HTTPException(422, f"key: required with by={by}")
    if by == "all" and key is not None:
        raise HTTPException(422, "key: not with by=all")
    if key is not None and not q.key_exists(conn, by, key):
        raise HTTPException(404, f"no {by} {key!r}")
    start, end, _, _, _ = _period(period, d, month, yesterday)
    tz = settings.utility_timezone if period == "day" else None
    return listing(
        conn,
        principal,
        out,
        Page(limit, offset),
        lambda limit, offset: _redacted(
            q.group_meters(
                conn,
                start,
                end,
                by=by,
                key=key,
                read=read,
                curves_tz=tz,
                limit=limit,
                offset=offset,
            ),
            principal,
        ),
        report="collection-meters",
        what=("采集明细", "Collection by meter"),
        scope={"start": start, "end": end, "by": by, "key": key, "read": read},
        extra={"period": period, "start": start, "end": end, "by": by, "key": key},
    )


def _redacted(
    found: tuple[list[dict[str, Any]], int], principal: Principal
) -> tuple[list[dict[str, Any]], int]:
    rows, total = found
    return [redact_meter(r, principal) for r in rows], total


@router.get("/reports/collection/trend", response_model=CollectionTrend)
def collection_trend(
    _: Viewer,
    conn: Db,
    settings: SettingsDep,
    yesterday: Yesterday,
    end: date | None = Query(None, description="the last day (default yesterday)"),
    days: int = Query(30, ge=1, le=92),
    by: By = "all",
    key: str | None = None,
) -> dict[str, Any]:
    """The rate per day (first pass and after re-reading) for the ``days`` days up to
    ``end``, of the archive or of one group, with the threshold to draw."""
    if by != "all" and key is None:
        raise HTTPException(422, f"key: required with by={by}")
    if key is not None and not q.key_exists(conn, by, key):
        raise HTTPException(404, f"no {by} {key!r}")
    last = end or yesterday
    first = last - timedelta(days=days - 1)
    t = settings.success_threshold
    items = q.trend(conn, first, last, by=by, key=key)
    for r in items:
        r["rate"] = round(r["read"] / r["due"], 6) if r["due"] else None
        r["rate_first"] = round(r["read_first"] / r["due"], 6) if r["due"] else None
        r["below_threshold"] = r["rate"] is not None and r["rate"] < t
    return body(start=first, end=last, by=by, key=key, threshold=t, items=items)
