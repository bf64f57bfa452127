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


#: months a side-by-side report may hold
MOST_MONTHS = 12


@router.get("/reports/collection/months", response_model=WorkPage, responses=FILE_RESPONSES)
def collection_months(
    principal: Viewer,
    conn: Db,
    out: Out,
    settings: SettingsDep,
    yesterday: Yesterday,
    end: str | None = Query(None, description="the last month, YYYY-MM (default: yesterday's)"),
    months: int = Query(6, ge=2, le=MOST_MONTHS, description="how many months, up to end"),
    by: By = "area",
    below_threshold: bool | None = Query(
        None, description="true: groups below the threshold in the last month; false: not"
    ),
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Months side by side (多月对比): for each group of ``by`` and each of the ``months``
    months up to ``end``, the month's ``due``, ``read``, ``read_first``, ``rate`` (after
    re-reading), ``rate_first`` and ``below_threshold`` under ``months`` (oldest first, as
    in ``periods``), and ``change`` (the last month's rate minus the month before's). Each
    month counts its closed days only, as the month report does: ``periods`` gives each
    one's ``start``, ``end``, ``days`` and ``complete``. ``summary`` is the whole archive's
    line. As a file (``format=csv|xlsx``) each month is two columns, first pass and after
    re-reading."""
    last_start, _ = month_range(end or yesterday.strftime("%Y-%m"))
    if last_start > yesterday:
        raise HTTPException(
            422,
            f"end: {last_start:%Y-%m} has no closed day yet (the last closed data date is "
            f"{yesterday})",
        )
    starts = [last_start]
    for _ in range(months - 1):
        starts.insert(0, previous_month(starts[0])[0])
    periods = [(s, min(month_range(s.strftime("%Y-%m"))[1], yesterday)) for s in starts]
    t = settings.success_threshold
    totals, groups = completeness.months_report(conn, periods, by, t)
    names = q.key_names(conn, by)
    keys = sorted({k for g in groups.values() for k in g}, key=lambda k: (k is None, k or ""))

    def line(key: str | None, by_month: list[dict[str, Any] | None]) -> dict[str, Any]:
        cells = [
            {"month": f"{s:%Y-%m}", **(m if m else {"due": 0, "read": 0, "read_first": 0,
                                                    "rate": None, "rate_first": None,
                                                    "below_threshold": False})}
            for (s, _), m in zip(periods, by_month, strict=True)
        ]  # fmt: skip
        return {
            "key": key,
            "name": names.get(key) if key is not None else None,
            "months": cells,
            "change": _diff(cells[-1]["rate"], cells[-2]["rate"]),
            "below_threshold": cells[-1]["below_threshold"],
        }

    rows = [line(k, [groups[s].get(k) for s, _ in periods]) for k in keys] if by != "all" else []
    if below_threshold is not None:
        rows = [r for r in rows if r["below_threshold"] is below_threshold]
    summary = line("all", [totals[s] for s, _ in periods])
    if by == "all":
        rows = [summary]
    labels = {
        f"{c}@{s:%Y-%m}": (f"{s:%Y-%m} {zh}", f"{s:%Y-%m} {en}")
        for s, _ in periods
        for c, zh, en in (("rate_first", "首抄成功率", "first pass"), ("rate", "成功率", "rate"))
    }
    # a file has a pair of rate columns a month (the JSON nests the months)
    flat = [
        {
            "key": r["key"],
            "name": r["name"],
            **{f"{c}@{m['month']}": m[c] for m in r["months"] for c in ("rate_first", "rate")},
            "change": r["change"],
        }
        for r in rows
    ]
    return listing(
        conn,
        principal,
        out,
        Page(limit, offset),
        at_hand(rows if out.format == "json" else flat),
        report="collection-months",
        what=("多月对比", "Months side by side"),
        scope={"start": periods[0][0], "end": periods[-1][1], "by": by},
        labels=labels,
        extra={
            "by": by,
            "threshold": t,
            "periods": [
                {
                    "month": f"{s:%Y-%m}",
                    "start": s,
                    "end": e,
                    "days": (e - s).days + 1,
                    "complete": e == month_range(f"{s:%Y-%m}")[1],
                }
                for s, e in periods
            ],
            "summary": summary,
        },
    )
